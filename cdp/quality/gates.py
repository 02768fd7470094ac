"""Quality gates: run a layer's suites through a Great Expectations file-mode context, build
Data Docs, persist every check's outcome to meta/quality_results, and stop the run with a
QualityGateError when a critical check fails.

GX is imported only here, inside the functions that run checks (importing it takes seconds),
so the report stage and the CLI stay light.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    BRONZE, GOLD, GOLD_RUN_METRICS, GX_DIR, META_QUALITY_RESULTS, SILVER, SILVER_IDENTIFIER_RESOLVED,
    SILVER_IDENTIFIERS, SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS, bronze_table,
)
from cdp.quality import QualityGateError
from cdp.quality import frames
from cdp.quality.suites import (
    SuiteSpec, bronze_suite, describe, gold_candidate_suite, gold_largest_customer_suite, gold_match_rate_suite,
    event_time_window, silver_identifier_suite, silver_interactions_suite, to_expectation, valid_share_suite,
)
from cdp.tables import append_table, read_table, read_table_or_none

log = logging.getLogger(__name__)

LAYERS = (BRONZE, SILVER, GOLD)
DATASOURCE = "cdp"
BATCH_DEFINITION = "whole_dataframe"
DATA_DOCS_SITE = "local_site"  # the site of GX's default file-mode project config
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}
RESULTS_SCHEMA = ("run_id string, layer string, suite string, check string, target string, severity string, "
                  "success boolean, observed string, observed_value double, threshold string, details string, "
                  "checked_at timestamp")
_GX_LOGGERS = ("great_expectations",)


@dataclass(frozen=True)
class CheckResult:
    layer: str
    suite: str
    check: str
    target: str
    severity: str
    success: bool
    observed: str
    observed_value: float | None
    threshold: str
    details: str  # JSON: GX's counts, examples, exception message


# --- where GX keeps its project ---------------------------------------------------------

def gx_context_dir(conf: CdpConfig) -> str:
    """quality.gx_dir, or <storage.root>/gx; a URI root needs quality.gx_dir (GX files are local)."""
    if conf.quality.gx_dir:
        return conf.resolve_path(conf.quality.gx_dir)
    if "://" in conf.root:
        raise ConfigError(f"storage.root {conf.root!r} is a URI: set quality.gx_dir to a local folder for the "
                          "Great Expectations project and Data Docs (or quality.enabled: false)")
    return str(Path(conf.root) / GX_DIR)


def data_docs_index(conf: CdpConfig) -> str:
    """Path of the Data Docs index.html (it exists once a gate has run)."""
    return str(Path(gx_context_dir(conf)) / "uncommitted" / "data_docs" / DATA_DOCS_SITE / "index.html")


def _quiet_gx() -> None:
    for name in _GX_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def open_context(conf: CdpConfig):
    """The GX FileDataContext under gx_context_dir (created on first use), progress bars off."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", context_root_dir=gx_context_dir(conf))
    bars = context.variables.progress_bars
    if bars is None or bars.get("globally") or bars.get("metric_calculations"):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    try:
        context.data_sources.get(DATASOURCE)
    except KeyError:
        # persist=False: GX would cache every validated frame and never release it
        context.data_sources.add_spark(name=DATASOURCE, persist=False)
    return context


# --- validating one frame ---------------------------------------------------------------

def _batch_definition(context, name: str):
    datasource = context.data_sources.get(DATASOURCE)
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """GX's exception_info is one {raised_exception, exception_message} dict or a dict of them."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for v in info.values():
        msg = _exception_message(v) if isinstance(v, dict) else None
        if msg:
            return msg
    return None


def validate_suite(context, suite: SuiteSpec, df: DataFrame, run_id: str) -> list[CheckResult]:
    """Run one suite on ``df`` through a Checkpoint whose action updates Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    batch_definition = _batch_definition(context, suite.name)
    gx_suite = context.suites.add_or_update(gx.ExpectationSuite(
        name=suite.name, expectations=[to_expectation(c, suite) for c in suite.checks],
        meta={"layer": suite.layer, "target": suite.target}))
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite))
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=suite.name, validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="update_data_docs")], result_format=RESULT_FORMAT))
    run = RunIdentifier(run_name=run_id, run_time=datetime.now(timezone.utc))
    df = df.persist()  # GX computes several metrics on the frame; released right after
    try:
        outcome = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run)
    finally:
        df.unpersist()
    by_check = {c.check: c for c in suite.checks}
    results: list[CheckResult] = []
    for suite_result in outcome.run_results.values():
        for r in suite_result.results:
            spec = by_check[r.expectation_config.meta["check"]]
            error = _exception_message(r.exception_info)
            observed, value = describe(spec, r.result or {})
            if error:
                observed, value = f"GX could not evaluate the check: {error.splitlines()[0][:300]}", None
            details = {k: _json_safe(v) for k, v in (r.result or {}).items()}
            details.update(description=spec.description, **({"exception": error[:2000]} if error else {}))
            results.append(CheckResult(suite.layer, suite.name, spec.check, suite.target, spec.severity,
                                       bool(r.success), observed, value, spec.threshold,
                                       json.dumps(details, default=str)))
    order = {c.check: i for i, c in enumerate(suite.checks)}
    return sorted(results, key=lambda r: order[r.check])


# --- the frames of each layer -----------------------------------------------------------

def _small(spark: SparkSession, df: DataFrame) -> tuple[DataFrame, list[dict[str, Any]]]:
    """A bounded aggregate frame collected once and rebuilt, so GX does not recompute its joins."""
    rows = df.collect()
    return spark.createDataFrame(rows, df.schema), [r.asDict() for r in rows]


