"""`cdp forget`: erase one person (GDPR, India's DPDP Act) from every table, history included.

1. Who: a customer id, or an identifier value (normalised as standardize does) with the
   customers holding it and every interaction carrying it (:func:`find_erasure_set`).
2. Every Delta table under storage.root loses the rows naming them (:func:`cdp.erasure.purge.erase_rows`);
   each table that lost rows is rewritten without history, the others are vacuumed.
3. GX results and Data Docs are deleted, reports scrubbed; salted hashes of the erased identifiers
   go to meta/suppression, one audit row to meta/erasure_audit; gold is re-published at its new
   versions under the latest publication's run id and input fingerprint (the next run with no new
   input stays a no-op).
Nothing is written until the request is known to name someone.
"""
from __future__ import annotations

import getpass
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    CHECKPOINT_DIR, COMMIT_METADATA_CONF, ERASURE_WORK_DIR, GOLD_IDENTITY_MAP, GOLD_INTERACTION_CUSTOMER, KNOWN_ID_TYPES,
    META_ERASURE_AUDIT, META_SUPPRESSION, SILVER_IDENTIFIER_RESOLVED, SILVER_IDENTIFIERS,
    SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS,
)
from cdp.erasure.purge import (
    ErasureKeys, delta_tables, erase_rows, purge_files, rewrite_table, scan_logs, scrub_columns, vacuum,
)
from cdp.erasure.suppression import erasure_key, hash_value, suppression_rows
from cdp.publication import input_fingerprint, latest_publication, record_publication
from cdp.standardize.normalize import REASON_PLACEHOLDER, normalize_identifier, null_if_token, phone_country_code
from cdp.tables import append_table, read_table_or_none, remove_path

log = logging.getLogger(__name__)

MIN_NEEDLE = 5  # shorter strings are not searched for in free text (too many false hits)
SKIPPED_TABLES = (META_ERASURE_AUDIT, META_SUPPRESSION)  # erasure's own records hold no raw values
# the tables that say who the person is: rewritten last, so a forget that fails part-way can be rerun
IDENTITY_TABLES = (SILVER_IDENTIFIERS, SILVER_INTERACTION_RESOLVED, SILVER_IDENTIFIER_RESOLVED, GOLD_IDENTITY_MAP,
                   GOLD_INTERACTION_CUSTOMER)
AUDIT_SCHEMA = ("audit_id string, requested_at timestamp, completed_at timestamp, requested_by string, "
                "reason string, request string, customers_erased bigint, interactions_erased bigint, "
                "identifiers_suppressed bigint, identifiers_kept_shared bigint, rows_deleted map<string,bigint>, "
                "rows_scrubbed map<string,bigint>, tables_rewritten array<string>, tables_vacuumed array<string>, "
                "files map<string,bigint>")


@dataclass(frozen=True)
class ForgetRequest:
    """A customer id, or an identifier type and raw value; who asks and why."""
    customer_id: str | None = None
    id_type: str | None = None
    value: str | None = None
    requested_by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ErasureSet:
    """One person's footprint (small: bounded by resolve's per-customer limits)."""
    customers: tuple[str, ...]
    interactions: tuple[str, ...]
    identifiers: tuple[tuple[str, str], ...]  # valid (id_type, value) only they carry: deleted and suppressed
    shared: tuple[tuple[str, str], ...]  # valid values other people carry too (e.g. a shop phone): kept
    needles: tuple[str, ...]  # lower-cased identifier strings deleted wherever free text holds them
    scrub: tuple[str, ...]  # needles plus invalid identifier strings and names: replaced in summaries
    requested: tuple[str, str] | None = None  # the normalised (id_type, value) asked for


# --- who is erased -----------------------------------------------------------------------------

def normalized_identifier(spark: SparkSession, conf: CdpConfig, id_type: str, raw: str) -> str:
    """``raw`` normalised as standardize does; a ConfigError naming it and why when it is not valid."""
    allowed = (*KNOWN_ID_TYPES, *conf.resolve.custom_id_types)
    if id_type not in allowed:
        raise ConfigError(f"--id-type {id_type!r} is not an identifier type; allowed: {list(allowed)}")
    std = conf.standardize
    norm = (spark.createDataFrame([(raw,)], "raw string")
            .select(normalize_identifier(null_if_token(F.col("raw"), std.null_tokens), id_type, std).alias("n"))
            .first()["n"])
    if norm is None or not norm["is_valid"] or not norm["value"]:
        reason = norm["reason"] if norm is not None else "null_like"
        raise ConfigError(f"--value {raw!r} is not a valid {id_type} ({reason}); nothing was erased")
    return norm["value"]


