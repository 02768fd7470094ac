"""Report: match rate overall, per source and per channel; customers; held-out identifiers; landing counts.

Only small summaries reach the driver (grouped counts, a top-N list).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    GOLD_CUSTOMER_PROFILE, GOLD_INTERACTION_CUSTOMER, GOLD_RUN_METRICS, META_LANDING_STATS, META_RESOLVE_STATS,
    META_QUALITY_RESULTS, QUARANTINE, REPORTS_DIR, SILVER_HELD_OUT_IDENTIFIERS, SILVER_IDENTIFIERS, SILVER_INTERACTIONS,
    SILVER_LIMIT_SPLITS,
)
from cdp.identity.limits import size_distribution
from cdp.identity.limits import vertex_label
from cdp.identity.resolve import limit_split_summary
from cdp.standardize.normalize import REASON_PLACEHOLDER
from cdp.tables import append_table, read_table, read_table_or_none

log = logging.getLogger(__name__)

MAX_LISTED_HELD_OUT = 50
MAX_LISTED_SPLITS = 50
MAX_LISTED_BLOCKLISTED = 10


def blocklisted_identifiers(identifiers: DataFrame) -> dict[str, Any]:
    """Values standardize refused as placeholders (the blocklist): counts per type and the most used."""
    placeholders = identifiers.where(F.col("reason") == REASON_PLACEHOLDER)
    per_value = placeholders.groupBy("id_type", "value").agg(F.countDistinct("interaction_id").alias("interactions"))
    by_type = [r.asDict() for r in per_value.groupBy("id_type").agg(
        F.count(F.lit(1)).alias("values"), F.sum("interactions").alias("interactions")).orderBy("id_type").collect()]
    top = [r.asDict() for r in per_value.orderBy(F.col("interactions").desc(), "id_type", "value")
           .limit(MAX_LISTED_BLOCKLISTED).collect()]
    return {"by_type": by_type, "top": top}


def _rate(known: int, total: int) -> float:
    return round(known / total, 6) if total else 0.0


def match_rates(ic: DataFrame, profile: DataFrame, by: str | None) -> list[dict[str, Any]]:
    """Share of interactions whose customer holds an identifier of a known type."""
    joined = ic.join(profile.select("customer_id", "is_known"), "customer_id", "left")
    keys = [by] if by else []
    grouped = (joined.groupBy(*keys)
               .agg(F.count(F.lit(1)).alias("interactions"),
                    F.sum(F.when(F.col("is_known"), 1).otherwise(0)).alias("known")))
    rows = (grouped.orderBy(*keys) if keys else grouped).collect()  # one row per source/channel: bounded
    return [{**({by: r[by]} if by else {}), "interactions": int(r["interactions"]), "known": int(r["known"] or 0),
             "match_rate": _rate(int(r["known"] or 0), int(r["interactions"]))} for r in rows]


EVENT_TIME_ISSUES = ("unparseable", "before_min", "future")  # silver/interactions.event_time_issue


def event_time_problems(interactions: DataFrame) -> list[dict[str, Any]]:
    """Per source with any problem: how many event times were unparseable, before
    standardize.event_time_min or too far in the future (each stored as null, raw text kept)."""
    if "event_time_issue" in interactions.columns:
        issue = F.col("event_time_issue")
    else:  # silver written before event_time_issue existed
        issue = (F.when(F.col("event_time_raw").isNotNull() & F.col("event_time").isNull(), F.lit("unparseable"))
                 .when(F.col("event_time") > F.current_timestamp() + F.expr("INTERVAL 1 DAY"), F.lit("future")))
    rows = (interactions.where(issue.isNotNull()).groupBy("source")
            .agg(*[F.count(F.when(issue == i, 1)).alias(i) for i in EVENT_TIME_ISSUES])
            .orderBy("source").collect())  # one row per source: bounded
    return [{"source": r["source"], **{i: int(r[i]) for i in EVENT_TIME_ISSUES}} for r in rows]


def _for_run(stats: DataFrame | None, run_id: str) -> DataFrame | None:
    """This run's rows of a stats table; a stage run alone (e.g. `cdp report`) falls back to the latest run."""
    if stats is None:
        return None
    mine = stats.where(F.col("run_id") == run_id)
    if mine.head(1):
        return mine
    latest = stats.agg(F.max("run_id")).first()[0]
    return stats.where(F.col("run_id") == latest) if latest else None


LANDING_SUMMED = ("input_rows", "landed_rows", "quarantined_rows", "suppressed_rows", "duplicate_record_ids",
                  "new_files", "duplicate_files")
LANDING_LATEST = ("files", "unchanged_files", "empty_files")


