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

from cdp.config import CdpConfig
from cdp.constants import (
    META_RESOLVE_STATS, STAGE_LAND, STAGE_PROFILE, STAGE_REPORT, STAGE_RESOLVE, STAGE_STANDARDIZE, STAGE_TRAIN,
    STAGES,
)
from cdp.identity.resolve import run_resolve
from cdp.landing.land import run_land
from cdp.profiles.profile import run_profile
from cdp.reporting.report import run_report
from cdp.standardize.stage import run_standardize
from cdp.tables import append_table

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _resolve_and_record(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    summary = run_resolve(spark, conf, run_id)
    row = [{"run_id": run_id, "summary": json.dumps(summary, default=str)}]
    append_table(spark.createDataFrame(row, "run_id string, summary string"), conf, META_RESOLVE_STATS)
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


def run_stage(spark: SparkSession, conf: CdpConfig, stage: str, run_id: str) -> Any:
    if stage not in STAGE_FUNCTIONS:
        raise ValueError(f"unknown stage {stage!r}; stages: {list(STAGES)} and {STAGE_TRAIN!r}")
    started = time.monotonic()
    log.info("stage %s: started (run %s)", stage, run_id)
    result = STAGE_FUNCTIONS[stage](spark, conf, run_id)
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
    """Run the given stages (all by default); returns the report when the report stage ran."""
    run_id = run_id or new_run_id()
    results: dict[str, Any] = {"run_id": run_id, "stage_seconds": {}}
    for stage in stages:
        started = time.monotonic()
        results[stage] = run_stage(spark, conf, stage, run_id)
        results["stage_seconds"][stage] = round(time.monotonic() - started, 2)
    return results