def _union(frames: list[DataFrame | None], spark: SparkSession, schema: str) -> DataFrame:
    present = [f for f in frames if f is not None]
    if not present:
        return spark.createDataFrame([], schema)
    out = present[0]
    for f in present[1:]:
        out = out.unionByName(f)
    return out


def _assignments(spark: SparkSession, conf: CdpConfig) -> DataFrame:
    """interaction_id, customer_id from gold and from resolve's latest output."""
    frames = [t.select("interaction_id", "customer_id") if t is not None else None
              for t in (read_table_or_none(spark, conf, GOLD_INTERACTION_CUSTOMER),
                        read_table_or_none(spark, conf, SILVER_INTERACTION_RESOLVED))]
    return _union(frames, spark, "interaction_id string, customer_id string")


def _identity(spark: SparkSession, conf: CdpConfig) -> DataFrame:
    """id_type, value, customer_id from gold/identity_map and resolve's latest output."""
    gold = read_table_or_none(spark, conf, GOLD_IDENTITY_MAP)
    silver = read_table_or_none(spark, conf, SILVER_IDENTIFIER_RESOLVED)
    frames = [gold.select("id_type", F.col("id_value").alias("value"), "customer_id") if gold is not None else None,
              silver.select("id_type", "value", "customer_id") if silver is not None else None]
    return _union(frames, spark, "id_type string, value string, customer_id string")


def _frame(spark: SparkSession, rows: list[tuple], schema: str) -> DataFrame:
    return spark.createDataFrame(rows, schema)


def _identifier_forms(id_type: str, value: str, country_code: int) -> list[str]:
    """How a value may be written in raw text: itself, and a phone also without its country code."""
    forms = [value]
    if id_type == "phone" and country_code and value.startswith(f"+{country_code}"):
        forms.append(value[len(str(country_code)) + 1:])
    return forms


def find_erasure_set(spark: SparkSession, conf: CdpConfig, request: ForgetRequest) -> ErasureSet:
    """Resolve a request to the customers, interactions and identifiers to erase (reads only)."""
    assignments, identity = _assignments(spark, conf), _identity(spark, conf)
    identifiers = read_table_or_none(spark, conf, SILVER_IDENTIFIERS)
    if identifiers is None:
        identifiers = spark.createDataFrame([], "interaction_id string, id_type string, raw_value string, "
                                                "value string, is_valid boolean, reason string")
    requested = None
    if request.customer_id is not None:
        cid = request.customer_id.strip()
        if not (assignments.where(F.col("customer_id") == cid).head(1)
                or identity.where(F.col("customer_id") == cid).head(1)):
            raise ConfigError(f"unknown customer id {cid!r}: not in {GOLD_INTERACTION_CUSTOMER} or "
                              f"{GOLD_IDENTITY_MAP}; nothing was erased")
        customers = [cid]
        carrying = None
    else:
        if not request.id_type or request.value is None:
            raise ConfigError("give --customer-id, or --id-type and --value")
        requested = (request.id_type, normalized_identifier(spark, conf, request.id_type, request.value))
        match = (F.col("id_type") == requested[0]) & (F.col("value") == requested[1])
        customers = sorted({r["customer_id"] for r in identity.where(match).select("customer_id").distinct().collect()})
        carrying = identifiers.where(match).select("interaction_id")
    cust_df = _frame(spark, [(c,) for c in customers], "customer_id string")
    inter = assignments.join(cust_df, "customer_id", "left_semi").select("interaction_id")
    if carrying is not None:
        inter = inter.unionByName(carrying)
    interactions = sorted({r["interaction_id"] for r in inter.distinct().collect()})  # one person's interactions
    inter_df = _frame(spark, [(i,) for i in interactions], "interaction_id string")
    rows = (identifiers.join(inter_df, "interaction_id", "left_semi")
            .select("id_type", "raw_value", "value", "is_valid", "reason").distinct().collect())
    held = identity.join(cust_df, "customer_id", "left_semi").select("id_type", "value").distinct().collect()
    valid = ({(r["id_type"], r["value"]) for r in rows if r["is_valid"] and r["value"]}
             | {(r["id_type"], r["value"]) for r in held if r["value"]} | ({requested} if requested else set()))
    valid_df = _frame(spark, sorted(valid), "id_type string, value string")
    shared = {(r["id_type"], r["value"]) for r in identifiers.where("is_valid")
              .join(inter_df, "interaction_id", "left_anti").join(valid_df, ["id_type", "value"], "left_semi")
              .select("id_type", "value").distinct().collect()}
    own = valid - shared
    if shared:
        log.warning("forget: %d identifier value(s) of the person are carried by other people's interactions too "
                    "(shared, e.g. a shop's phone): they are kept and not suppressed", len(shared))
    cc = phone_country_code(conf.standardize.default_region)
    needles = {f.lower() for t, v in own for f in _identifier_forms(t, v, cc)}
    needles |= {r["raw_value"].strip().lower() for r in rows if (r["id_type"], r["value"]) in own and r["raw_value"]}
    needles = {n for n in needles if len(n) >= MIN_NEEDLE}
    invalid = {s.strip().lower() for r in rows if not r["is_valid"] and r["reason"] != REASON_PLACEHOLDER
               for s in (r["raw_value"], r["value"]) if s}
    names = _names(spark, conf, inter_df)
    shared_forms = {f.lower() for t, v in shared for f in _identifier_forms(t, v, cc)}
    scrub = {s for s in needles | invalid | names if len(s) >= MIN_NEEDLE and s not in shared_forms}
    return ErasureSet(tuple(customers), tuple(interactions), tuple(sorted(own)), tuple(sorted(shared)),
                      tuple(sorted(needles)), tuple(sorted(scrub)), requested)


