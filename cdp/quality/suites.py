"""Typed definitions of the quality suites (one suite per validated frame) and their translation
to Great Expectations expectations.

The definitions are plain data built from the config (thresholds and severities in
cdp.config.QualityConfig, defaults in code); GX is imported only when expectations are built.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from cdp.config import (
    BronzeQualityConfig, GoldQualityConfig, SilverQualityConfig, SourceConfig, StandardizeConfig,
)
from cdp.constants import (
    BRONZE, GOLD, SILVER, SILVER_IDENTIFIERS, SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS, bronze_table,
)
from cdp.quality.frames import EVENT_TIME_PARSED, EVENT_TIME_PLAUSIBLE, RECORD_ID

# kinds of check, and the GX expectation each becomes
NOT_NULL = "not_null"  # ExpectColumnValuesToNotBeNull (completeness, with its own mostly)
REGEX = "regex"  # ExpectColumnValuesToMatchRegex (skips nulls: always paired with NOT_NULL)
BETWEEN = "between"  # ExpectColumnValuesToBeBetween (skips nulls)
UNIQUE = "unique"  # ExpectColumnValuesToBeUnique
ROW_COUNT_MIN = "row_count_min"  # ExpectTableRowCountToBeBetween(min_value=...)
ROW_COUNT_EQUAL = "row_count_equal"  # ExpectTableRowCountToEqual
A_AT_LEAST_B = "a_at_least_b"  # ExpectColumnPairValuesAToBeGreaterThanB(or_equal=True)


@dataclass(frozen=True)
class CheckSpec:
    """One expectation: what it checks, how severe a failure is and how to show the outcome."""
    check: str  # the check's name (the key of quality.<layer>.severity)
    severity: str  # critical | warning
    kind: str
    column: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # mostly, regex, min_value, max_value, value, column_B
    threshold: str = ""  # human-readable threshold, shown with the observed value
    description: str = ""
    # for checks on a small aggregate frame the observed value is computed from the collected rows
    observed: str | None = None
    observed_value: float | None = None
    # the words for a passing / failing row of a NOT_NULL check in the observed text
    present_word: str = "non-null"
    absent_word: str = "null"


@dataclass(frozen=True)
class SuiteSpec:
    """The checks run on one frame; ``name`` names the GX suite, asset, validation and checkpoint."""
    name: str
    layer: str
    target: str  # the table (or table and source) the frame comes from
    checks: tuple[CheckSpec, ...]


def _share(x: float) -> str:
    return f"{x:.4g}"


# --- bronze -----------------------------------------------------------------------------

def bronze_suite(source: SourceConfig, q: BronzeQualityConfig) -> SuiteSpec:
    """Per source: record_id present, at least one row, event_time parseable (when mapped)."""
    table = bronze_table(source.name)
    checks = [
        CheckSpec("record_id_present", q.severity_of("record_id_present"), NOT_NULL, RECORD_ID,
                  {"mostly": q.record_id_present_mostly},
                  f"non-null share >= {_share(q.record_id_present_mostly)}",
                  f"{table}: _record_id is present"),
        CheckSpec("row_count_nonzero", q.severity_of("row_count_nonzero"), ROW_COUNT_MIN, None,
                  {"min_value": 1}, ">= 1 row", f"{table} holds at least one row"),
    ]
    if source.event_time is not None:
        mostly = q.event_time_mostly(source.name)
        checks.append(CheckSpec(
            "event_time_parseable", q.severity_of("event_time_parseable"), NOT_NULL, EVENT_TIME_PARSED,
            {"mostly": mostly}, f"parseable share >= {_share(mostly)}",
            f"{table}: {source.event_time.column!r} parses as {source.event_time.format} "
            "(a missing value counts as not parseable)",
            present_word="parseable", absent_word="missing or unparseable"))
    return SuiteSpec(f"{BRONZE}_{source.name}", BRONZE, table, tuple(checks))


# --- silver -----------------------------------------------------------------------------

def event_time_window(std: StandardizeConfig, now: datetime) -> tuple[datetime | None, datetime | None]:
    """standardize's plausible window [event_time_min, now + event_time_max_days_in_future] in UTC
    (None: no bound on that side)."""
    low = (datetime.combine(std.event_time_min, time(0), tzinfo=timezone.utc)
           if std.event_time_min is not None else None)
    high = (now.astimezone(timezone.utc) + timedelta(days=std.event_time_max_days_in_future)
            if std.event_time_max_days_in_future is not None else None)
    return low, high


def silver_interactions_suite(q: SilverQualityConfig, std: StandardizeConfig, now: datetime) -> SuiteSpec:
    low, high = event_time_window(std, now)
    window = f"[{f'{low:%Y-%m-%d}' if low else '-inf'}, {f'{high:%Y-%m-%d %H:%M} UTC' if high else '+inf'}]"
    return SuiteSpec(f"{SILVER}_interactions", SILVER, SILVER_INTERACTIONS, (
        CheckSpec("interaction_id_unique", q.severity_of("interaction_id_unique"), UNIQUE, "interaction_id",
                  {}, "no repeated interaction_id", f"{SILVER_INTERACTIONS}: interaction_id is unique"),
        # standardize nulls an implausible time and says why in event_time_issue; a range check on
        # event_time alone would skip those nulls, so the frame marks them (see frames.interactions_frame)
        CheckSpec("event_time_window", q.severity_of("event_time_window"), NOT_NULL, EVENT_TIME_PLAUSIBLE,
                  {"mostly": q.event_time_window_mostly},
                  f"share inside {window} >= {_share(q.event_time_window_mostly)}",
                  f"{SILVER_INTERACTIONS}: event_time is plausible (a missing event time is not counted against it)",
                  present_word="plausible", absent_word="outside the event-time window"),
    ))


def silver_identifier_suite(id_type: str, q: SilverQualityConfig) -> SuiteSpec:
    """Valid identifiers of one type (phone | email): a completeness check paired with the pattern."""
    pattern, check = (q.phone_pattern, "phone_e164") if id_type == "phone" else (q.email_pattern, "email_format")
    present = f"{id_type}_present"
    return SuiteSpec(f"{SILVER}_identifiers_{id_type}", SILVER, f"{SILVER_IDENTIFIERS} ({id_type}, is_valid)", (
        CheckSpec(present, q.severity_of(present), NOT_NULL, "value", {"mostly": q.identifier_present_mostly},
                  f"non-null share >= {_share(q.identifier_present_mostly)}",
                  f"valid {id_type} identifiers have a value"),
        CheckSpec(check, q.severity_of(check), REGEX, "value",
                  {"regex": pattern, "mostly": q.identifier_pattern_mostly},
                  f"share matching {pattern} >= {_share(q.identifier_pattern_mostly)}",
                  f"valid {id_type} values match {pattern}"),
    ))


def valid_share_suite(q: SilverQualityConfig, rows: list[dict[str, Any]]) -> SuiteSpec:
    """Per source valid share >= its minimum; ``rows`` is the collected valid_share_by_source frame."""
    below = sorted((r for r in rows if r["valid_share"] < r["min_share"]), key=lambda r: r["source"])
    if not rows:
        observed, value = "no identifiers", None
    elif below:
        observed = "below the minimum: " + ", ".join(
            f"{r['source']} {_share(r['valid_share'])} < {_share(r['min_share'])} ({r['valid']:,} of "
            f"{r['identifiers']:,})" for r in below)
        value = min(r["valid_share"] for r in below)
    else:
        low = min(rows, key=lambda r: (r["valid_share"], r["source"]))
        observed, value = f"lowest: {low['source']} {_share(low['valid_share'])}", low["valid_share"]
    overrides = "".join(f", {s}: {_share(v)}" for s, v in sorted(q.valid_identifier_share_by_source.items()))
    return SuiteSpec(f"{SILVER}_valid_identifier_share", SILVER, f"{SILVER_IDENTIFIERS} (per source)", (
        CheckSpec("valid_identifier_share", q.severity_of("valid_identifier_share"), A_AT_LEAST_B, "valid_share",
                  {"column_B": "min_share"}, f"valid share >= {_share(q.valid_identifier_share_min)}{overrides}",
                  "share of valid identifiers per source", observed, value),
    ))


# --- gold (candidate outputs of resolve) ------------------------------------------------

def gold_candidate_suite(q: GoldQualityConfig, interactions: int) -> SuiteSpec:
    table = SILVER_INTERACTION_RESOLVED
    return SuiteSpec(f"{GOLD}_candidate_interaction_customer", GOLD, table, (
        CheckSpec("interaction_id_unique", q.severity_of("interaction_id_unique"), UNIQUE, "interaction_id",
                  {}, "no repeated interaction_id", f"{table}: each interaction is in exactly one customer"),
        CheckSpec("row_count_matches_interactions", q.severity_of("row_count_matches_interactions"),
                  ROW_COUNT_EQUAL, None, {"value": interactions},
                  f"== {interactions:,} rows ({SILVER_INTERACTIONS})",
                  f"{table} has one row per silver interaction"),
        CheckSpec("customer_id_not_null", q.severity_of("customer_id_not_null"), NOT_NULL, "customer_id",
                  {"mostly": 1.0}, "no null customer_id", f"{table}: customer_id is never null"),
    ))


def gold_largest_customer_suite(q: GoldQualityConfig, row: dict[str, Any]) -> SuiteSpec:
    """``row``: the collected largest_customer frame."""
    n = int(row["interactions"] or 0)
    observed = f"largest customer {row['customer_id']} has {n:,} interactions" if n else "no customers"
    return SuiteSpec(f"{GOLD}_largest_customer", GOLD, f"{SILVER_INTERACTION_RESOLVED} (per customer_id)", (
        CheckSpec("max_customer_interactions", q.severity_of("max_customer_interactions"), BETWEEN,
                  "interactions", {"max_value": q.max_customer_interactions},
                  f"<= {q.max_customer_interactions:,} interactions per customer",
                  "no customer is larger than quality.gold.max_customer_interactions", observed, float(n)),
    ))


def gold_match_rate_suite(q: GoldQualityConfig, row: dict[str, Any]) -> SuiteSpec:
    """``row``: the collected match_rate_frame (drop_points is null without a previous run)."""
    rate = float(row["match_rate"])
    if row["previous_match_rate"] is None:
        observed, value = f"match rate {rate:.4f}; no previous run", None
    else:
        drop = float(row["drop_points"])
        observed = (f"match rate {rate:.4f} vs {float(row['previous_match_rate']):.4f} published by run "
                    f"{row['previous_run_id']}: a drop of {drop:.2f} points")
        value = drop
    return SuiteSpec(f"{GOLD}_match_rate", GOLD, f"{SILVER_INTERACTION_RESOLVED} (match rate)", (
        CheckSpec("match_rate_drop", q.severity_of("match_rate_drop"), BETWEEN, "drop_points",
                  {"max_value": q.max_match_rate_drop_points},
                  f"drop <= {q.max_match_rate_drop_points:g} points from the previous run's published match rate",
                  "the match rate does not fall sharply from the previous run", observed, value),
    ))


# --- to GX ------------------------------------------------------------------------------

def to_expectation(spec: CheckSpec, suite: SuiteSpec):
    """The GX expectation for a check; its meta carries the check, the severity and the layer."""
    import great_expectations.expectations as gxe

    meta = {"check": spec.check, "severity": spec.severity, "layer": suite.layer, "target": suite.target,
            "threshold": spec.threshold}
    common: dict[str, Any] = {"meta": meta, "description": f"[{spec.severity}] {spec.description}"}
    p = spec.params
    if spec.kind == NOT_NULL:
        return gxe.ExpectColumnValuesToNotBeNull(column=spec.column, mostly=p.get("mostly", 1.0), **common)
    if spec.kind == REGEX:
        return gxe.ExpectColumnValuesToMatchRegex(column=spec.column, regex=p["regex"], mostly=p.get("mostly", 1.0),
                                                  **common)
    if spec.kind == BETWEEN:
        bounds = {k: p[k] for k in ("min_value", "max_value") if k in p}
        return gxe.ExpectColumnValuesToBeBetween(column=spec.column, mostly=p.get("mostly", 1.0), **bounds, **common)
    if spec.kind == UNIQUE:
        return gxe.ExpectColumnValuesToBeUnique(column=spec.column, **common)
    if spec.kind == ROW_COUNT_MIN:
        return gxe.ExpectTableRowCountToBeBetween(min_value=p["min_value"], **common)
    if spec.kind == ROW_COUNT_EQUAL:
        return gxe.ExpectTableRowCountToEqual(value=p["value"], **common)
    if spec.kind == A_AT_LEAST_B:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=spec.column, column_B=p["column_B"],
                                                           or_equal=True, **common)
    raise ValueError(f"unknown check kind {spec.kind!r}")


def _examples(result: dict[str, Any]) -> str:
    examples = result.get("partial_unexpected_list") or []
    shown = [e.isoformat() if isinstance(e, (date, datetime)) else e for e in examples[:5]]
    return f", e.g. {shown}" if shown else ""


def describe(spec: CheckSpec, result: dict[str, Any]) -> tuple[str, float | None]:
    """(observed text, observed number) of a check from its GX result dict (BASIC format)."""
    if spec.observed is not None:
        return spec.observed, spec.observed_value
    if "observed_value" in result:
        v = result["observed_value"]
        return f"{v:,} rows", float(v)
    n = int(result.get("element_count") or 0)
    bad = int(result.get("unexpected_count") or 0)
    if spec.kind == NOT_NULL:
        if not n:
            return "no rows", None
        share = (n - bad) / n
        return f"{spec.present_word} share {_share(share)} ({bad:,} of {n:,} {spec.absent_word})", round(share, 6)
    if spec.kind == UNIQUE:
        return f"{bad:,} row(s) with a repeated {spec.column}{_examples(result)}", float(bad)
    non_null = n - int(result.get("missing_count") or 0)
    if not non_null:
        return f"no non-null {spec.column} values ({n:,} rows)", None
    share = (non_null - bad) / non_null
    word, miss = {REGEX: ("matching", "do not match"), BETWEEN: ("inside", "are outside")}.get(
        spec.kind, ("passing", "fail"))
    return (f"share {word} {_share(share)} ({bad:,} of {non_null:,} non-null values {miss}{_examples(result)})",
            round(share, 6))


__all__ = [
    "CheckSpec", "SuiteSpec", "bronze_suite", "silver_interactions_suite", "silver_identifier_suite",
    "valid_share_suite", "gold_candidate_suite", "gold_largest_customer_suite", "gold_match_rate_suite",
    "event_time_window", "to_expectation", "describe",
]
