"""Land: read every source as strings into bronze/<source>; malformed rows go to quarantine/<source>.

Nothing is inferred (inference turns 09812345678 into 9812345678 and PIN 011001 into 11001) and
nothing is dropped uncounted: for every source, input rows = landed + quarantined + suppressed
(rows of a person erased by `cdp forget`, see :mod:`cdp.erasure.suppression`; written nowhere).
"""
from __future__ import annotations

import functools
import glob
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cdp.config import CdpConfig, ConfigError, SourceConfig
from cdp.constants import (
    TIME_FORMATS_SPECIAL, COL_EVENT_TIME, COL_FILE, COL_FILE_MODIFIED, COL_INGESTED_AT, COL_RECORD_ID, COL_ROW_HASH,
    COL_RUN_ID, COL_SOURCE, META_LANDING_STATS, bronze_table, quarantine_table,
)
from cdp.erasure.suppression import SUPPRESSED_COL, Suppression, load_suppression, mark_suppressed
from cdp.faults import LAND_AFTER_BRONZE, crash_point
from cdp.landing.ledger import FilePlan, plan_files, record_files
from cdp.standardize.normalize import checked_event_time, null_if_token
from cdp.standardize.standardize import check_columns, column_at, has_column
from cdp.tables import COLUMN_MAPPING_OPTIONS, append_table, hadoop_fs, merge_insert_new

log = logging.getLogger(__name__)

CORRUPT_COL = "_cdp_corrupt"
REASON_COL = "_reason"
RAW_META_COLUMNS = (CORRUPT_COL, COL_FILE, COL_FILE_MODIFIED)  # added by read_raw, not data
QUARANTINE_COLUMNS = (COL_SOURCE, COL_FILE, "_raw", "reason", COL_RUN_ID, COL_INGESTED_AT, "_quarantine_id")


@dataclass(frozen=True)
class LandingStats:
    source: str
    input_rows: int
    landed_rows: int
    quarantined_rows: int
    duplicate_record_ids: int
    files: int  # files read this run
    new_files: int = 0  # files not in the ledger before this run (including duplicates and empty ones)
    duplicate_files: int = 0  # new files whose content was already landed: recorded, not read
    unchanged_files: int = 0  # files already in the ledger: skipped
    empty_files: int = 0  # 0-byte files: recorded, nothing to read
    suppressed_rows: int = 0  # rows of an erased person (meta/suppression): dropped, written nowhere


# --- paths -------------------------------------------------------------------------------

def source_glob(conf: CdpConfig, source: SourceConfig) -> str:
    return conf.resolve_path(source.path)


def matching_files(spark: SparkSession, pattern: str) -> list[str]:
    """Files matching a glob; local paths by glob, URIs through Hadoop's FileSystem (names only)."""
    if "://" not in pattern:
        return sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file() or Path(p).is_dir())
    fs, hpath = hadoop_fs(spark, pattern)
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


def read_raw(spark: SparkSession, conf: CdpConfig, source: SourceConfig,
             files: list[str] | None = None) -> DataFrame:
    """Read one source (or only ``files`` of it) with every value as a string, a corrupt-record
    column, the file name and the file's modification time."""
    path: str | list[str] = files if files is not None else source_glob(conf, source)
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
    return df.select("*", F.col("_metadata.file_path").alias(COL_FILE),
                     F.col("_metadata.file_modification_time").alias(COL_FILE_MODIFIED))


def check_mapped_columns(source: SourceConfig, schema: T.StructType) -> None:
    """Every mapped column must exist in the source (dotted paths reach into nested JSON)."""
    data = T.StructType([f for f in schema.fields if f.name not in RAW_META_COLUMNS])
    problems = []
    if not has_column(data, source.record_id):
        problems.append(f"record_id maps to column {source.record_id!r}, which is not in the data; "
                        f"available columns: {data.fieldNames()}")
    try:
        check_columns(data, source)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        hint = _separator_hint(source, data)
        raise ConfigError(f"source {source.name!r}: " + "; ".join(p.removeprefix(f"source {source.name!r}: ")
                                                                 for p in problems) + hint)


SEPARATOR_CANDIDATES = (";", "|", "\t", ",")


