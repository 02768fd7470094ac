"""Resolve's fuzzy step: score candidate pairs with the registered model and merge the
deterministic components they join. Called by :func:`cdp.identity.resolve.run_resolve`."""
from __future__ import annotations

import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig
from cdp.constants import SILVER_MATCH_PAIRS, SILVER_MATCH_RECORDS
from cdp.identity.components import connected_components_with_stats
from cdp.matching.blocking import candidate_pairs
from cdp.matching.features import pair_features
from cdp.matching.model import scores
from cdp.matching.names import load_name_variants
from cdp.matching.records import anchored_components, interaction_attributes, match_records
from cdp.matching.registry import load_match_model
from cdp.matching.score import empty_match_pairs, fuzzy_edges, match_pairs, relabel_components
from cdp.tables import overwrite_table, read_table

log = logging.getLogger(__name__)


def name_variants(conf: CdpConfig) -> dict[str, str]:
    path = conf.matching.name_variants
    return load_name_variants(conf.resolve_path(path) if path else None)


def build_records(conf: CdpConfig, interactions: DataFrame, links: DataFrame,
                  components: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(records, members)`` for matching (see :mod:`cdp.matching.records`)."""
    per = interaction_attributes(interactions, links, components)
    return match_records(per, name_variants(conf), anchored_components(links, components))


def rule_stats_rows(rule_stats: DataFrame) -> list[dict[str, Any]]:
    """One small dict per blocking rule (a handful of rows)."""
    return [r.asDict() for r in rule_stats.orderBy("rule_index").drop("rule_index").collect()]


def fuzzy_link(spark: SparkSession, conf: CdpConfig, run_id: str, interactions: DataFrame, links: DataFrame,
               components: DataFrame, checkpoint_dir: str) -> tuple[DataFrame, dict[str, Any]]:
    """``(components, summary)``: ``components`` (id, component) with fuzzy matches merged in.

    Writes every scored pair to silver/match_pairs (empty when matching is off). With matching
    disabled or no registered model the deterministic components come back unchanged and the
    summary says why."""
    m = conf.matching
    model, reason = (None, "matching.enabled is false") if not m.enabled else load_match_model(conf)
    if model is None:
        log.warning("fuzzy matching off: %s (deterministic links only)", reason)
        overwrite_table(empty_match_pairs(spark), conf, SILVER_MATCH_PAIRS)
        return components, {"status": "off", "reason": reason}

    records, _members = build_records(conf, interactions, links, components)
    # written and read back: later steps reuse records many times, and a short plan keeps them cheap
    overwrite_table(records, conf, SILVER_MATCH_RECORDS)
    records = read_table(spark, conf, SILVER_MATCH_RECORDS).persist(StorageLevel.MEMORY_AND_DISK)
    n_records = records.count()
    log.info("fuzzy matching: %d match records; blocking with %d rule(s)", n_records, len(m.blocking_rules))
    pairs, rule_stats = candidate_pairs(records, m.blocking_rules, m.max_block_size, exclude_same_component=True)
    features = pair_features(pairs, records)
    scored = match_pairs(features, scores(model.model, features), model.threshold, model.name, model.version, run_id)
    overwrite_table(scored, conf, SILVER_MATCH_PAIRS)
    scored = read_table(spark, conf, SILVER_MATCH_PAIRS)
    counts = scored.agg(F.count(F.lit(1)).alias("pairs"),
                        F.sum(F.when(F.col("decision") == "match", 1).otherwise(0)).alias("matched")).first()
    rules = rule_stats_rows(rule_stats)
    records.unpersist()
    log.info("fuzzy matching: %d candidate pairs scored, %d at or above threshold %r",
             counts["pairs"], counts["matched"] or 0, model.threshold)

    edges = fuzzy_edges(scored)
    vertices = edges.select(F.col("src").alias("id")).unionByName(edges.select(F.col("dst").alias("id"))).distinct()
    merged = connected_components_with_stats(
        spark, vertices, edges, conf.resolve.engine, checkpoint_dir, conf.resolve.algorithm,
        conf.resolve.checkpoint_interval, conf.resolve.max_iterations).components
    merged = merged.persist(StorageLevel.MEMORY_AND_DISK)
    joined = merged.agg(F.count(F.lit(1)).alias("v"), F.countDistinct("component").alias("c")).first()
    out = relabel_components(components, merged)
    summary = {
        "status": "on",
        "model": model.name, "model_version": model.version, "model_type": model.model_type,
        "threshold": model.threshold,
        "match_records": n_records,
        "candidate_pairs": int(counts["pairs"]),
        "matched_pairs": int(counts["matched"] or 0),
        "components_joined": int(joined["v"] - joined["c"]),
        "rules": rules,
    }
    return out, summary
