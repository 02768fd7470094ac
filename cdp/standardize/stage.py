"""The standardize stage: bronze/<source> -> silver/interactions and silver/identifiers."""
from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from cdp.config import CdpConfig
from cdp.constants import SILVER_IDENTIFIERS, SILVER_INTERACTIONS, bronze_table
from cdp.standardize.standardize import standardize_all
from cdp.tables import overwrite_table, read_table

log = logging.getLogger(__name__)


def run_standardize(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, int]:
    """Rebuild silver from every source's bronze table (one atomic overwrite per table)."""
    bronze = {s.name: read_table(spark, conf, bronze_table(s.name)) for s in conf.sources}
    interactions, identifiers = standardize_all(bronze, conf.sources, conf.standardize)
    overwrite_table(interactions, conf, SILVER_INTERACTIONS)
    overwrite_table(identifiers, conf, SILVER_IDENTIFIERS)
    log.info("standardize: silver rebuilt from %d sources", len(bronze))
    return {"sources": len(bronze)}
