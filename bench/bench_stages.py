"""Time each stage on generated data of a given size; one JSON line per run (a benchmark, not a test).

    .venv/bin/python bench/bench_stages.py --sizes 100000 1000000
Appends to bench/results/stages.jsonl. The work folder (generated data + warehouse) is wiped per size.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cdp import configure_logging  # noqa: E402
from cdp.config import load_config  # noqa: E402
from cdp.constants import STAGES  # noqa: E402
from cdp.pipeline import run_stage  # noqa: E402
from cdp.sample.generator import ROWS_PER_PERSON, generate_sample  # noqa: E402
from cdp.spark import build_spark_session  # noqa: E402


def machine() -> dict:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cores": os.cpu_count(), "memory_gb": mem_gb, "cpu": cpu, "os": platform.platform()}


def bench_size(spark, size: int, work: Path, seed: int) -> dict:
    if work.exists():
        shutil.rmtree(work)
    (work / "conf").mkdir(parents=True)
    conf_path = work / "conf" / "bench.yaml"
    conf_path.write_text(f"storage:\n  root: ../warehouse\nsources_file: {REPO / 'conf/sources/sample.yaml'}\n")
    conf = load_config(conf_path)
    persons = max(1, round(size / ROWS_PER_PERSON))
    started = time.monotonic()
    summary = generate_sample(spark, str(work / "sample_data"), persons=persons, seed=seed)
    seconds = {"generate": round(time.monotonic() - started, 2)}
    run_id = f"bench-{size}"
    report = None
    for stage in STAGES:
        started = time.monotonic()
        out = run_stage(spark, conf, stage, run_id)
        seconds[stage] = round(time.monotonic() - started, 2)
        report = out if stage == "report" else report
    return {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target_interactions": size, "persons": persons,
        "interactions": report["match_rate"]["interactions"], "customers": report["customers"],
        "match_rate": report["match_rate"]["match_rate"], "engine": report.get("resolve", {}).get("engine"),
        "rows_per_source": summary, "stage_seconds": seconds,
        "pipeline_seconds": round(sum(v for k, v in seconds.items() if k != "generate"), 2),
        "spark_master": spark.sparkContext.master, "machine": machine(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "work")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "stages.jsonl")
    parser.add_argument("--shuffle-partitions", type=int, default=16)
    args = parser.parse_args()
    configure_logging()
    spark = build_spark_session("cdp-bench", {"spark.sql.shuffle.partitions": args.shuffle_partitions,
                                              "spark.driver.memory": "12g"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        line = bench_size(spark, size, args.work / str(size), args.seed)
        with args.out.open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