def _names(spark: SparkSession, conf: CdpConfig, inter_df: DataFrame) -> set[str]:
    """Lower-cased full names of the erased interactions (scrubbed from summaries and reports)."""
    interactions = read_table_or_none(spark, conf, SILVER_INTERACTIONS)
    if interactions is None:
        return set()
    attrs = interactions.join(inter_df, "interaction_id", "left_semi").select("attributes.full_name",
                                                                              "attributes.name_key")
    return {v.strip().lower() for r in attrs.distinct().collect() for v in r if v}


def erasure_keys(spark: SparkSession, es: ErasureSet) -> ErasureKeys:
    """The key frames :func:`erase_rows` joins against (built from the materialised set, so they
    do not change while the tables they came from are rewritten)."""
    def frame(rows: list[tuple], schema: str) -> DataFrame | None:
        return spark.createDataFrame(rows, schema) if rows else None

    return ErasureKeys(
        interactions=frame([(i,) for i in es.interactions], "interaction_id string"),
        records=frame([tuple(i.split(":", 1)) for i in es.interactions if ":" in i], "source string, record_id string"),
        customers=frame([(c,) for c in es.customers], "customer_id string"),
        identifiers=frame(list(es.identifiers), "id_type string, value string"),
        needles=frame([(n,) for n in es.needles], "needle string"),
        scrub=es.scrub,
    )


# --- the command -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _TablePlan:
    table: str
    deleted: int
    scrubbed: int


def _filtered(spark: SparkSession, conf: CdpConfig, table: str,
              keys: ErasureKeys) -> tuple[DataFrame, DataFrame, DataFrame, Column | None]:
    """(current rows, rows kept, rows kept with summaries scrubbed, condition of a row to scrub)."""
    df = spark.read.format("delta").load(conf.table_path(table))
    kept = erase_rows(df, keys, table.split("/")[0])
    out, hit = scrub_columns(kept, keys)
    return df, kept, out, hit


def _plan(spark: SparkSession, conf: CdpConfig, tables: list[str], keys: ErasureKeys) -> list[_TablePlan]:
    """Rows each table would lose or have scrubbed (reads only)."""
    plans = []
    for table in tables:
        df, kept, _out, hit = _filtered(spark, conf, table, keys)
        deleted = 0 if kept is df else df.count() - kept.count()  # no column that could name the person
        scrubbed = kept.where(hit).count() if hit is not None else 0
        plans.append(_TablePlan(table, deleted, scrubbed))
    return plans


def _request_text(es: ErasureSet, key: str) -> str:
    """What was asked, without the raw value (a value is kept as its salted hash)."""
    if es.requested is None:
        return f"customer_id={es.customers[0]}"
    return f"{es.requested[0]}:sha256={hash_value(key, *es.requested)}"


