"""Removing an erased person from every Delta table under storage.root, history included.

:func:`erase_rows` is the pure row filter (left-anti joins on small key frames, chosen by the
columns a table has). A table that loses rows is rewritten as a fresh Delta table and swapped in
(:func:`rewrite_table`), because DELETE + VACUUM would leave the erased values in the old commit
JSONs and checksums of ``_delta_log`` (per-file min/max statistics). The other tables are vacuumed
when their log shows removed files (:func:`scan_logs`).
"""
from __future__ import annotations

import functools
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cdp.config import CdpConfig
from cdp.constants import BRONZE, COL_RECORD_ID, COL_SOURCE, GX_DIR, KNOWN_ID_TYPES, QUARANTINE, REPORTS_DIR
from cdp.tables import hadoop_fs

log = logging.getLogger(__name__)

# columns holding an interaction id (match records and pairs use the representative interaction id)
INTERACTION_COLUMNS = ("interaction_id", "left_interaction_id", "right_interaction_id", "record_id",
                       "left_record_id", "right_record_id")
RECORD_KEY_COLUMNS = (("source", "record_id"), ("left_source", "left_record_id"),
                      ("right_source", "right_record_id"), ("source", "source_record_id"))
CUSTOMER_COLUMNS = ("customer_id", "old_id", "new_id")
IDENTIFIER_COLUMNS = (("id_type", "value"), ("id_type", "id_value"))
# identity-graph vertex ids ("i|<interaction_id>", "v|<id_type>:<value>"), e.g. in steward overrides
VERTEX_COLUMNS = ("left", "right", "src", "dst")
# free text that may quote an identifier: a row containing an erased value is deleted
FREE_TEXT_COLUMNS = ("_raw", "left_ref", "right_ref")
# free text in run summaries: erased values are replaced, the row is kept
SCRUB_COLUMNS = ("observed", "details", "summary")
ERASED = "[erased]"
# never copied to the rewritten table: Delta derives it from the new schema
DERIVED_PROPERTIES = ("delta.columnMapping.maxColumnId",)
RETENTION_CHECK_CONF = "spark.databricks.delta.retentionDurationCheck.enabled"


@dataclass(frozen=True)
class ErasureKeys:
    """Small key frames naming the erased person; None where there is nothing of that kind."""
    interactions: DataFrame | None  # interaction_id
    records: DataFrame | None  # source, record_id
    customers: DataFrame | None  # customer_id
    identifiers: DataFrame | None  # id_type, value (valid values the person alone holds)
    needles: DataFrame | None  # needle: lower-cased identifier strings (>= 5 chars) to find in free text
    scrub: tuple[str, ...] = ()  # strings replaced by ERASED in free-text summaries


def _string_col(df: DataFrame, name: str) -> bool:
    return any(f.name == name and isinstance(f.dataType, (T.StringType, T.NumericType)) for f in df.schema.fields)


def _anti(df: DataFrame, exprs: list[Column], keys: DataFrame) -> DataFrame:
    """Rows of ``df`` whose ``exprs`` (as strings) equal no row of ``keys`` (same arity)."""
    names = [f"_erase_k{i}" for i in range(len(exprs))]
    k = F.broadcast(keys.toDF(*names))
    cond = functools.reduce(lambda a, b: a & b, [e.cast("string") == F.col(n) for e, n in zip(exprs, names)])
    return df.join(k, cond, "left_anti")


def _anti_contains(df: DataFrame, column: str, needles: DataFrame) -> DataFrame:
    n = F.broadcast(needles.toDF("_erase_needle"))
    return df.join(n, F.instr(F.lower(F.col(f"`{column}`")), F.col("_erase_needle")) > 0, "left_anti")


def _vertex_keys(keys: ErasureKeys) -> DataFrame | None:
    parts = []
    if keys.interactions is not None:
        parts.append(keys.interactions.toDF("k"))
    if keys.identifiers is not None:
        parts.append(keys.identifiers.select(F.concat("id_type", F.lit(":"), "value").alias("k")))
    return functools.reduce(DataFrame.unionByName, parts) if parts else None


