"""Steward overrides: cannot-link and must-link between interactions or identifier values.

`cdp unmerge A B` and `cdp link A B` append a row to meta/steward_overrides; every later resolve
applies the active rows: a must-link is an edge of the highest priority, a cannot-link splits
any component holding both ends (see :mod:`cdp.identity.limits`).

A reference is ``interaction:<interaction_id>`` (e.g. ``interaction:pos:B1007``) or
``<id_type>:<value>`` (e.g. ``email:Ravi@Example.com``, normalised like standardize does).
"""
from __future__ import annotations

import getpass
import hashlib
import logging
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    COMMIT_METADATA_CONF, GOLD_IDENTITY_MAP, GOLD_INTERACTION_CUSTOMER, KNOWN_ID_TYPES, META_STEWARD_OVERRIDES,
    SILVER_IDENTIFIERS, SILVER_INTERACTIONS,
)
from cdp.identity.limits import CANNOT_LINKS_SCHEMA, IDENTIFIER_PREFIX, INTERACTION_PREFIX
from cdp.tables import append_table, read_table_or_none

log = logging.getLogger(__name__)

CANNOT_LINK = "cannot_link"
MUST_LINK = "must_link"
OVERRIDES_SCHEMA = ("override_id string, kind string, left string, right string, left_ref string, "
                    "right_ref string, created_by string, reason string, created_at timestamp, active boolean")


def reference_vertex(spark: SparkSession, conf: CdpConfig, ref: str) -> str:
    """The graph vertex id of a steward reference (see the module docstring); a ConfigError
    names the reference when it cannot be one."""
    kind, sep, rest = ref.partition(":")
    if not sep or not rest.strip():
        raise ConfigError(f"reference {ref!r}: write interaction:<interaction_id> or <id_type>:<value>")
    if kind == "interaction":
        return INTERACTION_PREFIX + rest.strip()
    allowed = [*KNOWN_ID_TYPES, *conf.resolve.custom_id_types]
    if kind not in allowed:
        raise ConfigError(f"reference {ref!r}: unknown identifier type {kind!r}; use interaction:<id> "
                          f"or one of {allowed}")
    from cdp.standardize.normalize import normalize_identifier  # imports phonenumbers

    row = (spark.createDataFrame([(rest,)], "raw string")
           .select(normalize_identifier(F.col("raw"), kind, conf.standardize).alias("n")).first())
    if row is None or not row["n"]["is_valid"]:
        why = row["n"]["reason"] if row is not None else "empty"
        raise ConfigError(f"reference {ref!r}: {kind} value {rest!r} is not valid after normalisation ({why})")
    return f"{IDENTIFIER_PREFIX}{kind}:{row['n']['value']}"


def add_override(spark: SparkSession, conf: CdpConfig, kind: str, left_ref: str, right_ref: str,
                 reason: str, created_by: str | None = None) -> dict[str, str]:
    """Record a cannot_link or must_link between two references; returns the stored row."""
    if kind not in (CANNOT_LINK, MUST_LINK):
        raise ValueError(f"kind must be {CANNOT_LINK!r} or {MUST_LINK!r}, got {kind!r}")
    left, right = reference_vertex(spark, conf, left_ref), reference_vertex(spark, conf, right_ref)
    if left == right:
        raise ConfigError(f"{left_ref!r} and {right_ref!r} are the same vertex {left!r}")
    left, right = sorted((left, right))
    check_override(spark, conf, kind, left, right, reason)
    created_at = datetime.now(timezone.utc)
    override_id = "O" + hashlib.sha256(f"{kind}|{left}|{right}|{created_at.isoformat()}".encode()).hexdigest()[:12]
    row = {"override_id": override_id, "kind": kind, "left": left, "right": right, "left_ref": left_ref,
           "right_ref": right_ref, "created_by": created_by or getpass.getuser(), "reason": reason,
           "created_at": created_at, "active": True}
    append_table(spark.createDataFrame([row], OVERRIDES_SCHEMA), conf, META_STEWARD_OVERRIDES)
    log.info("steward override %s: %s %s <-> %s by %s", override_id, kind, left, right, row["created_by"])
    return {k: str(v) for k, v in row.items()}


def _vertex_parts(vertex: str) -> tuple[str | None, str]:
    """``(None, interaction_id)`` for an interaction vertex, ``(id_type, value)`` for an identifier."""
    if vertex.startswith(INTERACTION_PREFIX):
        return None, vertex[len(INTERACTION_PREFIX):]
    id_type, _, value = vertex[len(IDENTIFIER_PREFIX):].partition(":")
    return id_type, value


def _rows_naming(vertex: str, interactions: DataFrame, identifiers: DataFrame, value_column: str) -> DataFrame:
    """The rows of ``interactions`` (for an interaction vertex) or of ``identifiers`` (for an
    identifier vertex, its value in ``value_column``) that name the vertex."""
    id_type, value = _vertex_parts(vertex)
    if id_type is None:
        return interactions.where(F.col("interaction_id") == value)
    return identifiers.where((F.col("id_type") == id_type) & (F.col(value_column) == value))


