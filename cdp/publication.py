"""Publications: which gold versions a completed run published, and what the run's input was.

Delta commits one table at a time, so a run killed while writing gold leaves some gold tables
new and some old. Every completed profile stage therefore appends one row to meta/publications
with the Delta version of each gold table it wrote and a fingerprint of its input. The next run
reads its previous state (ids, history) at those versions, never the half-written latest ones,
so a rerun after a crash computes exactly what an uninterrupted run would have, and a rerun with
nothing new is recognised by its fingerprint and skipped.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig
from cdp.constants import (
    GOLD_RUN_METRICS, META_ERASURE_AUDIT, META_PUBLICATIONS, META_RUNS, META_STEWARD_OVERRIDES,
)
from cdp.landing.ledger import ledger_fingerprint

log = logging.getLogger(__name__)

PUBLICATIONS_SCHEMA = "run_id string, published_at timestamp, input_fingerprint string, versions map<string,bigint>"
RUNS_SCHEMA = "run_id string, event string, at timestamp"
RUN_STARTED = "started"
RUN_PUBLISHED = "published"
RUN_UNCHANGED = "unchanged"  # nothing new since the last publication: the run stopped after land
RUN_CONFIG_ERROR = "config_error"  # stopped by a config or input error: fixed, it is a new run, not resumed


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: datetime
    input_fingerprint: str
    versions: dict[str, int]


def table_version(spark: SparkSession, conf: CdpConfig, table: str) -> int | None:
    path = conf.table_path(table)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).first()["version"])


def latest_publication(spark: SparkSession, conf: CdpConfig) -> Publication | None:
    path = conf.table_path(META_PUBLICATIONS)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    row = spark.read.format("delta").load(path).orderBy(F.col("published_at").desc(), F.col("run_id").desc()).first()
    if row is None:
        return None
    return Publication(row["run_id"], row["published_at"], row["input_fingerprint"], dict(row["versions"] or {}))


def read_published(spark: SparkSession, conf: CdpConfig, table: str) -> DataFrame | None:
    """A gold table as the last completed publication left it (None before the first one).

    A warehouse written before publications were recorded has gold/run_metrics but no
    meta/publications: its current gold tables are taken as published."""
    pub = latest_publication(spark, conf)
    path = conf.table_path(table)
    if pub is None:
        legacy = (DeltaTable.isDeltaTable(spark, conf.table_path(GOLD_RUN_METRICS))
                  and DeltaTable.isDeltaTable(spark, path))
        return spark.read.format("delta").load(path) if legacy else None
    if table not in pub.versions:
        return None
    return spark.read.format("delta").option("versionAsOf", pub.versions[table]).load(path)


def read_as_published_by(spark: SparkSession, conf: CdpConfig, table: str, run_id: str) -> DataFrame:
    """A gold table exactly as run ``run_id`` published it (Delta time travel)."""
    path = conf.table_path(META_PUBLICATIONS)
    # the latest row of the run: `cdp forget` re-publishes a run's gold at rewritten versions
    rows = (spark.read.format("delta").load(path).where(F.col("run_id") == run_id)
            .orderBy(F.col("published_at").desc()).head(1)
            if DeltaTable.isDeltaTable(spark, path) else [])
    if not rows or table not in (rows[0]["versions"] or {}):
        raise FileNotFoundError(f"run {run_id} published no version of {table} (see {path})")
    erasure = _rewritten_after(spark, conf, table, rows[0]["published_at"])
    if erasure is not None:  # its version numbers restarted: the old version is gone
        raise FileNotFoundError(f"{table} as run {run_id} published it is gone: `cdp forget` {erasure} rewrote "
                                f"the table without its history afterwards")
    return spark.read.format("delta").option("versionAsOf", rows[0]["versions"][table]).load(conf.table_path(table))


def _rewritten_after(spark: SparkSession, conf: CdpConfig, table: str, since: datetime) -> str | None:
    """The audit id of an erasure that rewrote ``table`` after ``since`` (meta/erasure_audit), if any."""
    path = conf.table_path(META_ERASURE_AUDIT)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    rows = (spark.read.format("delta").load(path)
            .where((F.col("completed_at") > F.lit(since)) & F.array_contains("tables_rewritten", table))
            .select("audit_id").head(1))
    return rows[0]["audit_id"] if rows else None


def record_publication(spark: SparkSession, conf: CdpConfig, run_id: str, tables: list[str],
                       fingerprint: str) -> Publication:
    """Append the publication row (after every gold table of the run is written)."""
    versions = {t: v for t in tables if (v := table_version(spark, conf, t)) is not None}
    pub = Publication(run_id, datetime.now(timezone.utc), fingerprint, versions)
    df = spark.createDataFrame([(pub.run_id, pub.published_at, pub.input_fingerprint, pub.versions)],
                               PUBLICATIONS_SCHEMA)
    df.write.format("delta").mode("append").save(conf.table_path(META_PUBLICATIONS))
    record_run_event(spark, conf, run_id, RUN_PUBLISHED)
    log.info("published run %s: %s", run_id, versions)
    return pub


def record_run_event(spark: SparkSession, conf: CdpConfig, run_id: str, event: str) -> None:
    df = spark.createDataFrame([(run_id, event, datetime.now(timezone.utc))], RUNS_SCHEMA)
    df.write.format("delta").mode("append").save(conf.table_path(META_RUNS))


def interrupted_run_id(spark: SparkSession, conf: CdpConfig) -> str | None:
    """The run id of the latest run that started and never published (killed, or stopped by a
    check), so that a plain rerun resumes it; None when the latest run published, found nothing
    new or stopped on a config error (the user changes the config: a new run)."""
    path = conf.table_path(META_RUNS)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    runs = spark.read.format("delta").load(path)
    last = runs.where(F.col("event") == RUN_STARTED).orderBy(F.col("at").desc()).first()
    if last is None:
        return None
    done = runs.where((F.col("run_id") == last["run_id"])
                      & F.col("event").isin(RUN_PUBLISHED, RUN_UNCHANGED, RUN_CONFIG_ERROR)).head(1)
    return None if done else last["run_id"]


def config_digest(conf: CdpConfig) -> str:
    """What in the config changes results (spark settings and paths of the config file do not)."""
    data = conf.model_dump(mode="json", exclude={"spark", "base_dir"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _delta_source_versions(spark: SparkSession, conf: CdpConfig) -> dict[str, int | None]:
    out = {}
    for s in conf.sources:
        if s.format == "delta":
            path = conf.resolve_path(s.path)
            out[s.name] = (int(DeltaTable.forPath(spark, path).history(1).first()["version"])
                           if DeltaTable.isDeltaTable(spark, path) else None)
    return out


def _model_version(conf: CdpConfig) -> str | None:
    if not conf.matching.enabled:
        return None
    from cdp.matching.registry import describe_model  # MLflow only when matching is on

    info, _reason = describe_model(conf)
    return f"{info['name']}/{info['version']}" if info else None


def input_fingerprint(spark: SparkSession, conf: CdpConfig) -> str:
    """Digest of everything a run's output depends on: landed files, config, the match model."""
    parts = {"ledger": ledger_fingerprint(spark, conf), "config": config_digest(conf),
             "delta_sources": _delta_source_versions(spark, conf), "model": _model_version(conf),
             # a steward's `cdp unmerge` / `cdp link` changes the next run's result
             "overrides": table_version(spark, conf, META_STEWARD_OVERRIDES)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