def erase_rows(df: DataFrame, keys: ErasureKeys, layer: str) -> DataFrame:
    """``df`` without the rows that name the erased person, judged by the columns it has.

    Bronze rows match on (_source, _record_id) and quarantine rows on their raw text only (their
    other columns are the source's own); every other table on interaction ids, (source, record id)
    pairs, customer ids, (id_type, value) pairs, identifier-typed columns and graph vertex ids."""
    cols = set(df.columns)
    if layer == BRONZE:
        if keys.records is not None and {COL_SOURCE, COL_RECORD_ID} <= cols:
            df = _anti(df, [F.col(COL_SOURCE), F.col(COL_RECORD_ID)], keys.records)
        return df
    for c in FREE_TEXT_COLUMNS:
        if c in cols and keys.needles is not None and _string_col(df, c):
            df = _anti_contains(df, c, keys.needles)
    if layer == QUARANTINE:
        return df
    # (column names that together hold a key, the erased keys) per kind of key
    key_columns = (([(c,) for c in INTERACTION_COLUMNS], keys.interactions), (RECORD_KEY_COLUMNS, keys.records),
                   ([(c,) for c in CUSTOMER_COLUMNS], keys.customers), (IDENTIFIER_COLUMNS, keys.identifiers))
    for column_sets, erased in key_columns:
        if erased is None:
            continue
        for names in column_sets:
            if set(names) <= cols and all(_string_col(df, n) for n in names):
                df = _anti(df, [F.col(n) for n in names], erased)
    if keys.identifiers is not None:
        for id_type in KNOWN_ID_TYPES:
            if id_type != "customer_id" and id_type in cols and _string_col(df, id_type):  # e.g. match records
                df = _anti(df, [F.col(id_type)], keys.identifiers.where(F.col("id_type") == id_type).select("value"))
    vertices = _vertex_keys(keys)
    for c in VERTEX_COLUMNS:
        if c in cols and vertices is not None and _string_col(df, c):
            df = _anti(df, [F.regexp_replace(F.col(c), r"^[a-z]\|", "")], vertices)
    return df


def scrub_pattern(needles: tuple[str, ...]) -> str | None:
    """A case-insensitive regex (Java and Python alike) matching any needle as a whole token."""
    usable = sorted({n for n in needles if n and "\\E" not in n}, key=len, reverse=True)
    if not usable:
        return None
    alternation = "|".join(r"\Q" + n + r"\E" for n in usable)
    return r"(?i)(?<![A-Za-z0-9_])(?:" + alternation + r")(?![A-Za-z0-9_])"


def scrub_columns(df: DataFrame, keys: ErasureKeys) -> tuple[DataFrame, Column | None]:
    """``df`` with erased strings replaced in its free-text summary columns, and the condition
    that a row held one (None when the table has no such column)."""
    pattern = scrub_pattern(keys.scrub)
    targets = [c for c in SCRUB_COLUMNS if c in df.columns and _string_col(df, c)]
    if pattern is None or not targets:
        return df, None
    hit = functools.reduce(lambda a, b: a | b, [F.coalesce(F.col(c).rlike(pattern), F.lit(False)) for c in targets])
    return df.withColumns({c: F.regexp_replace(F.col(c), pattern, ERASED) for c in targets}), hit


# --- tables on disk --------------------------------------------------------------------------

def delta_tables(spark: SparkSession, root: str) -> list[str]:
    """Tables (paths relative to ``root``) with a _delta_log one or two levels below it."""
    fs, base = hadoop_fs(spark, root.rstrip("/"))
    prefix = str(fs.makeQualified(base).toString()).rstrip("/") + "/"
    found = set()
    for depth in ("*", "*/*"):
        _, pattern = hadoop_fs(spark, f"{root.rstrip('/')}/{depth}/_delta_log")
        for status in fs.globStatus(pattern) or []:
            table = str(fs.makeQualified(status.getPath().getParent()).toString())
            if table.startswith(prefix):
                found.add(table[len(prefix):])
    return sorted(found)


@dataclass(frozen=True)
class LogScan:
    """What the _delta_log of each table shows (tables by their path relative to storage.root)."""
    mentions: frozenset[str]  # a needle appears in the log (file statistics of the person's rows)
    removed_files: frozenset[str]  # some commit removed files (older versions' files may be on disk)


