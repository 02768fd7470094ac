"""Reliable batch runs: a rerun on the same input changes no table; a run killed with SIGKILL in
landing, resolve or profile and then rerun ends with exactly the tables of an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from cdp import faults
from cdp.config import load_config
from cdp.pipeline import run_pipeline, unchanged_since
from cdp.publication import read_as_published_by
from cdp.sample.generator import generate_sample

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# differ between two runs over the same input by nature (wall-clock times)
VOLATILE_COLUMNS = {"_ingested_at", "changed_at", "reported_at", "published_at", "recorded_at", "checked_at",
                    "generated_at"}
DATA_LAYERS = ("bronze", "silver", "gold", "quarantine")
# the GX gates write only meta/ and gx/ (tested in test_quality.py); off here to keep 7 pipeline runs short
QUALITY = "quality:\n  enabled: false\n"


@pytest.fixture(scope="module")
def sample(spark, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("reliability")
    generate_sample(spark, str(tmp / "sample_data"), persons=40, seed=11)
    return tmp


def _conf_file(base: Path, name: str) -> Path:
    """A config in base/conf/ (conf/sources/sample.yaml reads ../sample_data from there)."""
    (base / "conf").mkdir(exist_ok=True)
    path = base / "conf" / f"{name}.yaml"
    path.write_text(f"storage:\n  root: {base / ('warehouse_' + name)}\n"
                    f"sources_file: {REPO / 'conf/sources/sample.yaml'}\n"
                    "matching:\n  enabled: false\n" + QUALITY)
    return path


def _tables(root: Path) -> list[str]:
    return sorted(str(p.parent.relative_to(root)) for p in root.glob("*/*/_delta_log")
                  if p.parent.relative_to(root).parts[0] in DATA_LAYERS)


def _snapshot(spark, root: Path) -> dict[str, list[str]]:
    """Every data table's rows (volatile columns left out), as sorted strings."""
    out = {}
    for table in _tables(root):
        df = spark.read.format("delta").load(str(root / table))
        df = df.select(*[c for c in df.columns if c not in VOLATILE_COLUMNS])
        out[table] = sorted(str(tuple(r)) for r in df.collect())
    return out


def _versions(spark, root: Path) -> dict[str, int]:
    return {t: DeltaTable.forPath(spark, str(root / t)).history(1).first()["version"] for t in _tables(root)}


@pytest.fixture(scope="module")
def uninterrupted(spark, sample) -> dict[str, list[str]]:
    conf = load_config(_conf_file(sample, "baseline"))
    results = run_pipeline(spark, conf, "R1")
    assert "report" in results
    return _snapshot(spark, Path(conf.root))


def test_rerun_on_the_same_input_changes_no_table(spark, sample, uninterrupted):
    conf = load_config(_conf_file(sample, "baseline"))
    root = Path(conf.root)
    versions = _versions(spark, root)
    results = run_pipeline(spark, conf)
    assert results["unchanged"]["published_run_id"] == "R1"
    assert "resolve" not in results and "report" not in results
    assert _versions(spark, root) == versions
    assert _snapshot(spark, root) == uninterrupted
    # every commit names its run and stage; the run's publication is readable by time travel
    history = DeltaTable.forPath(spark, str(root / "gold/interaction_customer")).history().collect()
    assert {json.loads(h["userMetadata"])["cdp_run_id"] for h in history} == {"R1"}
    assert {json.loads(h["userMetadata"])["stage"] for h in history} == {"profile"}
    published = read_as_published_by(spark, conf, "gold/interaction_customer", "R1")
    assert published.count() == spark.read.format("delta").load(str(root / "gold/interaction_customer")).count()
    # a config change is new input: it would not be skipped
    changed = conf.model_copy(update={"report": conf.report.model_copy(update={"largest_customers": 3})})
    assert unchanged_since(spark, changed) is None and unchanged_since(spark, conf) is not None


@pytest.mark.parametrize("point", faults.POINTS)
def test_killed_run_then_rerun_equals_an_uninterrupted_run(spark, sample, uninterrupted, point):
    name = "killed_" + point.split(":")[0]
    conf_path = _conf_file(sample, name)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, **{faults.ENV_VAR: point})
    proc = subprocess.run([sys.executable, "-m", "cdp.cli", "run", "--conf", str(conf_path), "--run-id", "R1"],
                          capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert f"CDP_FAULT={point}" in proc.stderr

    conf = load_config(conf_path)
    killed = _snapshot(spark, Path(conf.root))
    assert killed != uninterrupted  # the kill left the warehouse part-way
    results = run_pipeline(spark, conf)  # no run id: the interrupted run R1 is resumed
    assert results["run_id"] == "R1" and "report" in results
    assert _snapshot(spark, Path(conf.root)) == uninterrupted
