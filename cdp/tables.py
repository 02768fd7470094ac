"""Delta table I/O at the edges of each stage. Tables are addressed by path under storage.root."""
from __future__ import annotations

import logging

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from cdp.config import CdpConfig

log = logging.getLogger(__name__)


def table_exists(spark: SparkSession, conf: CdpConfig, table: str) -> bool:
    return DeltaTable.isDeltaTable(spark, conf.table_path(table))


def read_table(spark: SparkSession, conf: CdpConfig, table: str) -> DataFrame:
    """Read a Delta table under storage.root, with an error naming it when it is missing."""
    path = conf.table_path(table)
    if not DeltaTable.isDeltaTable(spark, path):
        raise FileNotFoundError(f"table {table} does not exist at {path}: run the earlier stages first")
    return spark.read.format("delta").load(path)


def read_table_or_none(spark: SparkSession, conf: CdpConfig, table: str) -> DataFrame | None:
    return read_table(spark, conf, table) if table_exists(spark, conf, table) else None


def overwrite_table(df: DataFrame, conf: CdpConfig, table: str) -> None:
    """Replace a table's content in one atomic Delta commit (readers see old or new, never half)."""
    path = conf.table_path(table)
    (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path))
    log.info("wrote %s", table)


def append_table(df: DataFrame, conf: CdpConfig, table: str) -> None:
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(conf.table_path(table))
    log.info("appended to %s", table)


# Delta column mapping lets bronze keep source column names such as "Cust Mobile" or "a,b".
COLUMN_MAPPING_OPTIONS = {"delta.columnMapping.mode": "name", "delta.minReaderVersion": "2",
                          "delta.minWriterVersion": "5"}


def merge_insert_new(spark: SparkSession, df: DataFrame, conf: CdpConfig, table: str, keys: list[str],
                     update_when_changed: str | None = None, create_options: dict[str, str] | None = None,
                     update_condition: str | None = None) -> None:
    """Insert rows whose keys are not in the table yet; creates the table on first write.

    With ``update_when_changed`` (a column name), a matched row is replaced when that column differs;
    with ``update_condition`` (SQL over aliases t and s), when the condition holds.
    ``df`` must hold one row per key.
    """
    path = conf.table_path(table)
    if not DeltaTable.isDeltaTable(spark, path):
        df.write.format("delta").mode("overwrite").options(**(create_options or {})).save(path)
        log.info("created %s", table)
        return
    target = DeltaTable.forPath(spark, path)
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    merge = target.alias("t").merge(df.alias("s"), cond)
    if update_when_changed:
        merge = merge.whenMatchedUpdateAll(condition=f"NOT (t.`{update_when_changed}` <=> s.`{update_when_changed}`)")
    elif update_condition:
        merge = merge.whenMatchedUpdateAll(condition=update_condition)
    merge.whenNotMatchedInsertAll().execute()
    log.info("merged into %s", table)


def hadoop_fs(spark: SparkSession, path: str):
    """``(FileSystem, Path)`` for a path or URI through Hadoop (local folders and object stores alike)."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop FS is only reachable through py4j
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath  # noqa: SLF001


def remove_path(spark: SparkSession, path: str) -> None:
    """Delete a directory through Hadoop's FileSystem (works for local paths and object stores)."""
    fs, hpath = hadoop_fs(spark, path)
    if fs.exists(hpath):
        fs.delete(hpath, True)


def path_exists(spark: SparkSession, path: str) -> bool:
    """True when ``path`` (a file, folder or glob) matches something, through Hadoop's FileSystem."""
    fs, hpath = hadoop_fs(spark, path)
    matches = fs.globStatus(hpath)
    return matches is not None and len(matches) > 0