def bronze_suites(spark: SparkSession, conf: CdpConfig) -> list[tuple[SuiteSpec, DataFrame]]:
    """Per source: its bronze table (an empty frame when the table does not exist yet)."""
    out = []
    for source in conf.sources:
        bronze = read_table_or_none(spark, conf, bronze_table(source.name))
        if bronze is None:
            schema = f"{frames.RECORD_ID} string" + (
                f", {frames.EVENT_TIME_PARSED} timestamp" if source.event_time is not None else "")
            df = spark.createDataFrame([], schema)
        else:
            df = frames.bronze_frame(bronze, source, conf.standardize)
        out.append((bronze_suite(source, conf.quality.bronze), df))
    return out


def silver_suites(spark: SparkSession, conf: CdpConfig, now: datetime) -> list[tuple[SuiteSpec, DataFrame]]:
    q = conf.quality.silver
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    identifiers = read_table(spark, conf, SILVER_IDENTIFIERS)
    suite = silver_interactions_suite(q, conf.standardize, now)
    out = [(suite, frames.interactions_frame(interactions, *event_time_window(conf.standardize, now)))]
    for id_type in ("phone", "email"):
        if any(id_type in s.identifiers for s in conf.sources):
            out.append((silver_identifier_suite(id_type, q), frames.valid_identifier_values(identifiers, id_type)))
    shares, rows = _small(spark, frames.valid_share_by_source(
        identifiers, dict(q.valid_identifier_share_by_source), q.valid_identifier_share_min))
    out.append((valid_share_suite(q, rows), shares))
    return out


def gold_suites(spark: SparkSession, conf: CdpConfig, run_id: str) -> list[tuple[SuiteSpec, DataFrame]]:
    """The candidate outputs of resolve, before profile publishes them."""
    q = conf.quality.gold
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    resolved = read_table(spark, conf, SILVER_INTERACTION_RESOLVED)
    id_resolved = read_table(spark, conf, SILVER_IDENTIFIER_RESOLVED)
    previous = frames.previous_match_rate(read_table_or_none(spark, conf, GOLD_RUN_METRICS), run_id)
    largest, [largest_row] = _small(spark, frames.largest_customer(resolved))
    rate, [rate_row] = _small(spark, frames.match_rate_frame(
        interactions, resolved, id_resolved, conf.resolve.known_id_types, previous))
    return [
        (gold_candidate_suite(q, interactions.count()), frames.candidate_frame(resolved)),
        (gold_largest_customer_suite(q, largest_row), largest),
        (gold_match_rate_suite(q, rate_row), rate),
    ]


def layer_suites(spark: SparkSession, conf: CdpConfig, run_id: str, layer: str,
                 now: datetime | None = None) -> list[tuple[SuiteSpec, DataFrame]]:
    """(suite, frame) pairs of a layer."""
    if layer == BRONZE:
        return bronze_suites(spark, conf)
    if layer == SILVER:
        return silver_suites(spark, conf, now or datetime.now(timezone.utc))
    if layer == GOLD:
        return gold_suites(spark, conf, run_id)
    raise ValueError(f"unknown quality layer {layer!r}; layers: {list(LAYERS)}")


# --- results ----------------------------------------------------------------------------

def persist_results(spark: SparkSession, conf: CdpConfig, run_id: str, results: list[CheckResult]) -> None:
    """Append the run's check outcomes to meta/quality_results."""
    if not results:
        return
    now = datetime.now(timezone.utc)
    rows = [{"run_id": run_id, **asdict(r), "checked_at": now} for r in results]
    append_table(spark.createDataFrame(rows, RESULTS_SCHEMA), conf, META_QUALITY_RESULTS)


def _summary(layer: str, results: list[CheckResult], docs: str, seconds: float) -> dict[str, Any]:
    failed = [r for r in results if not r.success]
    return {
        "layer": layer,
        "checks": len(results),
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "critical_failures": [asdict(r) for r in failed if r.severity == "critical"],
        "warnings": [asdict(r) for r in failed if r.severity != "critical"],
        "data_docs": docs,
        "seconds": round(seconds, 2),
    }


def run_layer_checks(spark: SparkSession, conf: CdpConfig, run_id: str, layer: str) -> dict[str, Any]:
    """Run the layer's suites, build Data Docs, persist the results; raise QualityGateError when a
    critical check failed (after persisting, so the report and Data Docs show why)."""
    started = time.monotonic()
    context = open_context(conf)
    results: list[CheckResult] = []
    for suite, df in layer_suites(spark, conf, run_id, layer):
        results.extend(validate_suite(context, suite, df, run_id))
    persist_results(spark, conf, run_id, results)
    docs = data_docs_index(conf)
    summary = _summary(layer, results, docs, time.monotonic() - started)
    for w in summary["warnings"]:
        log.warning("quality %s: warning: %s on %s: observed %s vs threshold %s", layer, w["check"], w["target"],
                    w["observed"], w["threshold"])
    log.info("quality %s: %d checks, %d passed, %d failed (%d critical) in %.1fs; Data Docs %s", layer,
             summary["checks"], summary["passed"], summary["failed"], len(summary["critical_failures"]),
             summary["seconds"], docs)
    if summary["critical_failures"]:
        raise QualityGateError(layer, summary["critical_failures"], docs)
    return summary


__all__ = [
    "CheckResult", "run_layer_checks", "layer_suites", "validate_suite", "open_context", "persist_results",
    "gx_context_dir", "data_docs_index", "LAYERS", "RESULTS_SCHEMA",
]