def run_forget(spark: SparkSession, conf: CdpConfig, request: ForgetRequest) -> dict[str, Any]:
    """Erase the requested person; returns the audit record as a dict (also in meta/erasure_audit)."""
    requested_at = datetime.now(timezone.utc)
    es = find_erasure_set(spark, conf, request)
    keys = erasure_keys(spark, es)
    tables = [t for t in delta_tables(spark, conf.root) if t not in SKIPPED_TABLES]
    plans = _plan(spark, conf, tables, keys)
    untouched = {p.table: conf.table_path(p.table) for p in plans if not (p.deleted or p.scrubbed)}
    history_needles = sorted(set(es.scrub) | {i.lower() for i in es.interactions} | {c.lower() for c in es.customers})
    logs = scan_logs(spark, untouched, history_needles)
    mentioned = logs.mentions
    if not any(p.deleted or p.scrubbed for p in plans) and not mentioned:
        what = f"customer {request.customer_id!r}" if es.requested is None else f"{es.requested[0]} {es.requested[1]!r}"
        raise ConfigError(f"{what} was found in no table under {conf.root}; nothing was erased")

    # was the last publication up to date with its input? Then the erasure's own changes (a
    # steward override naming the person, vacuum commits) must not make the next run recompute
    pub = latest_publication(spark, conf)
    up_to_date = pub is not None and pub.input_fingerprint == input_fingerprint(spark, conf)
    key = erasure_key(spark, conf, create=True)
    audit_id = "E" + requested_at.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    rewrite = sorted((p.table for p in plans if p.deleted or p.scrubbed or p.table in mentioned),
                     key=lambda t: (t in IDENTITY_TABLES, t))
    work = conf.table_path(f"{ERASURE_WORK_DIR}/{audit_id}")
    spark.conf.set(COMMIT_METADATA_CONF, json.dumps({"cdp_erasure": audit_id}))
    try:
        for table in rewrite:
            out = _filtered(spark, conf, table, keys)[2]
            rewrite_table(spark, conf.table_path(table), out, f"{work}/new/{table}", f"{work}/old/{table}")
        remove_path(spark, work)
        # only a table whose commits removed files can hold older versions' files (the person's
        # among them); a rewritten table has no history at all
        vacuumed = sorted(t for t in logs.removed_files if t not in rewrite)
        for table in vacuumed:
            vacuum(spark, conf.table_path(table), conf.erasure.vacuum_retention_hours)
        remove_path(spark, conf.table_path(CHECKPOINT_DIR))  # a killed resolve's graph checkpoints
        files = purge_files(conf, es.scrub)
        append_table(suppression_rows(spark, key, list(es.identifiers), requested_at, audit_id), conf,
                     META_SUPPRESSION)
        audit = {
            "audit_id": audit_id, "requested_at": requested_at, "completed_at": datetime.now(timezone.utc),
            "requested_by": request.requested_by or _login(), "reason": request.reason,
            "request": _request_text(es, key), "customers_erased": len(es.customers),
            "interactions_erased": len(es.interactions), "identifiers_suppressed": len(es.identifiers),
            "identifiers_kept_shared": len(es.shared),
            "rows_deleted": {p.table: p.deleted for p in plans if p.deleted},
            "rows_scrubbed": {p.table: p.scrubbed for p in plans if p.scrubbed},
            "tables_rewritten": rewrite, "tables_vacuumed": vacuumed, "files": files,
        }
        append_table(spark.createDataFrame([audit], AUDIT_SCHEMA), conf, META_ERASURE_AUDIT)
        if pub is not None:  # gold readers and the next run read the rewritten versions
            fingerprint = input_fingerprint(spark, conf) if up_to_date else pub.input_fingerprint
            record_publication(spark, conf, pub.run_id, list(pub.versions), fingerprint)
    finally:
        spark.conf.unset(COMMIT_METADATA_CONF)
    log.info("forget %s: %d customer(s), %d interaction(s), %d table(s) rewritten", audit_id, len(es.customers),
             len(es.interactions), len(rewrite))
    return audit


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def format_forget(audit: dict[str, Any]) -> str:
    """A short summary for the CLI."""
    lines = [f"forget {audit['audit_id']}: {audit['customers_erased']} customer(s), "
             f"{audit['interactions_erased']} interaction(s) erased; {audit['identifiers_suppressed']} identifier "
             f"hash(es) suppressed ({audit['identifiers_kept_shared']} shared value(s) kept)"]
    lines += [f"  {t:<34} {n:>8,} row(s) deleted" for t, n in sorted(audit["rows_deleted"].items())]
    lines += [f"  {t:<34} {n:>8,} row(s) scrubbed" for t, n in sorted(audit["rows_scrubbed"].items())]
    lines.append(f"  {len(audit['tables_rewritten'])} table(s) rewritten without history, "
                 f"{len(audit['tables_vacuumed'])} vacuumed; "
                 f"{audit['files']['gx_folders_deleted']} GX folder(s) deleted, "
                 f"{audit['files']['reports_scrubbed']} report(s) scrubbed; audit in {META_ERASURE_AUDIT}")
    return "\n".join(lines)
