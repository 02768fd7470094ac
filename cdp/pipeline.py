"""Run the stages in order: land -> standardize -> resolve -> profile -> report."""
from __future__ import annotations

import json
from dataclasses import asdict
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from pyspark.sql import SparkSession

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    COMMIT_METADATA_CONF, META_RESOLVE_STATS, STAGE_LAND, STAGE_PROFILE, STAGE_REPORT, STAGE_RESOLVE,
    STAGE_STANDARDIZE, STAGE_TRAIN, STAGES,
)
from cdp.identity.resolve import run_resolve
from cdp.landing.land import run_land
from cdp.profiles.profile import run_profile
from cdp.publication import (
    RUN_CONFIG_ERROR, RUN_STARTED, RUN_UNCHANGED, input_fingerprint, interrupted_run_id, latest_publication,
    record_run_event,
)
from cdp.reporting.report import run_report
from cdp.standardize.stage import run_standardize
from cdp.tables import append_table

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _resolve_and_record(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    summary = run_resolve(spark, conf, run_id)
    row = [{"run_id": run_id, "summary": json.dumps(summary, default=str), "recorded_at": datetime.now(timezone.utc)}]
    # recorded_at: a resumed run has one row per attempt, and its report shows the latest
    append_table(spark.createDataFrame(row, "run_id string, summary string, recorded_at timestamp"), conf,
                 META_RESOLVE_STATS)
    return summary


def _train(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    from cdp.matching.train import run_train  # MLflow is imported only when training

    return run_train(spark, conf, run_id)


STAGE_FUNCTIONS: dict[str, Callable[[SparkSession, CdpConfig, str], Any]] = {
    STAGE_LAND: lambda spark, conf, run_id: [asdict(s) for s in run_land(spark, conf, run_id)],
    STAGE_STANDARDIZE: run_standardize,
    STAGE_TRAIN: _train,
    STAGE_RESOLVE: _resolve_and_record,
    STAGE_PROFILE: run_profile,
    STAGE_REPORT: run_report,
}


# stage -> (quality layer, when): bronze after land, silver after standardize, and gold on
# resolve's candidate outputs before profile publishes them (so `cdp profile` alone is gated too)
QUALITY_GATES: dict[str, tuple[str, str]] = {
    STAGE_LAND: ("bronze", "after"), STAGE_STANDARDIZE: ("silver", "after"), STAGE_PROFILE: ("gold", "before"),
}


def _quality_gate(spark: SparkSession, conf: CdpConfig, stage: str, run_id: str, when: str) -> None:
    """Run the stage's quality gate (raises cdp.quality.QualityGateError on a failed critical check)."""
    layer, at = QUALITY_GATES.get(stage, (None, None))
    if layer is not None and at == when and conf.quality.enabled:
        from cdp.quality.gates import run_layer_checks  # imports Great Expectations

        run_layer_checks(spark, conf, run_id, layer)


def run_stage(spark: SparkSession, conf: CdpConfig, stage: str, run_id: str) -> Any:
    if stage not in STAGE_FUNCTIONS:
        raise ValueError(f"unknown stage {stage!r}; stages: {list(STAGES)} and {STAGE_TRAIN!r}")
    started = time.monotonic()
    log.info("stage %s: started (run %s)", stage, run_id)
    _quality_gate(spark, conf, stage, run_id, "before")
    result = STAGE_FUNCTIONS[stage](spark, conf, run_id)
    _quality_gate(spark, conf, stage, run_id, "after")
    log.info("stage %s: done in %.1fs", stage, time.monotonic() - started)
    return result


def stages_with_training(stages: Sequence[str] = STAGES) -> tuple[str, ...]:
    """``stages`` with the train stage inserted before resolve."""
    out: list[str] = []
    for stage in stages:
        if stage == STAGE_RESOLVE:
            out.append(STAGE_TRAIN)
        out.append(stage)
    return tuple(out)


def run_pipeline(spark: SparkSession, conf: CdpConfig, run_id: str | None = None,
                 stages: Sequence[str] = STAGES) -> dict[str, Any]:
    """Run the given stages (all by default); returns the report when the report stage ran.

    A full run (land through profile) without a run id resumes the latest run that started and
    never published (killed, or stopped by a failed check), so its new customer ids are the ones
    an uninterrupted run would have given. When land finds nothing new and the config and match
    model are those of the last publication, the run stops after land: every table is unchanged.
    """
    full = STAGE_LAND in stages and STAGE_PROFILE in stages
    if run_id is None:
        resumed = interrupted_run_id(spark, conf) if full else None
        if resumed:
            log.warning("resuming run %s: it started and never published (killed, or stopped by a check)", resumed)
        run_id = resumed or new_run_id()
    if full:
        record_run_event(spark, conf, run_id, RUN_STARTED)
    results: dict[str, Any] = {"run_id": run_id, "stage_seconds": {}}
    for stage in stages:
        started = time.monotonic()
        # every Delta commit of the stage carries the run id in its history (DESCRIBE HISTORY)
        spark.conf.set(COMMIT_METADATA_CONF, json.dumps({"cdp_run_id": run_id, "stage": stage}))
        try:
            results[stage] = run_stage(spark, conf, stage, run_id)
        except ConfigError:
            if full:  # meta/runs says why the run stopped, and the next run does not resume this id
                record_run_event(spark, conf, run_id, RUN_CONFIG_ERROR)
            raise
        finally:
            spark.conf.unset(COMMIT_METADATA_CONF)
        results["stage_seconds"][stage] = round(time.monotonic() - started, 2)
        if stage == STAGE_LAND and full:
            unchanged = unchanged_since(spark, conf)
            if unchanged is not None:
                results["unchanged"] = unchanged
                record_run_event(spark, conf, run_id, RUN_UNCHANGED)
                log.info("run %s: no new input since run %s (same files, config and model): nothing to do",
                         run_id, unchanged["published_run_id"])
                break
    return results


def unchanged_since(spark: SparkSession, conf: CdpConfig) -> dict[str, Any] | None:
    """The last publication, when this run's input fingerprint equals its own; else None."""
    pub = latest_publication(spark, conf)
    if pub is None or pub.input_fingerprint != input_fingerprint(spark, conf):
        return None
    return {"published_run_id": pub.run_id, "published_at": pub.published_at.isoformat(timespec="seconds"),
            "versions": pub.versions}