def _csv_syntax(source: SourceConfig) -> tuple[str, str, str]:
    """(separator, quote, escape) of a CSV source as Spark reads them (an empty quote: no quoting)."""
    opts = {str(k): str(v) for k, v in source.options.items()}
    sep = opts.get("sep", opts.get("delimiter", ","))
    sep = "\t" if sep == "\\t" else sep  # Spark reads the two characters \t as a tab
    return sep, opts.get("quote", '"'), opts.get("escape", "\\")


def _separator_hint(source: SourceConfig, data: T.StructType) -> str:
    """For a CSV whose header came out as one column holding another likely separator: how to set it."""
    if source.format != "csv" or len(data.fields) != 1:
        return ""
    header, sep = data.fields[0].name, _csv_syntax(source)[0]
    found = sorted((c for c in SEPARATOR_CANDIDATES if c != sep and c in header), key=header.count, reverse=True)
    if not found:
        return ""
    label = {";": "semicolon", "|": "pipe", "\t": "tab", ",": "comma"}[found[0]]
    return (f"; the header was read as one column {header!r}, which contains {found[0]!r}: if the file is "
            f"{label}-separated, set `options: {{sep: {json.dumps(found[0])}}}` on the source")


def _encoding_hint(source: SourceConfig, what: str = "the file") -> str:
    """What to do about bytes that are not valid in the source's encoding."""
    encoding = source.options.get("encoding", source.options.get("charset"))
    if encoding:
        return f"{what} is not valid {encoding}; check options.encoding"
    return f"{what} is not UTF-8; set options.encoding, e.g. ISO-8859-1"


def _undecodable_reason(columns: list[str], source: SourceConfig) -> Column:
    """'undecodable_bytes: column X (...)' naming every column whose value holds U+FFFD (bytes that were
    not valid in the source encoding), or null when none does."""
    if not columns:
        return F.lit(None).cast("string")
    bad = F.array_compact(F.array(*[F.when(F.col(f"`{c}`").contains("\ufffd"), F.lit(c)) for c in columns]))
    return F.when(F.size(bad) > 0, F.concat(
        F.lit("undecodable_bytes: "), F.when(F.size(bad) == 1, F.lit("column ")).otherwise(F.lit("columns ")),
        F.array_join(bad, ", "), F.lit(f" ({_encoding_hint(source)})")))


def _csv_field_count(line: Column, sep: str, quote: str = '"', escape: str = "\\") -> tuple[Column, Column]:
    """(number of fields, whether that number is reliable) of a raw CSV line, quote-aware: a quoted
    field may hold the separator, the escape character or doubled quotes (when escape == quote). A
    line with a quote inside an unquoted field, or an unbalanced quote, is not reliable."""
    s = re.escape(sep)
    if not quote:
        return F.size(F.split(line, s)), F.lit(True)
    q = re.escape(quote)
    if escape == quote:
        inner = f"(?:[^{q}]|{q}{q})*"
    elif escape:
        e = re.escape(escape)
        inner = f"(?:[^{q}{e}]|{e}.)*"
    else:
        inner = f"[^{q}]*"
    quoted = f"{q}{inner}{q}"
    field = f"(?:{quoted}|(?:(?!{s})[^{q}])*)"
    reliable = line.rlike(f"(?s)^{field}(?:{s}{field})*$")
    return F.size(F.split(F.regexp_replace(line, f"(?s){quoted}", ""), s)), reliable


def _malformed_reason(source: SourceConfig, expected_columns: int) -> Column:
    """Why a row Spark could not parse is quarantined: for JSON 'malformed_json' (or
    'undecodable_bytes: ...' when the line holds bytes invalid in the encoding), for CSV
    'malformed_row: expected N columns, got M' (M counted quote-aware, given only when reliable)."""
    corrupt = F.col(CORRUPT_COL)
    if source.format in ("json", "jsonl"):
        # the corrupt text holds the raw bytes, so invalid UTF-8 is found by is_valid_utf8, not by U+FFFD
        return (F.when(~F.is_valid_utf8(corrupt) | corrupt.contains("\ufffd"),
                       F.lit(f"undecodable_bytes: {_encoding_hint(source, 'the JSON line')}"))
                .otherwise(F.lit("malformed_json")))
    if source.format != "csv":
        return F.lit("malformed_row")
    got, reliable = _csv_field_count(corrupt, *_csv_syntax(source))
    expected = f"malformed_row: expected {expected_columns} columns"
    return (F.when(reliable & (got != expected_columns), F.concat(F.lit(f"{expected}, got "), got.cast("string")))
            .when(reliable, F.lit(f"{expected} (the row has {expected_columns}, but Spark could not parse it)"))
            .otherwise(F.lit(f"{expected} (the count is unclear: a quote inside a field)")))


