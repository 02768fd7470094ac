"""`python -m cdp.jars`: resolve the JARs once from Maven Central into the local JAR folder.

Delta is required; GraphFrames is optional: when its JAR cannot be resolved the identity stage
uses the built-in DataFrame connected-components engine (same two-phase algorithm) and the run
report says so.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from cdp import configure_logging
from cdp.constants import DELTA_JAR, GRAPHFRAMES_JAR
from cdp.spark import _jar_file_name, jars_dir

log = logging.getLogger("cdp.jars")  # not __name__: this module also runs as __main__


def _resolve(coordinates: list[str]) -> list[str]:
    """Resolve with Spark's own Ivy resolver in a throwaway JVM; return the JAR paths it fetched."""
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("cdp-resolve-jars")
        .config("spark.jars.packages", ",".join(coordinates))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        jars = spark.sparkContext.getConf().get("spark.jars", "")
        return [j.replace("file://", "").replace("file:", "") for j in jars.split(",") if j]
    finally:
        spark.stop()
        SparkSession._instantiatedSession = None  # noqa: SLF001 - allow a second JVM session
        from pyspark import SparkContext

        SparkContext._gateway = None  # noqa: SLF001
        SparkContext._jvm = None  # noqa: SLF001


def _resolve_quietly(coordinate: str, dest: Path) -> bool:
    """Resolve an optional JAR in a child process, so a failure costs one log line, not an Ivy trace."""
    code = ("import shutil, sys; from pathlib import Path; from cdp.jars import _resolve; "
            f"[shutil.copy2(p, {str(dest)!r}) for p in _resolve([{coordinate!r}]) if 'graphframes' in Path(p).name]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        log.debug("jars: resolving %s failed:\n%s", coordinate, proc.stderr[-2000:])
    return proc.returncode == 0


def resolve_jars(dest: Path, with_graphframes: bool = True) -> dict[str, bool]:
    dest.mkdir(parents=True, exist_ok=True)
    wanted = _jar_file_name(DELTA_JAR)
    if (dest / wanted).exists():
        log.info("jars: %s already in %s", DELTA_JAR, dest)
        got = {"delta": True}
    else:
        paths = _resolve([DELTA_JAR])
        for p in paths:
            shutil.copy2(p, dest / Path(p).name)
        got = {"delta": (dest / wanted).exists()}
    if with_graphframes:
        gf = dest / _jar_file_name(GRAPHFRAMES_JAR)
        marker = dest / "graphframes.unavailable"
        if gf.exists():
            got["graphframes"] = True
        else:
            got["graphframes"] = _resolve_quietly(GRAPHFRAMES_JAR, dest) and gf.exists()
            if not got["graphframes"]:
                log.warning("jars: %s could not be resolved from Maven Central; the built-in "
                            "connected-components engine will be used", GRAPHFRAMES_JAR)
            if not got["graphframes"]:
                marker.write_text(f"{GRAPHFRAMES_JAR} could not be resolved from Maven Central\n")
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, default=jars_dir())
    parser.add_argument("--no-graphframes", action="store_true")
    args = parser.parse_args(argv)
    configure_logging()
    got = resolve_jars(args.dest, with_graphframes=not args.no_graphframes)
    for name, ok in got.items():
        log.info("jars: %s: %s (%s)", name, "ok" if ok else "NOT AVAILABLE", args.dest)
    return 0 if got.get("delta") else 1


if __name__ == "__main__":
    sys.exit(main())
