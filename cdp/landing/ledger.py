"""The file ledger (meta/file_ledger): one row per file a run has seen, so a rerun lands only new files.

A file is new when its (path, size, modification time) is not in the ledger. A new file whose
content hash equals a file already landed for the same source (an export delivered twice, or
touched) is recorded as ``duplicate`` and lands nothing. Ledger rows are appended only after the
source's bronze commit, so a run killed in between simply lands the file again (the bronze merge
is idempotent).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig
from cdp.constants import META_FILE_LEDGER
from cdp.tables import hadoop_fs

log = logging.getLogger(__name__)

LEDGER_SCHEMA = ("source string, path string, size long, modified_at timestamp, content_hash string, "
                 "status string, rows long, duplicate_of string, run_id string, recorded_at timestamp")
STATUS_LANDED = "landed"
STATUS_DUPLICATE = "duplicate"
STATUS_EMPTY = "empty"  # a 0-byte file: recorded, nothing to read
# binaryFile reads a whole file into one value; above this size the hash is of size and time only
MAX_HASHED_BYTES = 1 << 30


@dataclass(frozen=True)
class FilePlan:
    """What landing does with one source's files this run."""
    to_land: list[str]  # paths to read
    new_files: DataFrame  # path, size, modified_at, content_hash of every new file
    duplicates: int  # new files whose content was landed before
    unchanged: int  # files already in the ledger


def listed_files(spark: SparkSession, paths: list[str]) -> DataFrame:
    """path, size, modified_at of the given files (no content is read)."""
    return (spark.read.format("binaryFile").load(paths)
            .select("path", F.col("length").alias("size"), F.col("modificationTime").alias("modified_at")))


def empty_files(spark: SparkSession, paths: list[str]) -> list[tuple[str, int]]:
    """(uri, modification ms) of the 0-byte files among ``paths`` (binaryFile does not list them)."""
    out = []
    for p in paths:
        fs, hpath = hadoop_fs(spark, p)
        status = fs.getFileStatus(hpath)
        if status.isFile() and status.getLen() == 0:
            out.append((str(fs.makeQualified(hpath).toUri().toString()).replace("file:///", "file:/", 1),
                        int(status.getModificationTime())))
    return out


def with_content_hash(spark: SparkSession, files: DataFrame) -> DataFrame:
    """Adds content_hash (sha-256 of the bytes; of size and time for files over MAX_HASHED_BYTES)."""
    paths = [r["path"] for r in files.select("path").collect()]  # new files only: a small list
    if not paths:
        return files.withColumn("content_hash", F.lit(None).cast("string"))
    small = files.where(F.col("size") <= MAX_HASHED_BYTES)
    small_paths = [r["path"] for r in small.select("path").collect()]
    hashed = (spark.read.format("binaryFile").load(small_paths).select("path", F.sha2("content", 256).alias("h"))
              if small_paths else spark.createDataFrame([], "path string, h string"))
    fallback = F.concat(F.lit("size-mtime:"), F.col("size").cast("string"), F.lit(":"),
                        F.col("modified_at").cast("string"))
    return (files.join(hashed, "path", "left")
            .select("path", "size", "modified_at", F.coalesce("h", fallback).alias("content_hash")))


def read_ledger(spark: SparkSession, conf: CdpConfig, source: str) -> DataFrame:
    path = conf.table_path(META_FILE_LEDGER)
    if not DeltaTable.isDeltaTable(spark, path):
        return spark.createDataFrame([], LEDGER_SCHEMA)
    return spark.read.format("delta").load(path).where(F.col("source") == source)


def plan_files(spark: SparkSession, conf: CdpConfig, source: str, paths: list[str]) -> FilePlan:
    """Split a source's matching files into new ones to land, duplicates and unchanged ones."""
    listing = listed_files(spark, paths)
    empties = spark.createDataFrame(empty_files(spark, paths), "path string, ms long").select(
        "path", F.lit(0).cast("long").alias("size"), F.timestamp_millis("ms").alias("modified_at"))
    listing = listing.unionByName(empties)
    ledger = read_ledger(spark, conf, source)
    new = listing.join(ledger.select("path", "size", "modified_at"), ["path", "size", "modified_at"], "left_anti")
    new = with_content_hash(spark, new).persist()
    landed_hashes = ledger.where(F.col("status") == STATUS_LANDED).select("content_hash", F.col("path").alias("of"))
    # within this batch, identical files land once: the first path in order
    first_of_hash = new.groupBy("content_hash").agg(F.min("path").alias("first_path"))
    marked = (new.join(first_of_hash, "content_hash")
              .join(landed_hashes.groupBy("content_hash").agg(F.min("of").alias("landed_as")), "content_hash", "left")
              .withColumn("duplicate_of", F.when(F.col("size") > 0, F.coalesce(
                  "landed_as", F.when(F.col("path") != F.col("first_path"), F.col("first_path")))))
              .select("path", "size", "modified_at", "content_hash", "duplicate_of"))
    rows = marked.collect()  # one row per new file
    to_land = sorted(r["path"] for r in rows if r["duplicate_of"] is None)
    duplicates = sum(1 for r in rows if r["duplicate_of"] is not None)
    unchanged = listing.count() - len(rows)
    plan_df = spark.createDataFrame([r.asDict() for r in rows],
                                    "path string, size long, modified_at timestamp, content_hash string, "
                                    "duplicate_of string")
    new.unpersist()
    log.info("land %s: %d file(s) matched, %d new, %d already landed, %d duplicate(s) of landed content",
             source, len(paths), len(to_land), unchanged, duplicates)
    return FilePlan(to_land=to_land, new_files=plan_df, duplicates=duplicates, unchanged=unchanged)


def record_files(spark: SparkSession, conf: CdpConfig, source: str, plan: FilePlan, rows_per_file: dict[str, int],
                 run_id: str) -> None:
    """Append the plan's new files to the ledger (after the source's bronze commit)."""
    if not plan.new_files.head(1):
        return
    counts = spark.createDataFrame([(p, n) for p, n in rows_per_file.items()], "path string, rows long")
    rows = (plan.new_files.join(counts, "path", "left").select(
        F.lit(source).alias("source"), "path", "size", "modified_at", "content_hash",
        F.when(F.col("size") == 0, F.lit(STATUS_EMPTY))
        .when(F.col("duplicate_of").isNull(), F.lit(STATUS_LANDED)).otherwise(F.lit(STATUS_DUPLICATE))
        .alias("status"),
        F.coalesce("rows", F.lit(0)).cast("long").alias("rows"), "duplicate_of",
        F.lit(run_id).alias("run_id"), F.current_timestamp().alias("recorded_at")))
    rows.write.format("delta").mode("append").save(conf.table_path(META_FILE_LEDGER))


def ledger_fingerprint(spark: SparkSession, conf: CdpConfig) -> str:
    """An order-independent digest of every landed file (count and sum of row hashes). Duplicate
    and empty files are left out: they add no rows, so a delivery of only those changes nothing."""
    path = conf.table_path(META_FILE_LEDGER)
    if not DeltaTable.isDeltaTable(spark, path):
        return "empty"
    row = (spark.read.format("delta").load(path).where(F.col("status") == STATUS_LANDED)
           .select(F.xxhash64("source", "path", "content_hash", "status").cast("decimal(38,0)").alias("h"))
           .agg(F.count(F.lit(1)).alias("n"), F.sum("h").alias("s")).first())
    return f"{row['n']}:{row['s']}"
