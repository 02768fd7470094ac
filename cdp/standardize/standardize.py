"""Bronze (one source, raw strings) -> silver interactions + identifiers, each in one select."""
from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType, DataType, DoubleType, MapType, StringType, StructField, StructType, TimestampType,
)

from cdp.config import SourceConfig, StandardizeConfig
from cdp.constants import ATTRIBUTE_NAMES, COL_INGESTED_AT, COL_RECORD_ID, COL_RUN_ID
from cdp.standardize.normalize import (
    checked_event_time, clean_display_name, collapse_ws, fold_name, normalize_dob, normalize_identifier,
    normalize_pincode, null_if_token, null_like_struct, parse_amount, strip,
)

log = logging.getLogger(__name__)

ATTRIBUTE_FIELDS = (*ATTRIBUTE_NAMES, "name_key")
ATTRIBUTES_TYPE = StructType([StructField(n, StringType()) for n in ATTRIBUTE_FIELDS])
MEASURES_TYPE = MapType(StringType(), DoubleType())

INTERACTIONS_SCHEMA = StructType([
    StructField("interaction_id", StringType()),
    StructField("source", StringType()),
    StructField("record_id", StringType()),
    StructField("channel", StringType()),
    StructField("event_time", TimestampType()),
    StructField("event_time_raw", StringType()),
    StructField("event_time_issue", StringType()),  # unparseable | before_min | future; then event_time is null
    StructField("event_type", StringType()),
    StructField("attributes", ATTRIBUTES_TYPE),
    StructField("measures", MEASURES_TYPE),
    StructField(COL_RUN_ID, StringType()),
    StructField(COL_INGESTED_AT, TimestampType()),
])

IDENTIFIERS_SCHEMA = StructType([
    StructField("interaction_id", StringType()),
    StructField("source", StringType()),
    StructField("id_type", StringType()),
    StructField("raw_value", StringType()),
    StructField("value", StringType()),
    StructField("is_valid", BooleanType()),
    StructField("reason", StringType()),
])


# --- column mapping checks ----------------------------------------------------------------

def _mapped_columns(source: SourceConfig) -> list[tuple[str, str]]:
    """(config key, column path) for every bronze column the source's mapping reads."""
    out: list[tuple[str, str]] = []
    if source.event_time is not None:
        out.append(("event_time.column", source.event_time.column))
    if source.event_type is not None and source.event_type.column is not None:
        out.append(("event_type.column", source.event_type.column))
    for section in ("identifiers", "attributes", "measures"):
        for key, path in getattr(source, section).items():
            out.append((f"{section}.{key}", path))
    return out