def landing_per_source(landing: DataFrame) -> DataFrame:
    """One landing row per (run, source): a resumed run lands the rest of its files in a later
    attempt, so row and new-file counts add up over attempts; file totals are the last attempt's
    (the largest)."""
    present = set(landing.columns)
    aggs = ([F.sum(c).alias(c) for c in LANDING_SUMMED if c in present]
            + [F.max(c).alias(c) for c in LANDING_LATEST if c in present]
            + [F.count(F.lit(1)).alias("attempts")])
    return landing.groupBy("run_id", "source").agg(*aggs)


def quality_section(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    """The run's quality checks (meta/quality_results) per suite: passed and failed counts, failed
    critical checks and warnings with observed values, and where the Data Docs are."""
    from cdp.quality.gates import data_docs_index  # no Great Expectations import

    try:
        docs: str | None = data_docs_index(conf)
    except ConfigError:  # a URI storage.root without quality.gx_dir (quality disabled)
        docs = None
    docs = docs if docs and Path(docs).exists() else None
    results = _for_run(read_table_or_none(spark, conf, META_QUALITY_RESULTS), run_id)
    if results is None:
        return {"run_id": None, "data_docs": docs, "passed": 0, "failed": 0, "suites": []}
    keys = ["layer", "suite", "check", "target"]
    latest = results.groupBy(*keys).agg(F.max_by(F.struct("severity", "success", "observed", "threshold"),
                                                  "checked_at").alias("r"))
    rows = latest.select(*keys, "r.*").orderBy("layer", "suite", "check").collect()  # one row per check: bounded
    suites: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = suites.setdefault(r["suite"], {"suite": r["suite"], "layer": r["layer"], "passed": 0, "failed": 0,
                                           "failing": [], "warnings": []})
        s["passed" if r["success"] else "failed"] += 1
        if not r["success"]:
            item = {k: r[k] for k in ("check", "target", "severity", "observed", "threshold")}
            s["failing" if r["severity"] == "critical" else "warnings"].append(item)
    order = {"bronze": 0, "silver": 1, "gold": 2}
    listed = sorted(suites.values(), key=lambda s: (order.get(s["layer"], 3), s["suite"]))
    return {"run_id": results.select("run_id").first()["run_id"], "data_docs": docs,
            "passed": sum(s["passed"] for s in listed), "failed": sum(s["failed"] for s in listed), "suites": listed}


def build_report(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    """Assemble the run report from the published tables (small summaries only)."""
    ic = read_table(spark, conf, GOLD_INTERACTION_CUSTOMER)
    profile = read_table(spark, conf, GOLD_CUSTOMER_PROFILE)
    overall = match_rates(ic, profile, None)[0] if ic.head(1) else {"interactions": 0, "known": 0, "match_rate": 0.0}
    customers = profile.agg(F.count(F.lit(1)).alias("customers"),
                            F.sum(F.when(F.col("is_known"), 1).otherwise(0)).alias("known_customers"),
                            F.max("interactions").alias("largest")).first()
    largest = [r.asDict() for r in profile.orderBy(F.col("interactions").desc(), "customer_id")
               .select("customer_id", "name", "interactions", "channels").limit(conf.report.largest_customers)
               .collect()]
    held = read_table_or_none(spark, conf, SILVER_HELD_OUT_IDENTIFIERS)
    held_rows = ([r.asDict() for r in held.orderBy(F.col("interactions").desc()).limit(MAX_LISTED_HELD_OUT).collect()]
                 if held is not None else [])
    landing = _for_run(read_table_or_none(spark, conf, META_LANDING_STATS), run_id)
    landing_rows = ([r.asDict() for r in landing_per_source(landing).orderBy("source").collect()]
                    if landing is not None else [])
    resolve = _for_run(read_table_or_none(spark, conf, META_RESOLVE_STATS), run_id)
    if resolve is not None and "recorded_at" in resolve.columns:  # a resumed run: its latest attempt
        resolve = resolve.orderBy(F.col("recorded_at").desc_nulls_last())
    resolve_row = resolve.limit(1).collect() if resolve is not None else []
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    splits = read_table_or_none(spark, conf, SILVER_LIMIT_SPLITS)
    split_rows = ([r.asDict() for r in splits.orderBy("component", "src", "dst").limit(MAX_LISTED_SPLITS).collect()]
                  if splits is not None else [])
    return {
        "run_id": run_id,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "storage_root": conf.root,
        "match_rate": overall,
        "match_rate_by_source": match_rates(ic, profile, "source"),
        "match_rate_by_channel": match_rates(ic, profile, "channel"),
        "customers": int(customers["customers"] or 0),
        "known_customers": int(customers["known_customers"] or 0),
        "largest_customers": largest,
        "held_out_identifiers": {"count": held.count() if held is not None else 0, "top": held_rows},
        "blocklisted_identifiers": blocklisted_identifiers(read_table(spark, conf, SILVER_IDENTIFIERS)),
        "limit_splits": {**(limit_split_summary(splits) if splits is not None else {}), "dropped_links": split_rows},
        "customer_sizes": size_distribution(ic),
        "landing": landing_rows,
        "quarantine_tables": f"{conf.root}/{QUARANTINE}/<source>",
        "event_time_problems": event_time_problems(interactions),
        "resolve": json.loads(resolve_row[0]["summary"]) if resolve_row else {},
        "quality": quality_section(spark, conf, run_id),
        "tables": {"interaction_customer": conf.table_path(GOLD_INTERACTION_CUSTOMER),
                   "customer_profile": conf.table_path(GOLD_CUSTOMER_PROFILE)},
    }


def report_metrics_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the report into (metric, dimension, value) rows for gold/run_metrics."""
    rows = [("match_rate", "overall", report["match_rate"]["match_rate"]),
            ("interactions", "overall", report["match_rate"]["interactions"]),
            ("customers", "overall", report["customers"]),
            ("known_customers", "overall", report["known_customers"]),
            ("held_out_identifiers", "overall", report["held_out_identifiers"]["count"]),
            ("customers_split_by_limits", "overall", (report.get("limit_splits") or {}).get("components_split", 0)),
            ("guarded_links", "overall", (report.get("resolve") or {}).get("guarded_links", 0))]
    rows += [("match_rate", f"source={r['source']}", r["match_rate"]) for r in report["match_rate_by_source"]]
    rows += [("match_rate", f"channel={r['channel']}", r["match_rate"]) for r in report["match_rate_by_channel"]]
    for r in report["landing"] if report["landing"] and report["landing"][0]["run_id"] == report["run_id"] else []:
        for k in ("input_rows", "landed_rows", "quarantined_rows", "suppressed_rows"):
            rows.append((k, f"source={r['source']}", r.get(k) or 0))
    rows += [(f"event_time_{i}", f"source={r['source']}", r[i]) for r in report.get("event_time_problems", [])
             for i in EVENT_TIME_ISSUES]
    return [{"run_id": report["run_id"], "metric": m, "dimension": d, "value": float(v)} for m, d, v in rows]


def run_report(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    """Build the report, append it to gold/run_metrics and write reports/run_<id>.json."""
    report = build_report(spark, conf, run_id)
    metrics = spark.createDataFrame(report_metrics_rows(report),
                                    "run_id string, metric string, dimension string, value double")
    append_table(metrics.withColumn("reported_at", F.current_timestamp()), conf, GOLD_RUN_METRICS)
    text = json.dumps(report, indent=2, default=str)
    if "://" not in conf.root:
        out = Path(conf.root) / REPORTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        (out / f"run_{run_id}.json").write_text(text)
        (out / "latest.json").write_text(text)
        report["report_file"] = str(out / f"run_{run_id}.json")
    else:
        spark.createDataFrame([(text,)], "value string").coalesce(1).write.mode("overwrite").text(
            f"{conf.root}/{REPORTS_DIR}/run_{run_id}")
        report["report_file"] = f"{conf.root}/{REPORTS_DIR}/run_{run_id}"
    log.info("report: match rate %.4f over %d interactions, %d customers", report["match_rate"]["match_rate"],
             report["match_rate"]["interactions"], report["customers"])
    return report


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def _matching_lines(matching: dict[str, Any] | None) -> list[str]:
    if not matching:
        return []
    if matching.get("status") != "on":
        return [f"fuzzy matching: off, deterministic links only ({matching.get('reason')})"]
    lines = [f"fuzzy matching: {matching['model']} v{matching['model_version']} ({matching['model_type']}), "
             f"threshold {matching['threshold']:.6g}: {matching['match_records']:,} match records, "
             f"{matching['candidate_pairs']:,} candidate pairs, {matching['matched_pairs']:,} matched, "
             f"{matching['components_joined']:,} deterministic customers joined"]
    for r in matching.get("rules", []):
        hot = (f", {r['hot_blocks']:,} hot block(s) over the size cap skipped ({r['records_in_hot_blocks']:,} records)"
               if r["hot_blocks"] else "")
        lines.append(f"  rule {r['rule']:<20} {r['pairs']:>9,} pairs from {r['blocks']:,} blocks{hot}")
    return lines


def _quality_lines(quality: dict[str, Any] | None) -> list[str]:
    if not quality:
        return []
    if not quality["suites"]:
        return ["quality: no quality results found (quality.enabled: false, or no gated stage has run)"]
    run_note = f" (run {quality['run_id']})"
    lines = [f"quality{run_note}: {quality['passed']:,} checks passed, {quality['failed']:,} failed; "
             f"Data Docs: {quality['data_docs'] or 'not built'}"]
    for s in quality["suites"]:
        lines.append(f"  {s['suite']:<34} {s['passed']:>3} passed, {s['failed']} failed")
        lines += [f"    FAILED {f['check']} on {f['target']}: observed {f['observed']} vs threshold {f['threshold']}"
                  for f in s["failing"]]
        lines += [f"    warning {w['check']} on {w['target']}: observed {w['observed']} vs threshold {w['threshold']}"
                  for w in s["warnings"]]
    return lines


def _held_out_why(row: dict[str, Any]) -> str:
    return row.get("reason") or f"linked to {row['interactions']} interactions (cap {row.get('cap')})"


def format_report(report: dict[str, Any]) -> str:
    """A human-readable summary for the CLI."""
    mr = report["match_rate"]
    lines = [
        f"run {report['run_id']}",
        f"match rate: {mr['match_rate']:.2%} of {mr['interactions']:,} interactions attributed to a known customer",
        f"customers: {report['customers']:,} ({report['known_customers']:,} known)",
        "by source:" + "".join(f"\n  {r['source']:<14} {r['match_rate']:7.2%}  ({r['interactions']:,})"
                               for r in report["match_rate_by_source"]),
        "by channel:" + "".join(f"\n  {r['channel']:<14} {r['match_rate']:7.2%}  ({r['interactions']:,})"
                                for r in report["match_rate_by_channel"]),
    ]
    if report["landing"]:
        run_note = "" if report["landing"][0]["run_id"] == report["run_id"] else f" from run {report['landing'][0]['run_id']}"
        lines.append(f"landing{run_note} (input = landed + quarantined + suppressed (erased persons); "
                     f"quarantine in {report['quarantine_tables']}):" + "".join(
            f"\n  {r['source']:<14} {r['input_rows']:>9,} = {r['landed_rows']:,} + {r['quarantined_rows']:,}"
            f" + {r.get('suppressed_rows') or 0:,}  (duplicate record ids: {r['duplicate_record_ids']:,})"
            for r in report["landing"]))
    else:
        lines.append("landing: no landing statistics found (run `cdp land` or `cdp run`)")
    for r in report["event_time_problems"]:
        lines.append(f"event_time: {r['source']}: {r['unparseable']:,} unparseable, {r['before_min']:,} before "
                     f"standardize.event_time_min, {r['future']:,} in the future (stored as null; the text is "
                     "in event_time_raw, the reason in event_time_issue)")
    held = report["held_out_identifiers"]
    lines.append(f"suspect identifiers held out of linking: {held['count']}" + "".join(
        f"\n  {r['id_type']}:{r['value']}: {_held_out_why(r)}" for r in held["top"][:10]))
    guarded = (report.get("resolve") or {}).get("guarded_links")
    if guarded:
        lines.append(f"household guard: {guarded:,} link(s) not taken: a name whose initial differs from the "
                     "identifier owner's (a family member's bill keyed by the head's mobile); they stay fuzzy-match "
                     "candidates; listed in silver/guarded_links")
    blocked = report.get("blocklisted_identifiers") or {}
    if blocked.get("by_type"):
        lines.append("blocklisted (placeholder) identifiers: " + ", ".join(
            f"{r['id_type']} {r['values']:,} value(s) on {r['interactions']:,} interactions" for r in blocked["by_type"])
            + "".join(f"\n  {r['id_type']}:{r['value']} on {r['interactions']:,} interactions" for r in blocked["top"][:5]))
    splits = report.get("limit_splits") or {}
    if splits:
        listed = splits.get("dropped_links", [])[:10]
        lines.append(f"limit splits: {splits.get('components_split', 0):,} customer(s) split, "
                     f"{splits.get('links_dropped', 0):,} link(s) dropped; customers per limit broken: "
                     f"{splits.get('by_limit') or {}}; first {len(listed)} dropped links (all in "
                     "silver/limit_splits):" + "".join(
            f"\n  {vertex_label(r['component'])}: {r['limits']}: dropped {r['link_type']} {vertex_label(r['src'])} -- "
            f"{vertex_label(r['dst'])} "
            f"({r['dropped_because']})" for r in listed))
    if report.get("customer_sizes"):
        lines.append("customer sizes (interactions: customers): " + ", ".join(
            f"{r['interactions']}: {r['customers']:,}" for r in report["customer_sizes"]))
    lines.append("largest customers:" + "".join(
        f"\n  {r['customer_id']} {_short(r['name'])}: {r['interactions']} interactions"
        for r in report["largest_customers"]))
    lines.extend(_matching_lines(report.get("resolve", {}).get("matching")))
    if report.get("resolve"):
        rest = {k: v for k, v in report["resolve"].items() if k not in ("matching", "limit_splits")}
        lines.append(f"resolve: {json.dumps(rest, default=str)}")
    lines.extend(_quality_lines(report.get("quality")))
    lines.append(f"tables under {report['storage_root']}; report file {report.get('report_file', '-')}")
    return "\n".join(lines)
