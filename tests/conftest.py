"""One session-scoped local SparkSession for the whole suite (Splink style), reset per test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)

from cdp.config import CdpConfig, config_from_dict  # noqa: E402
from cdp.spark import build_spark_session  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

TEST_SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # one JVM serves ~180 tests writing hundreds of small Delta tables: a full run at 2g spent most
    # of its time in full GCs (old generation 95 % full); at 4g a run of 178 tests ran out of heap
    # at test 166 (a broadcast could not be built, the context died). So 6g and a bounded DeltaLog cache
    "spark.driver.memory": "6g",
    "spark.databricks.delta.delta.log.cacheSize": "64",
    "spark.databricks.delta.snapshotPartitions": "2",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: end-to-end tests (still run by make test)")


@pytest.fixture(scope="session")
def spark():
    session = build_spark_session("cdp-tests", TEST_SPARK_CONF)
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _reset_spark_state(request):
    """Per-test reset: a test that changes SQL conf or caches data does not leak into the next."""
    yield
    if "spark" in request.fixturenames:
        session = request.getfixturevalue("spark")
        session.catalog.clearCache()
        session.conf.set("spark.sql.adaptive.enabled", "true")
        session.conf.set("spark.sql.session.timeZone", "UTC")


@pytest.fixture
def make_conf(tmp_path: Path):
    """Build a CdpConfig rooted in a temporary warehouse; relative paths resolve from tmp_path."""

    def _make(**sections) -> CdpConfig:
        data = {"storage": {"root": str(tmp_path / "warehouse")}}
        data.update(sections)
        return config_from_dict(data, base_dir=str(tmp_path))

    return _make