def scan_logs(spark: SparkSession, table_paths: dict[str, str], needles: list[str]) -> LogScan:
    """One pass over the commit JSONs and checksums (and checkpoints) of the given tables: which
    contain a needle (case-insensitive) and which removed files in some commit."""
    text, checkpoints = [], {}
    for rel, path in table_paths.items():
        fs, hpath = hadoop_fs(spark, f"{path}/_delta_log")
        for s in fs.listStatus(hpath) if fs.exists(hpath) else []:
            name = s.getPath().getName()
            if not s.isFile() or name.startswith("."):
                continue
            (checkpoints.setdefault(rel, []) if name.endswith(".parquet") else text).append(str(s.getPath()))
    needle_df = F.broadcast(spark.createDataFrame([(n.lower(),) for n in needles], "needle string"))
    mentions, removed = set(), set(checkpoints)  # a checkpoint may hold remove tombstones: vacuum
    if text:
        lines = spark.read.text(text).select(F.lower("value").alias("v"), F.col("_metadata.file_path").alias("f"))
        found = lines.where(F.col("v").startswith('{"remove"')).select("f", F.lit("r").alias("k"))
        if needles:
            found = found.unionByName(lines.join(needle_df, F.instr("v", "needle") > 0, "left_semi")
                                      .select("f", F.lit("m").alias("k")))
        for r in found.distinct().collect():  # at most two rows per log file
            rels = [rel for rel in table_paths if f"/{rel}/_delta_log/" in r["f"]]
            (mentions if r["k"] == "m" else removed).update(rels)
    for rel, files in checkpoints.items() if needles else ():
        cp = spark.read.parquet(*files)
        blob = F.lower(F.to_json(F.struct(*[F.col(f"`{c}`") for c in cp.columns])))
        if cp.select(blob.alias("v")).join(needle_df, F.instr("v", "needle") > 0, "left_semi").head(1):
            mentions.add(rel)
    return LogScan(frozenset(mentions), frozenset(removed))


def rewrite_table(spark: SparkSession, path: str, df: DataFrame, new: str, old: str) -> None:
    """Replace the Delta table at ``path`` by a fresh one holding ``df`` (no history), keeping its
    table properties (e.g. column mapping) and partitioning: written to ``new``, then swapped in
    (the replaced table goes to ``old`` and is deleted)."""
    detail = DeltaTable.forPath(spark, path).detail().first()
    props = {k: v for k, v in (detail["properties"] or {}).items() if k not in DERIVED_PROPERTIES}
    writer = df.write.format("delta").mode("errorifexists").options(**props)
    if detail["partitionColumns"]:
        writer = writer.partitionBy(*detail["partitionColumns"])
    writer.save(new)
    fs, target = hadoop_fs(spark, path)
    _, new_p = hadoop_fs(spark, new)
    _, old_p = hadoop_fs(spark, old)
    fs.mkdirs(old_p.getParent())
    if not fs.rename(target, old_p):
        raise OSError(f"could not move {path} aside to {old}; the table is unchanged")
    if not fs.rename(new_p, target):
        fs.rename(old_p, target)
        raise OSError(f"could not move the rewritten table {new} to {path}; the original was put back")
    fs.delete(old_p, True)
    # the DeltaLog cache still holds the replaced table's snapshot
    spark.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # noqa: SLF001
    log.info("rewrote %s without its history", path)


def vacuum(spark: SparkSession, path: str, retention_hours: int) -> None:
    """VACUUM with the given retention (the 7-day safety check is lifted only around the call)."""
    previous = spark.conf.get(RETENTION_CHECK_CONF, None)
    spark.conf.set(RETENTION_CHECK_CONF, "false")
    try:
        DeltaTable.forPath(spark, path).vacuum(float(retention_hours))
    finally:
        if previous is None:
            spark.conf.unset(RETENTION_CHECK_CONF)
        else:
            spark.conf.set(RETENTION_CHECK_CONF, previous)


# --- files that are not Delta tables ---------------------------------------------------------

def gx_dir(conf: CdpConfig) -> Path | None:
    """The Great Expectations project folder (local), as cdp.quality.gates places it."""
    if conf.quality.gx_dir:
        return Path(conf.resolve_path(conf.quality.gx_dir))
    return None if "://" in conf.root else Path(conf.root) / GX_DIR


def purge_files(conf: CdpConfig, scrub: tuple[str, ...]) -> dict[str, int]:
    """Delete GX validation results and Data Docs (they quote unexpected values) and replace erased
    strings in the JSON/text reports under <root>/reports. Local folders only."""
    out = {"gx_folders_deleted": 0, "reports_scrubbed": 0}
    gx = gx_dir(conf)
    for sub in ("uncommitted/validations", "uncommitted/data_docs"):
        if gx is not None and (gx / sub).exists():
            shutil.rmtree(gx / sub)
            out["gx_folders_deleted"] += 1
    needles = sorted({n for n in scrub if n}, key=len, reverse=True)
    reports = Path(conf.root) / REPORTS_DIR
    if not needles or "://" in conf.root or not reports.exists():
        return out
    # the same whole-token match as scrub_pattern, whose \Q...\E quoting only Java reads
    pattern = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(re.escape(n) for n in needles) + r")(?![A-Za-z0-9_])",
                         re.IGNORECASE)
    for f in sorted(reports.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".txt", ".md", ".html", ".csv"):
            text = f.read_text(encoding="utf-8", errors="replace")
            new = pattern.sub(ERASED, text)
            if new != text:
                f.write_text(new, encoding="utf-8")
                out["reports_scrubbed"] += 1
    return out