def tag_rows(raw: DataFrame, source: SourceConfig) -> DataFrame:
    """Raw rows plus the trimmed record id and a quarantine reason (null for a row that can land)."""
    data_cols = [c for c in raw.columns if c not in RAW_META_COLUMNS]
    flat_cols = [f.name for f in raw.schema.fields if f.name in data_cols and isinstance(f.dataType, T.StringType)]
    record_id = F.trim(column_at(raw.schema, source.record_id))
    undecodable = _undecodable_reason(flat_cols, source)
    reason = (
        F.when(F.col(CORRUPT_COL).isNotNull(), _malformed_reason(source, len(data_cols)))
        .when(undecodable.isNotNull(), undecodable)
        .when(record_id.isNull() | (record_id == ""), F.lit(f"missing_record_id:{source.record_id}"))
    )
    return raw.select("*", reason.alias(REASON_COL), record_id.alias(COL_RECORD_ID))


def split_landing(tagged: DataFrame, source: SourceConfig, run_id: str) -> tuple[DataFrame, DataFrame]:
    """Split tagged rows (from tag_rows) into bronze rows and quarantine rows (each with a reason)."""
    data_cols = [c for c in tagged.columns if c not in RAW_META_COLUMNS + (REASON_COL, COL_RECORD_ID)]
    now = F.current_timestamp()
    row_json = F.to_json(F.struct(*[F.col(f"`{c}`") for c in data_cols]))
    good = tagged.where(F.col(REASON_COL).isNull()).select(
        *[F.col(f"`{c}`") for c in data_cols],
        F.lit(source.name).alias(COL_SOURCE),
        F.col(COL_RECORD_ID),
        F.col(COL_FILE),
        F.col(COL_FILE_MODIFIED),
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


def landing_event_time(schema: T.StructType, source: SourceConfig, conf: CdpConfig) -> Column:
    """The event time as standardize will keep it (null when absent, unparseable or implausible,
    so a row dated 2999 does not win), used to pick a record id's latest row."""
    et = source.event_time
    if et is None or not has_column(schema, et.column):
        return F.lit(None).cast("timestamp")
    std = conf.standardize
    parsed, _issue = checked_event_time(null_if_token(column_at(schema, et.column), std.null_tokens), et.format,
                                        et.timezone or std.default_timezone, std.event_time_min,
                                        std.event_time_max_days_in_future)
    return parsed


RECENCY_COLUMNS = (COL_EVENT_TIME, COL_FILE_MODIFIED, COL_FILE, COL_ROW_HASH)


def _recency() -> list[Column]:
    """The order that decides which row of a record id wins: latest event time, then latest file."""
    return [F.col(COL_EVENT_TIME).desc_nulls_last(), F.col(COL_FILE_MODIFIED).desc_nulls_last(),
            F.col(COL_FILE).desc(), F.col(COL_ROW_HASH).desc()]


def _more_recent_sql(new: str, old: str) -> str:
    """SQL: row ``new`` sorts after row ``old`` in :func:`_recency` order (nulls oldest)."""
    floor = {COL_EVENT_TIME: "TIMESTAMP'0001-01-01 00:00:00'", COL_FILE_MODIFIED: "TIMESTAMP'0001-01-01 00:00:00'",
             COL_FILE: "''", COL_ROW_HASH: "''"}
    expr = "false"
    for col in reversed(RECENCY_COLUMNS):
        a, b = f"coalesce({new}.`{col}`, {floor[col]})", f"coalesce({old}.`{col}`, {floor[col]})"
        expr = f"({a} > {b} OR ({a} = {b} AND {expr}))"
    return expr


# a landed row replaces the bronze row of its record id only when it differs and is more recent
BRONZE_UPDATE_CONDITION = f"NOT (t.`{COL_ROW_HASH}` <=> s.`{COL_ROW_HASH}`) AND {_more_recent_sql('s', 't')}"


def one_row_per_record(good: DataFrame) -> DataFrame:
    """Duplicate record ids in a batch collapse to one row: the latest event time, then the latest
    file (modification time, then path), then the greatest row hash, so the choice is deterministic."""
    from pyspark.sql.window import Window

    w = Window.partitionBy(COL_RECORD_ID).orderBy(*_recency())
    return good.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


# --- the stage ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LandingBatch:
    """One source's work for this run: the ledger's plan and the raw rows of the files to read."""
    source: SourceConfig
    plan: FilePlan | None  # None for delta sources (read whole; the bronze merge is idempotent)
    raw: DataFrame | None  # None when there is nothing new to read
    empty_files: int = 0


def with_suppressed_flag(tagged: DataFrame, source: SourceConfig, conf: CdpConfig,
                         suppression: Suppression | None) -> DataFrame:
    """Tagged rows plus SUPPRESSED_COL (true for a row of an erased person; always false before
    the first erasure)."""
    if suppression is None:
        return tagged.withColumn(SUPPRESSED_COL, F.lit(False))
    return mark_suppressed(tagged, source, conf.standardize, suppression,
                           landing_event_time(tagged.schema, source, conf), conf.erasure.allow_new_interactions)


def land_source(spark: SparkSession, conf: CdpConfig, batch: LandingBatch, run_id: str,
                suppression: Suppression | None = None) -> LandingStats:
    """Land one source's new files into bronze and quarantine, then record them in the ledger.
    Rows carrying an identifier in ``suppression`` are counted and dropped."""
    source, plan = batch.source, batch.plan
    file_counts = {"new_files": plan.new_files.count() if plan else 0,
                   "duplicate_files": plan.duplicates if plan else 0,
                   "unchanged_files": plan.unchanged if plan else 0, "empty_files": batch.empty_files}
    if batch.raw is None:
        if plan is not None:
            record_files(spark, conf, source.name, plan, {}, run_id)
        stats = LandingStats(source.name, 0, 0, 0, 0, 0, **file_counts)
        log.info("land %s: nothing new (%d file(s) already landed, %d duplicate(s), %d empty)",
                 source.name, stats.unchanged_files, stats.duplicate_files, stats.empty_files)
        return stats
    tagged = with_suppressed_flag(tag_rows(batch.raw, source), source, conf, suppression).persist()
    try:
        suppressed = F.col(SUPPRESSED_COL)
        landable = F.col(REASON_COL).isNull() & ~suppressed
        counts = tagged.agg(  # one pass for every count the report needs
            F.count(F.lit(1)).alias("n"), F.countDistinct(COL_FILE).alias("files"),
            F.count(F.when(F.col(REASON_COL).isNotNull() & ~suppressed, 1)).alias("bad"),
            F.count(F.when(suppressed, 1)).alias("suppressed"),
            F.countDistinct(F.when(landable, F.col(COL_RECORD_ID))).alias("distinct")).first()
        per_file = {r[COL_FILE]: int(r["n"]) for r in tagged.groupBy(COL_FILE).agg(F.count(F.lit(1)).alias("n"))
                    .collect()}  # one row per file read this run
        bad_n, distinct_n, suppressed_n = counts["bad"], counts["distinct"], counts["suppressed"]
        good_n = counts["n"] - bad_n - suppressed_n
        kept = tagged.where(~suppressed).drop(SUPPRESSED_COL)  # suppressed rows go nowhere, not to quarantine
        good, bad = split_landing(kept, source, run_id)
        good = good.withColumn(COL_EVENT_TIME, landing_event_time(kept.schema, source, conf))
        deduped = one_row_per_record(good)
        merge_insert_new(spark, deduped, conf, bronze_table(source.name), [COL_RECORD_ID],
                         update_condition=BRONZE_UPDATE_CONDITION, create_options=COLUMN_MAPPING_OPTIONS)
        if bad_n:
            merge_insert_new(spark, bad.dropDuplicates(["_quarantine_id"]), conf,
                             quarantine_table(source.name), ["_quarantine_id"])
        crash_point(LAND_AFTER_BRONZE)
        if plan is not None:
            record_files(spark, conf, source.name, plan, per_file, run_id)
    finally:
        tagged.unpersist()
    stats = LandingStats(source.name, int(counts["n"]), int(good_n), int(bad_n), int(good_n - distinct_n),
                         int(counts["files"]), **file_counts, suppressed_rows=int(suppressed_n))
    log.info("land %s: %d rows read from %d file(s), %d landed, %d quarantined, %d suppressed (erased), "
             "%d duplicate record ids", source.name, stats.input_rows, stats.files, stats.landed_rows,
             stats.quarantined_rows, stats.suppressed_rows, stats.duplicate_record_ids)
    return stats


def csv_header_groups(spark: SparkSession, source: SourceConfig, files: list[str]) -> list[list[str]]:
    """The files grouped by their first line, so files with different headers (a column added or
    dropped, or reordered) are each read with their own header; Spark would read them all with one."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Java readers decode the header in the file's encoding
    encoding = str(source.options.get("encoding", source.options.get("charset", "UTF-8")))
    groups: dict[str, list[str]] = {}
    for f in files:
        fs, hpath = hadoop_fs(spark, f)
        stream = fs.open(hpath)
        try:
            reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, encoding))
            header = (reader.readLine() or "").lstrip("\ufeff").rstrip("\r")
        finally:
            stream.close()
        groups.setdefault(header, []).append(f)
    if len(groups) > 1:
        log.info("land %s: %d different headers among %d new file(s); each group is read with its own",
                 source.name, len(groups), len(files))
    return list(groups.values())


def prepare_landing(spark: SparkSession, conf: CdpConfig) -> list[LandingBatch]:
    """Everything that can fail before a write: paths exist, which files are new (ledger), the new
    files' columns hold every mapped column. Returns one batch per source, in config order."""
    found = check_sources(spark, conf)
    batches = []
    for source in conf.sources:
        check_event_time_format(spark, source)
        if source.format == "delta":
            plan, files, empty = None, None, 0
        else:
            plan = plan_files(spark, conf, source.name, found[source.name])
            sizes = {r["path"]: r["size"] for r in plan.new_files.select("path", "size").collect()}
            files = [p for p in plan.to_land if sizes.get(p, 0) > 0]
            empty = len(plan.to_land) - len(files)
            if empty:
                log.warning("land %s: %d new file(s) are empty (0 bytes): recorded in the ledger, nothing to read",
                            source.name, empty)
            if not files:
                if not DeltaTable.isDeltaTable(spark, conf.table_path(bronze_table(source.name))) and empty:
                    raise ConfigError(f"source {source.name!r}: every file matching {source.path!r} is empty "
                                      f"({found[source.name][:3]}): nothing to land")
                batches.append(LandingBatch(source, plan, None, empty))
                continue
        groups = csv_header_groups(spark, source, files) if source.format == "csv" and files else [files]
        raws = []
        for group in groups:
            raw = read_raw(spark, conf, source, group)
            where = (group or found[source.name])[:3]
            if not [c for c in raw.columns if c not in RAW_META_COLUMNS]:
                raise ConfigError(f"source {source.name!r}: no columns could be read from {where} "
                                  "(empty files, or a CSV without a header line?)")
            try:
                check_mapped_columns(source, raw.schema)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (in file(s) {where}{' and more' if group and len(group) > 3 else ''})") \
                    from None
            raws.append(raw)
        raw = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), raws)
        batches.append(LandingBatch(source, plan, raw, empty))
    return batches


def validate_sources(spark: SparkSession, conf: CdpConfig) -> dict[str, DataFrame]:
    """The pre-write checks of :func:`prepare_landing`; each source's raw rows of new files."""
    return {b.source.name: b.raw for b in prepare_landing(spark, conf)}


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
    """Land every configured source's new files; record per-source counts in meta/landing_stats
    (nothing is recorded when no source had a new file, so a rerun changes no table)."""
    batches = prepare_landing(spark, conf)
    suppression = load_suppression(spark, conf)
    stats = [land_source(spark, conf, b, run_id, suppression) for b in batches]
    if any(s.new_files for s in stats) or any(b.plan is None for b in batches):
        rows = [dict(asdict(s), run_id=run_id) for s in stats]
        schema = ("source string, input_rows long, landed_rows long, quarantined_rows long, "
                  "duplicate_record_ids long, files long, new_files long, duplicate_files long, "
                  "unchanged_files long, empty_files long, suppressed_rows long, run_id string")
        append_table(spark.createDataFrame(rows, schema=schema), conf, META_LANDING_STATS)
    return stats