def _leaf_paths(schema: StructType, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for f in schema.fields:
        name = f"{prefix}{f.name}"
        if isinstance(f.dataType, StructType):
            paths.extend(_leaf_paths(f.dataType, f"{name}."))
        else:
            paths.append(name)
    return paths


def _field(schema: StructType, name: str) -> StructField | None:
    return next((f for f in schema.fields if f.name == name), None)


def _resolve(schema: StructType, path: str) -> tuple[str, ...] | None:
    """Field-name chain for ``path``: a top-level name (dots allowed in it) or a dotted path
    into structs. None when it does not exist."""
    top = _field(schema, path)
    if top is not None:
        return (path,)
    parts = path.split(".")
    dtype: DataType = schema
    for part in parts:
        if not isinstance(dtype, StructType):
            return None
        f = _field(dtype, part)
        if f is None:
            return None
        dtype = f.dataType
    return tuple(parts)


def _as_schema(bronze_columns_schema: StructType | DataFrame) -> StructType:
    if isinstance(bronze_columns_schema, DataFrame):
        return bronze_columns_schema.schema
    return bronze_columns_schema


def check_columns(bronze_columns_schema: StructType | DataFrame, source: SourceConfig) -> None:
    """Raise ValueError naming the source, the config key(s) and the available columns when a
    mapped column (dotted paths reach into structs) is missing from the bronze schema."""
    schema = _as_schema(bronze_columns_schema)
    missing = [(k, p) for k, p in _mapped_columns(source) if _resolve(schema, p) is None]
    if missing:
        what = ", ".join(f"{k} -> {p!r}" for k, p in missing)
        raise ValueError(
            f"source {source.name!r}: mapped column(s) not found in bronze data: {what}; "
            f"available columns: {_leaf_paths(schema)}"
        )


def has_column(schema: StructType, path: str) -> bool:
    """True when ``path`` (a top-level name, or a dotted path into structs) exists in ``schema``."""
    return _resolve(schema, path) is not None


def column_at(schema: StructType, path: str) -> Column:
    """The column at ``path`` as a string (see has_column for what a path is)."""
    return _col(schema, path)


def _col(schema: StructType, path: str) -> Column:
    chain = _resolve(schema, path)
    if chain is None:  # check_columns runs first; this is a safety net
        raise ValueError(f"column {path!r} not found; available columns: {_leaf_paths(schema)}")
    c = F.col(f"`{chain[0]}`")
    for part in chain[1:]:
        c = c.getField(part)
    return c.cast("string")


# --- interactions -------------------------------------------------------------------------

def _interaction_id(source: SourceConfig) -> Column:
    return F.concat(F.lit(f"{source.name}:"), F.col(COL_RECORD_ID).cast("string"))


def _event_time(schema: StructType, source: SourceConfig, std: StandardizeConfig) -> tuple[Column, Column, Column]:
    """(event time, raw text, issue): an unparseable or implausible time is null, its issue kept."""
    et = source.event_time
    if et is None:
        return F.lit(None).cast("timestamp"), F.lit(None).cast("string"), F.lit(None).cast("string")
    raw = _col(schema, et.column)
    parsed, issue = checked_event_time(null_if_token(raw, std.null_tokens), et.format,
                                       et.timezone or std.default_timezone, std.event_time_min,
                                       std.event_time_max_days_in_future)
    return parsed, raw, issue


def _event_type(schema: StructType, source: SourceConfig, std: StandardizeConfig) -> Column:
    et = source.event_type
    if et is None:
        return F.lit(None).cast("string")
    if et.value is not None:
        return F.lit(et.value)
    return null_if_token(_col(schema, et.column), std.null_tokens)


def _title(c: Column) -> Column:
    return F.initcap(F.lower(collapse_ws(c)))


def _attributes(schema: StructType, source: SourceConfig, std: StandardizeConfig) -> Column:
    def raw(name: str) -> Column:
        path = source.attributes.get(name)
        if path is None:
            return F.lit(None).cast("string")
        return null_if_token(_col(schema, path), std.null_tokens)

    country_default = (source.country or std.default_country).upper()
    first = clean_display_name(raw("first_name"))
    last = clean_display_name(raw("last_name"))
    if "full_name" in source.attributes:
        full = clean_display_name(raw("full_name"))
    else:
        full = F.when(first.isNotNull() | last.isNotNull(), F.concat_ws(" ", first, last))
    values = {
        "first_name": first,
        "last_name": last,
        "full_name": full,
        "dob": normalize_dob(raw("dob"), std.dob_min),
        "gender": collapse_ws(raw("gender")),
        "address": collapse_ws(raw("address")),
        "city": _title(raw("city")),
        "pincode": normalize_pincode(raw("pincode"), country_default),
        "country": F.coalesce(F.upper(collapse_ws(raw("country"))), F.lit(country_default)),
        "name_key": fold_name(full, assume_nfc=True),  # full is built from NFC'd parts
    }
    return F.struct(*[values[n].cast("string").alias(n) for n in ATTRIBUTE_FIELDS])


def _measures(schema: StructType, source: SourceConfig) -> Column:
    if not source.measures:
        return F.create_map().cast(MEASURES_TYPE)
    pairs: list[Column] = []
    for name in sorted(source.measures):
        pairs += [F.lit(name), parse_amount(_col(schema, source.measures[name]))]
    return F.map_filter(F.create_map(*pairs), lambda _k, v: v.isNotNull()).cast(MEASURES_TYPE)


def interactions_columns(schema: StructType, source: SourceConfig, std: StandardizeConfig) -> list[Column]:
    """The select list for the interactions output (INTERACTIONS_SCHEMA order)."""
    event_time, event_time_raw, event_time_issue = _event_time(schema, source, std)
    return [
        _interaction_id(source).alias("interaction_id"),
        F.lit(source.name).alias("source"),
        F.col(COL_RECORD_ID).cast("string").alias("record_id"),
        F.lit(source.channel).alias("channel"),
        event_time.cast("timestamp").alias("event_time"),
        event_time_raw.alias("event_time_raw"),
        event_time_issue.cast("string").alias("event_time_issue"),
        _event_type(schema, source, std).cast("string").alias("event_type"),
        _attributes(schema, source, std).alias("attributes"),
        _measures(schema, source).alias("measures"),
        F.col(COL_RUN_ID).cast("string").alias(COL_RUN_ID),
        F.col(COL_INGESTED_AT).cast("timestamp").alias(COL_INGESTED_AT),
    ]


# --- identifiers --------------------------------------------------------------------------

def _identifier_entry(schema: StructType, id_type: str, path: str, std: StandardizeConfig) -> Column:
    raw = _col(schema, path)
    cleaned = null_if_token(raw, std.null_tokens)
    norm = F.when(cleaned.isNull(), null_like_struct()).otherwise(
        normalize_identifier(cleaned, id_type, std)
    )
    present = raw.isNotNull() & (strip(raw) != "")
    return F.when(present, F.struct(
        F.lit(id_type).alias("id_type"),
        raw.alias("raw_value"),
        norm.getField("value").alias("value"),
        norm.getField("is_valid").alias("is_valid"),
        norm.getField("reason").alias("reason"),
    ))


def _identifiers(bronze: DataFrame, source: SourceConfig, std: StandardizeConfig) -> DataFrame:
    if not source.identifiers:
        spark = bronze.sparkSession
        return spark.createDataFrame([], IDENTIFIERS_SCHEMA)
    schema = bronze.schema
    entries = [_identifier_entry(schema, t, p, std) for t, p in source.identifiers.items()]
    # one pass: build the per-type entries as an array, explode it, drop absent values
    exploded = bronze.select(
        _interaction_id(source).alias("interaction_id"),
        F.explode(F.filter(F.array(*entries), lambda e: e.isNotNull())).alias("e"),
    )
    return exploded.select(
        F.col("interaction_id"),
        F.lit(source.name).alias("source"),
        *[F.col(f"e.{f.name}").cast(f.dataType).alias(f.name) for f in IDENTIFIERS_SCHEMA.fields[2:]],
    )


# --- entry points -------------------------------------------------------------------------

def standardize_source(
    bronze: DataFrame, source: SourceConfig, std: StandardizeConfig
) -> tuple[DataFrame, DataFrame]:
    """(interactions, identifiers) for one source's bronze frame, with the exact silver schemas."""
    check_columns(bronze.schema, source)
    interactions = bronze.select(*interactions_columns(bronze.schema, source, std))
    identifiers = _identifiers(bronze, source, std)
    log.info("standardize %s: %d identifier type(s), %d measure(s)", source.name,
             len(source.identifiers), len(source.measures))
    return interactions, identifiers


def standardize_all(
    bronze_by_source: Mapping[str, DataFrame],
    sources: Iterable[SourceConfig],
    std: StandardizeConfig,
) -> tuple[DataFrame, DataFrame]:
    """Standardise every source present in ``bronze_by_source`` and union the outputs by name."""
    by_name = {s.name: s for s in sources}
    unknown = sorted(set(bronze_by_source) - set(by_name))
    if unknown:
        raise ValueError(f"bronze data for unconfigured source(s) {unknown}; configured: {sorted(by_name)}")
    if not bronze_by_source:
        spark = SparkSession.getActiveSession()
        if spark is None:
            raise ValueError("no bronze data and no active SparkSession to build empty outputs")
        return (spark.createDataFrame([], INTERACTIONS_SCHEMA),
                spark.createDataFrame([], IDENTIFIERS_SCHEMA))
    outputs = [standardize_source(df, by_name[name], std) for name, df in bronze_by_source.items()]
    interactions = functools.reduce(DataFrame.unionByName, (o[0] for o in outputs))
    identifiers = functools.reduce(DataFrame.unionByName, (o[1] for o in outputs))
    return interactions, identifiers


__all__ = [
    "INTERACTIONS_SCHEMA", "IDENTIFIERS_SCHEMA", "standardize_source", "standardize_all",
    "check_columns", "interactions_columns",
]