def check_override(spark: SparkSession, conf: CdpConfig, kind: str, left: str, right: str, reason: str) -> None:
    """Refuse an override that cannot do what the steward means (ConfigError, nothing written):
    no reason; the same or the opposite override already active; once the warehouse has data, an
    end that is in no table; a must-link joining customers that hold different values of a type a
    customer may hold once (two customer_ids: the must-link would move interactions between them)."""
    from cdp.publication import read_published

    if not reason or not reason.strip():
        raise ConfigError("an override needs --reason (why; it is kept with the override)")
    table = read_table_or_none(spark, conf, META_STEWARD_OVERRIDES)
    same_pair = (table.where(F.col("active") & (F.col("left") == left) & (F.col("right") == right)).first()
                 if table is not None else None)
    if same_pair is not None:
        if same_pair["kind"] == kind:
            raise ConfigError(f"the same {kind} is already active as override {same_pair['override_id']}")
        raise ConfigError(f"a {kind} contradicts the active {same_pair['kind']} {same_pair['override_id']} on the "
                          f"same pair; withdraw it first: cdp overrides --withdraw {same_pair['override_id']} "
                          "--reason ...")
    interactions = read_table_or_none(spark, conf, SILVER_INTERACTIONS)
    identifiers = read_table_or_none(spark, conf, SILVER_IDENTIFIERS)
    if interactions is None or identifiers is None:
        return  # nothing landed yet: an override may be recorded ahead of the data
    for v in (left, right):
        if not _rows_naming(v, interactions, identifiers, "value").head(1):
            id_type, value = _vertex_parts(v)
            what = (f"interaction {value!r} is not in {SILVER_INTERACTIONS}" if id_type is None
                    else f"{id_type} {value!r} is on no interaction in {SILVER_IDENTIFIERS}")
            raise ConfigError(f"{what}; check the reference (interaction ids are <source>:<record_id>)")
    unique = [t for t, k in conf.resolve.max_values_per_customer.items() if k == 1]
    ic = read_published(spark, conf, GOLD_INTERACTION_CUSTOMER)
    idmap = read_published(spark, conf, GOLD_IDENTITY_MAP)
    if kind != MUST_LINK or not unique or ic is None or idmap is None:
        return
    customers = {r["customer_id"] for v in (left, right)
                 for r in _rows_naming(v, ic, idmap, "id_value").select("customer_id").limit(1).collect()}
    if len(customers) < 2:
        return
    held = (idmap.where(F.col("customer_id").isin(*customers) & F.col("id_type").isin(*unique))
            .groupBy("id_type").agg(F.countDistinct("id_value").alias("n"), F.collect_set("customer_id").alias("c"))
            .where((F.col("n") > 1) & (F.size("c") > 1)).collect())  # <= one row per unique type
    if held:
        raise ConfigError(
            f"a must_link between {left} and {right} would join customers {sorted(customers)}, which hold "
            f"different {', '.join(r['id_type'] for r in held)} values (resolve.max_values_per_customer allows 1): "
            "resolve would keep them apart by moving other links. If they are one person, fix the source "
            "records' ids; if not, use `cdp unmerge`")


def list_overrides(spark: SparkSession, conf: CdpConfig) -> list[dict[str, str]]:
    """Every override, newest first (a steward's table: small)."""
    table = read_table_or_none(spark, conf, META_STEWARD_OVERRIDES)
    if table is None:
        return []
    return [{k: str(v) for k, v in r.asDict().items()} for r in table.orderBy(F.col("created_at").desc()).collect()]


def withdraw_override(spark: SparkSession, conf: CdpConfig, override_id: str, reason: str,
                      withdrawn_by: str | None = None) -> None:
    """Set an override inactive from the next run on; who and why go into the Delta commit's
    metadata (DESCRIBE HISTORY meta/steward_overrides)."""
    import json

    from delta.tables import DeltaTable

    table = read_table_or_none(spark, conf, META_STEWARD_OVERRIDES)
    found = table.where(F.col("override_id") == override_id).select("active").collect() if table is not None else []
    if not found:
        known = [r["override_id"] for r in table.select("override_id").limit(20).collect()] if table is not None else []
        raise ConfigError(f"no steward override {override_id!r} in {META_STEWARD_OVERRIDES}; known: {known}")
    if not any(r["active"] for r in found):
        raise ConfigError(f"steward override {override_id!r} is already withdrawn")
    who = withdrawn_by or getpass.getuser()
    spark.conf.set(COMMIT_METADATA_CONF, json.dumps({"cdp_withdrawn": override_id, "by": who, "reason": reason}))
    try:
        DeltaTable.forPath(spark, conf.table_path(META_STEWARD_OVERRIDES)).update(
            F.col("override_id") == override_id, {"active": F.lit(False)})
    finally:
        spark.conf.unset(COMMIT_METADATA_CONF)
    log.info("steward override %s withdrawn by %s: %s", override_id, who, reason)


def active_overrides(spark: SparkSession, conf: CdpConfig) -> tuple[DataFrame, DataFrame]:
    """``(must_links (left, right), cannot_links CANNOT_LINKS_SCHEMA)`` from the active overrides."""
    table = read_table_or_none(spark, conf, META_STEWARD_OVERRIDES)
    if table is None:
        return (spark.createDataFrame([], "left string, right string"),
                spark.createDataFrame([], CANNOT_LINKS_SCHEMA))
    active = table.where(F.col("active"))
    must = active.where(F.col("kind") == MUST_LINK).select("left", "right").distinct()
    cannot = active.where(F.col("kind") == CANNOT_LINK).select("override_id", "left", "right")
    return must, cannot
