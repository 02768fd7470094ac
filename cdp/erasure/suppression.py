"""Suppression of erased identifiers: salted hashes in meta/suppression, checked at landing.

``value_hash = sha256(key || id_type || ':' || normalised value)``. The key is the environment
variable named by ``erasure.salt_env`` or, when it is unset, a random key created once in
``<storage.root>/meta/_erasure_salt`` (beside the data, which a warning says). Landing hashes each
incoming row's normalised identifiers the same way and drops a row that carries a suppressed one,
unless ``erasure.allow_new_interactions`` is on and the row's event time is after the erasure.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError, SourceConfig, StandardizeConfig
from cdp.constants import ERASURE_SALT_FILE, META_SUPPRESSION
from cdp.standardize.normalize import normalize_identifier, null_if_token
from cdp.standardize.standardize import column_at, has_column
from cdp.tables import hadoop_fs

log = logging.getLogger(__name__)

SUPPRESSION_SCHEMA = "id_type string, value_hash string, erased_at timestamp, audit_id string, key_id string"
SUPPRESSED_COL = "_cdp_suppressed"


@dataclass(frozen=True)
class Suppression:
    """The suppressed hashes (id_type, value_hash, erased_at: one row per hash) and their key."""
    hashes: DataFrame
    key: str


def key_id(key: str) -> str:
    """A short fingerprint of the key, stored with each hash so a changed key is detected."""
    return hashlib.sha256(f"cdp-erasure-key:{key}".encode()).hexdigest()[:16]


def hash_value(key: str, id_type: str, value: str) -> str:
    """The salted hash of one normalised identifier (same bytes as :func:`hash_column`)."""
    return hashlib.sha256(f"{key}{id_type}:{value}".encode("utf-8")).hexdigest()


def hash_column(key: str, id_type: str, value: Column) -> Column:
    return F.sha2(F.concat(F.lit(key), F.lit(id_type), F.lit(":"), value), 256)


def _read_first_line(spark: SparkSession, path: str) -> str | None:
    fs, hpath = hadoop_fs(spark, path)
    if not fs.exists(hpath):
        return None
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop streams are only reachable through py4j
    stream = fs.open(hpath)
    try:
        line = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8")).readLine()
    finally:
        stream.close()
    return (line or "").strip() or None


def _create_key_file(spark: SparkSession, path: str) -> str:
    key = secrets.token_hex(32)
    fs, hpath = hadoop_fs(spark, path)
    out = fs.create(hpath, False)  # never overwrite an existing key
    try:
        out.write(bytearray(key.encode("ascii")))
    finally:
        out.close()
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001
        fs.setPermission(hpath, jvm.org.apache.hadoop.fs.permission.FsPermission("600"))
    except Exception:  # noqa: BLE001 - object stores have no POSIX permissions
        log.debug("could not restrict the permissions of %s", path, exc_info=True)
    return key


def erasure_key(spark: SparkSession, conf: CdpConfig, create: bool = False) -> str | None:
    """The hash key: $<erasure.salt_env>, else the key file under storage.root (created when
    ``create``); None when neither exists and ``create`` is false."""
    env = os.environ.get(conf.erasure.salt_env)
    if env:
        return env
    path = conf.table_path(ERASURE_SALT_FILE)
    key = _read_first_line(spark, path)
    if key is None and create:
        key = _create_key_file(spark, path)
        log.warning("created the erasure hash key %s: it is stored beside the data, so anyone who can read the "
                    "warehouse can test a guessed identifier against meta/suppression; set $%s to keep it "
                    "elsewhere (with the same value)", path, conf.erasure.salt_env)
    elif key is not None and create:
        log.warning("erasure hash key read from %s, beside the data (set $%s to keep it elsewhere)",
                    path, conf.erasure.salt_env)
    return key


def suppression_rows(spark: SparkSession, key: str, identifiers: list[tuple[str, str]], erased_at: datetime,
                     audit_id: str) -> DataFrame:
    """meta/suppression rows for erased ``(id_type, normalised value)`` pairs (hashes only)."""
    kid = key_id(key)
    rows = [(t, hash_value(key, t, v), erased_at, audit_id, kid) for t, v in sorted(set(identifiers))]
    return spark.createDataFrame(rows, SUPPRESSION_SCHEMA)


def load_suppression(spark: SparkSession, conf: CdpConfig) -> Suppression | None:
    """The suppressed hashes, or None before the first erasure. A ConfigError when the key that
    made them is not available (landing would otherwise let erased people back in silently)."""
    path = conf.table_path(META_SUPPRESSION)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    table = spark.read.format("delta").load(path)
    key = erasure_key(spark, conf)
    used = {r["key_id"] for r in table.select("key_id").distinct().collect()}  # one per key ever used
    if key is None or used - {key_id(key)}:
        raise ConfigError(f"{META_SUPPRESSION} holds hashes made with a key that is not available "
                          f"(${conf.erasure.salt_env} is unset or different, and {ERASURE_SALT_FILE} is missing or "
                          f"different): set ${conf.erasure.salt_env} to the key `cdp forget` used")
    hashes = table.groupBy("id_type", "value_hash").agg(F.max("erased_at").alias("erased_at"))
    return Suppression(hashes, key)


def mark_suppressed(df: DataFrame, source: SourceConfig, std: StandardizeConfig, suppression: Suppression,
                    event_time: Column, allow_new_interactions: bool) -> DataFrame:
    """``df`` (raw landing rows of ``source``) plus a boolean SUPPRESSED_COL: the row carries a
    suppressed identifier (normalised as standardize does) and is not a later interaction
    (event time after the erasure, when ``allow_new_interactions``)."""
    out, erased_cols = df, []
    for i, (id_type, path) in enumerate(sorted(source.identifiers.items())):
        if not has_column(df.schema, path):
            continue
        norm = normalize_identifier(null_if_token(column_at(df.schema, path), std.null_tokens), id_type, std)
        h, e = f"_cdp_sup_hash{i}", f"_cdp_sup_erased{i}"
        hashes = suppression.hashes.where(F.col("id_type") == id_type).select(
            F.col("value_hash").alias(h), F.col("erased_at").alias(e))
        out = (out.withColumn(h, F.when(norm.getField("is_valid"), hash_column(suppression.key, id_type,
                                                                                norm.getField("value"))))
               .join(hashes, h, "left").drop(h))
        erased_cols.append(e)
    if not erased_cols:
        return df.withColumn(SUPPRESSED_COL, F.lit(False))
    erased_at = F.greatest(*[F.col(c) for c in erased_cols]) if len(erased_cols) > 1 else F.col(erased_cols[0])
    later = event_time.isNotNull() & (event_time > erased_at) if allow_new_interactions else F.lit(False)
    return out.withColumn(SUPPRESSED_COL, erased_at.isNotNull() & ~later).drop(*erased_cols)
