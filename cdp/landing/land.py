"""Land: read every source as strings into bronze/<source>; malformed rows go to quarantine/<source>.

Nothing is inferred (inference turns 09812345678 into 9812345678 and PIN 011001 into 11001) and
nothing is dropped uncounted: for every source, input rows = landed + quarantined.
"""
from __future__ import annotations

import glob
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cdp.config import CdpConfig, ConfigError, SourceConfig
from cdp.constants import (
    TIME_FORMATS_SPECIAL, COL_FILE, COL_INGESTED_AT, COL_RECORD_ID, COL_ROW_HASH, COL_RUN_ID, COL_SOURCE, META_LANDING_STATS,
    bronze_table, quarantine_table,
)
from cdp.standardize.standardize import check_columns, column_at, has_column
from cdp.tables import COLUMN_MAPPING_OPTIONS, append_table, merge_insert_new

log = logging.getLogger(__name__)

CORRUPT_COL = "_cdp_corrupt"
REASON_COL = "_reason"
QUARANTINE_COLUMNS = (COL_SOURCE, COL_FILE, "_raw", "reason", COL_RUN_ID, COL_INGESTED_AT, "_quarantine_id")


@dataclass(frozen=True)
class LandingStats:
    source: str
    input_rows: int
    landed_rows: int
    quarantined_rows: int
    duplicate_record_ids: int
    files: int


# --- paths -------------------------------------------------------------------------------

def source_glob(conf: CdpConfig, source: SourceConfig) -> str:
    return conf.resolve_path(source.path)


def matching_files(spark: SparkSession, pattern: str) -> list[str]:
    """Files matching a glob; local paths by glob, URIs through Hadoop's FileSystem (names only)."""
    if "://" not in pattern:
        return sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file() or Path(p).is_dir())
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop globbing has no Python API
    hpath = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    statuses = fs.globStatus(hpath) or []
    return sorted(str(s.getPath().toString()) for s in statuses)


def check_sources(spark: SparkSession, conf: CdpConfig) -> dict[str, list[str]]:
    """Fail before any write when a source path matches nothing."""
    if not conf.sources:
        raise ConfigError("no sources configured: add a `sources:` list or `sources_file:` to the config")
    found: dict[str, list[str]] = {}
    for source in conf.sources:
        pattern = source_glob(conf, source)
        files = matching_files(spark, pattern) if source.format != "delta" else [pattern]
        if not files:
            raise ConfigError(
                f"source {source.name!r}: path {source.path!r} (resolved to {pattern}) matches no file; "
                "fix `path` (globs are allowed; relative paths are relative to the config file)"
            )
        found[source.name] = files
    return found


# --- reading -----------------------------------------------------------------------------

def _stringify(dt: T.DataType) -> T.DataType:
    """The same shape with every leaf turned into a string."""
    if isinstance(dt, T.StructType):
        return T.StructType([T.StructField(f.name, _stringify(f.dataType), True) for f in dt.fields])
    if isinstance(dt, T.ArrayType):
        return T.ArrayType(_stringify(dt.elementType), True)
    if isinstance(dt, T.MapType):
        return T.MapType(T.StringType(), _stringify(dt.valueType), True)
    return T.StringType()


def read_raw(spark: SparkSession, conf: CdpConfig, source: SourceConfig) -> DataFrame:
    """Read one source with every value as a string, a corrupt-record column and the file name."""
    path = source_glob(conf, source)
    opts = {str(k): str(v) for k, v in source.options.items()}
    if source.format == "csv":
        header_opts = {"header": "true", **opts}
        header = spark.read.options(**header_opts).csv(path)
        schema = T.StructType([T.StructField(c, T.StringType()) for c in header.columns]
                              + [T.StructField(CORRUPT_COL, T.StringType())])
        df = (spark.read.options(**header_opts).options(mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_COL)
              .schema(schema).csv(path))
    elif source.format in ("json", "jsonl"):
        df = (spark.read.options(**opts)
              .options(primitivesAsString="true", mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_COL)
              .json(path))
        if CORRUPT_COL not in df.columns:
            df = df.withColumn(CORRUPT_COL, F.lit(None).cast("string"))
    elif source.format in ("parquet", "delta"):
        raw = spark.read.options(**opts).format(source.format).load(path)
        df = raw.select([F.col(f"`{f.name}`").cast(_stringify(f.dataType)).alias(f.name) for f in raw.schema.fields])
        df = df.withColumn(CORRUPT_COL, F.lit(None).cast("string"))
    else:  # pragma: no cover - config validation refuses other formats
        raise ConfigError(f"source {source.name!r}: unsupported format {source.format!r}")
    return df.withColumn(COL_FILE, F.col("_metadata.file_path"))


