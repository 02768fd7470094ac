"""Build the one SparkSession a job uses, with Delta (and GraphFrames when its JAR is at hand).

JARs come from Maven Central through Spark's own resolver. `make setup` resolves them once and
copies them into a local folder (``.jars`` beside the package, or ``$CDP_JARS_DIR``); later runs
pass that folder as ``spark.jars`` and start without resolving.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from cdp.constants import DELTA_JAR, GRAPHFRAMES_CLASS, GRAPHFRAMES_JAR

log = logging.getLogger(__name__)

DEFAULT_LOCAL_CONF: dict[str, Any] = {
    "spark.master": "local[*]",
    "spark.driver.memory": "4g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.showConsoleProgress": "false",
}

BASE_CONF: dict[str, Any] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.databricks.delta.schema.autoMerge.enabled": "true",
    "spark.sql.ansi.enabled": "false",
    # the matching joins' plans are huge; printing them whole has exhausted a 4g driver
    "spark.sql.maxPlanStringLength": "100000",
}


def jars_dir() -> Path:
    """The local JAR folder filled by `make setup`."""
    env = os.environ.get("CDP_JARS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / ".jars"


def _jar_file_name(coordinate: str) -> str:
    group, artifact, version = coordinate.split(":")
    return f"{group}_{artifact}-{version}.jar"


def local_jars() -> list[str]:
    folder = jars_dir()
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.glob("*.jar"))


def has_local_jar(coordinate: str) -> bool:
    return (jars_dir() / _jar_file_name(coordinate)).exists()


def jar_settings(want_graphframes: bool) -> dict[str, str]:
    """spark.jars from the local folder when it holds Delta, otherwise spark.jars.packages."""
    jars = local_jars()
    if jars and has_local_jar(DELTA_JAR):
        return {"spark.jars": ",".join(jars)}
    packages = [DELTA_JAR] + ([GRAPHFRAMES_JAR] if want_graphframes else [])
    return {"spark.jars.packages": ",".join(packages)}


def build_spark_session(
    app_name: str = "cdp",
    spark_conf: dict[str, Any] | None = None,
    want_graphframes: bool = False,
) -> SparkSession:
    """Create (or reuse) the SparkSession with Delta configured.

    ``spark_conf`` (the config file's ``spark:`` section) wins over the defaults. Under
    spark-submit the master and JARs come from the command line and are left alone.
    """
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_SUBMIT" in os.environ
    conf: dict[str, Any] = {}
    if not under_submit:
        conf.update(DEFAULT_LOCAL_CONF)
        conf.update(jar_settings(want_graphframes))
        # Python workers must be this interpreter (it has pandas/pyarrow/phonenumbers), not `python3` on
        # PATH; pyspark reads the variable when the SparkContext starts (the conf key only works in spark-submit).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf.update(BASE_CONF)
    conf.update({k: str(v) for k, v in (spark_conf or {}).items()})
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    _quiet_jvm_loggers(spark)
    log.info("spark %s master=%s", spark.version, spark.sparkContext.master)
    return spark


# Loggers whose warnings are expected on every run (e.g. "no metadata directory" for glob paths).
QUIET_LOGGERS = ("org.apache.spark.sql.execution.streaming", "org.apache.spark.sql.execution.datasources")


def _quiet_jvm_loggers(spark: SparkSession) -> None:
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - log4j levels have no Python API
        level = jvm.org.apache.logging.log4j.Level.ERROR
        for name in QUIET_LOGGERS:
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
    except Exception:  # noqa: BLE001 - cosmetic only
        log.debug("could not adjust JVM log levels", exc_info=True)


def graphframes_available(spark: SparkSession) -> bool:
    """True when the GraphFrames JVM classes are on the session's classpath."""
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - py4j is the only way to probe the classpath
        jvm.java.lang.Class.forName(GRAPHFRAMES_CLASS, False, jvm.Thread.currentThread().getContextClassLoader())
        return True
    except Exception:  # noqa: BLE001 - any failure means "not loadable"
        return False