def check_mapped_columns(source: SourceConfig, schema: T.StructType) -> None:
    """Every mapped column must exist in the source (dotted paths reach into nested JSON)."""
    data = T.StructType([f for f in schema.fields if f.name not in (CORRUPT_COL, COL_FILE)])
    problems = []
    if not has_column(data, source.record_id):
        problems.append(f"record_id maps to column {source.record_id!r}, which is not in the data; "
                        f"available columns: {data.fieldNames()}")
    try:
        check_columns(data, source)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError(f"source {source.name!r}: " + "; ".join(p.removeprefix(f"source {source.name!r}: ")
                                                                 for p in problems))


def _non_ascii_replacement(columns: list[str]) -> Column:
    """True when a value holds U+FFFD, i.e. bytes that were not valid in the source encoding."""
    if not columns:
        return F.lit(False)
    return F.concat_ws("\u0001", *[F.col(f"`{c}`").cast("string") for c in columns]).contains("\ufffd")


def _malformed_reason(source: SourceConfig, expected_columns: int) -> Column:
    """'malformed_json', or for CSV 'malformed_row: expected N columns, got M' (M counted naively)."""
    if source.format != "csv":
        return F.lit("malformed_json" if source.format in ("json", "jsonl") else "malformed_row")
    sep = str(source.options.get("sep", source.options.get("delimiter", ",")))
    got = F.size(F.split(F.col(CORRUPT_COL), re.escape(sep)))
    return F.concat(F.lit(f"malformed_row: expected {expected_columns} columns, got "), got.cast("string"))


def tag_rows(raw: DataFrame, source: SourceConfig) -> DataFrame:
    """Raw rows plus the trimmed record id and a quarantine reason (null for a row that can land)."""
    data_cols = [c for c in raw.columns if c not in (CORRUPT_COL, COL_FILE)]
    flat_cols = [f.name for f in raw.schema.fields if f.name in data_cols and isinstance(f.dataType, T.StringType)]
    record_id = F.trim(column_at(raw.schema, source.record_id))
    reason = (
        F.when(F.col(CORRUPT_COL).isNotNull(), _malformed_reason(source, len(data_cols)))
        .when(_non_ascii_replacement(flat_cols), F.lit("undecodable_bytes"))
        .when(record_id.isNull() | (record_id == ""), F.lit(f"missing_record_id:{source.record_id}"))
    )
    return raw.select("*", reason.alias(REASON_COL), record_id.alias(COL_RECORD_ID))


def split_landing(tagged: DataFrame, source: SourceConfig, run_id: str) -> tuple[DataFrame, DataFrame]:
    """Split tagged rows (from tag_rows) into bronze rows and quarantine rows (each with a reason)."""
    data_cols = [c for c in tagged.columns if c not in (CORRUPT_COL, COL_FILE, REASON_COL, COL_RECORD_ID)]
    now = F.current_timestamp()
    row_json = F.to_json(F.struct(*[F.col(f"`{c}`") for c in data_cols]))
    good = tagged.where(F.col(REASON_COL).isNull()).select(
        *[F.col(f"`{c}`") for c in data_cols],
        F.lit(source.name).alias(COL_SOURCE),
        F.col(COL_RECORD_ID),
        F.col(COL_FILE),
        now.alias(COL_INGESTED_AT),
        F.lit(run_id).alias(COL_RUN_ID),
        F.sha2(row_json, 256).alias(COL_ROW_HASH),
    )
    raw_text = F.coalesce(F.col(CORRUPT_COL), row_json)
    bad = tagged.where(F.col(REASON_COL).isNotNull()).select(
        F.lit(source.name).alias(COL_SOURCE),
        F.col(COL_FILE),
        raw_text.alias("_raw"),
        F.col(REASON_COL).alias("reason"),
        F.lit(run_id).alias(COL_RUN_ID),
        now.alias(COL_INGESTED_AT),
        F.sha2(F.concat_ws("\u0001", F.col(COL_FILE), raw_text, F.col(REASON_COL)), 256).alias("_quarantine_id"),
    )
    return good, bad


def one_row_per_record(good: DataFrame) -> DataFrame:
    """Duplicate record ids in a batch collapse to one row (the last file, then the greatest row hash)."""
    from pyspark.sql.window import Window

    w = Window.partitionBy(COL_RECORD_ID).orderBy(F.col(COL_FILE).desc(), F.col(COL_ROW_HASH).desc())
    return good.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


# --- the stage ---------------------------------------------------------------------------

def land_source(spark: SparkSession, conf: CdpConfig, source: SourceConfig, raw: DataFrame,
                run_id: str) -> LandingStats:
    """Land one source's raw rows (from read_raw) into bronze and quarantine."""
    tagged = tag_rows(raw, source).persist()
    try:
        landable = F.col(REASON_COL).isNull()
        counts = tagged.agg(  # one pass for every count the report needs
            F.count(F.lit(1)).alias("n"), F.countDistinct(COL_FILE).alias("files"),
            F.count(F.when(~landable, 1)).alias("bad"),
            F.countDistinct(F.when(landable, F.col(COL_RECORD_ID))).alias("distinct")).first()
        bad_n, distinct_n = counts["bad"], counts["distinct"]
        good_n = counts["n"] - bad_n
        good, bad = split_landing(tagged, source, run_id)
        deduped = one_row_per_record(good)
        merge_insert_new(spark, deduped, conf, bronze_table(source.name), [COL_RECORD_ID],
                         update_when_changed=COL_ROW_HASH, create_options=COLUMN_MAPPING_OPTIONS)
        if bad_n:
            merge_insert_new(spark, bad.dropDuplicates(["_quarantine_id"]), conf,
                             quarantine_table(source.name), ["_quarantine_id"])
    finally:
        tagged.unpersist()
    stats = LandingStats(source.name, int(counts["n"]), int(good_n), int(bad_n), int(good_n - distinct_n),
                         int(counts["files"]))
    log.info("land %s: %d rows read, %d landed, %d quarantined, %d duplicate record ids",
             source.name, stats.input_rows, stats.landed_rows, stats.quarantined_rows, stats.duplicate_record_ids)
    return stats


def validate_sources(spark: SparkSession, conf: CdpConfig) -> dict[str, DataFrame]:
    """All checks that can fail before anything is written: paths exist, mapped columns exist.

    Returns each source's raw DataFrame so the schema is read (or inferred, for JSON) only once.
    """
    found = check_sources(spark, conf)
    raws = {}
    for source in conf.sources:
        check_event_time_format(spark, source)
        raws[source.name] = read_raw(spark, conf, source)
        if not [c for c in raws[source.name].columns if c not in (CORRUPT_COL, COL_FILE)]:
            raise ConfigError(f"source {source.name!r}: no columns could be read from {found[source.name][:3]} "
                              "(empty files, or a CSV without a header line?)")
        check_mapped_columns(source, raws[source.name].schema)
    return raws


def check_event_time_format(spark: SparkSession, source: SourceConfig) -> None:
    """A Spark datetime pattern that Spark refuses is a config error, found before any write."""
    et = source.event_time
    if et is None or et.format in TIME_FORMATS_SPECIAL:
        return
    try:
        spark.range(1).select(F.try_to_timestamp(F.lit("2024-01-01"), F.lit(et.format))).collect()
    except Exception as exc:  # noqa: BLE001 - Spark raises several error types for bad patterns
        first = str(exc).strip().splitlines()[0][:300]
        raise ConfigError(
            f"source {source.name!r}: event_time.format {et.format!r} is not a valid Spark datetime pattern "
            f"(use e.g. 'yyyy-MM-dd HH:mm:ss', or iso8601 | epoch_s | epoch_ms): {first}") from None


def run_land(spark: SparkSession, conf: CdpConfig, run_id: str) -> list[LandingStats]:
    """Land every configured source; record per-source counts in meta/landing_stats."""
    raws = validate_sources(spark, conf)
    stats = [land_source(spark, conf, s, raws[s.name], run_id) for s in conf.sources]
    rows = [dict(asdict(s), run_id=run_id) for s in stats]
    schema = ("source string, input_rows long, landed_rows long, quarantined_rows long, "
              "duplicate_record_ids long, files long, run_id string")
    append_table(spark.createDataFrame(rows, schema=schema), conf, META_LANDING_STATS)
    return stats
