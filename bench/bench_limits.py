"""Cost of merge protection's split step (cdp.identity.limits) on synthetic graphs.

    .venv/bin/python bench/bench_limits.py                                  # defaults below
    .venv/bin/python bench/bench_limits.py --giant 10000 100000 1000000 --many 100000

Two measurements, both printed and appended as JSON lines to bench/results/limits.jsonl:

* ``giant``: one component of N interactions, replayed in one pandas group by
  ``split_component`` (no Spark): a chain i0 - device - i1 - device - i2 ... over the size cap
  (2000), with a customer_id on every 5000th interaction, so it splits both by uniqueness and by size.
  This is the worst case: a component is never split across executors.
* ``many``: ``enforce_limits`` on Spark over M interactions in households of 10 (shared phone,
  one email each); every 10th household holds two customer_ids and must split. Measures the whole
  Spark step: finding over-limit components, the grouped replay and relabelling.

A benchmark, not a test: nothing here asserts. Every value is a pure function of the row id.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_stages import machine  # noqa: E402
from cdp import configure_logging  # noqa: E402
from cdp.config import ResolveConfig  # noqa: E402
from cdp.identity.limits import CANNOT_LINKS_SCHEMA, enforce_limits, split_component  # noqa: E402
from cdp.spark import build_spark_session  # noqa: E402

RESULTS = REPO / "bench" / "results" / "limits.jsonl"
CUSTOMER_ID_EVERY = 5000


def giant_component_links(n: int) -> pd.DataFrame:
    """A chain of n interactions joined by shared devices (no per-customer limit), a customer_id on
    every 5000th interaction (LINKS_SCHEMA columns)."""
    rows = []
    for k in range(n):
        i = f"i|{k:08d}"
        if k + 1 < n:
            device = f"v|device_id:d{k}"
            rows.append((i, device, "device_id", 50, 1.0, float(k)))
            rows.append((f"i|{k + 1:08d}", device, "device_id", 50, 1.0, float(k + 1)))
        if k % CUSTOMER_ID_EVERY == 0:
            rows.append((i, f"v|customer_id:{k}", "customer_id", 100, 1.0, float(k)))
    return pd.DataFrame(rows, columns=["src", "dst", "link_type", "priority", "score", "linked_at"])


def bench_giant(n: int, rconf: ResolveConfig) -> dict:
    links = giant_component_links(n)
    cannot = pd.DataFrame(columns=["override_id", "left", "right"])
    limits = dict(rconf.max_values_per_customer)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    labels, dropped = split_component(links, cannot, limits, rconf.max_customer_interactions)
    seconds = time.monotonic() - started
    return {"case": "giant", "interactions": n, "links": len(links), "seconds": round(seconds, 2),
            "parts": len(set(labels.values())), "dropped_links": len(dropped),
            "peak_rss_mb_growth": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024)}


def households(spark, m: int):
    """(components, links) for m interactions in households of 10; every 10th household has 2 customer_ids."""
    from pyspark.sql import functions as F

    ids = spark.range(m).select(F.col("id").alias("k"), (F.col("id") / 10).cast("long").alias("h"))
    inter = F.concat(F.lit("i|"), F.col("k").cast("string"))
    phone = F.concat(F.lit("v|phone:+91"), (F.lit(9000000000) + F.col("h")).cast("string"))
    email = F.concat(F.lit("v|email:p"), F.col("k").cast("string"), F.lit("@x.in"))
    cid = F.concat(F.lit("v|customer_id:"), F.col("k").cast("string"))
    with_cid = (F.col("k") % 10 == 0) | ((F.col("h") % 10 == 0) & (F.col("k") % 10 == 1))
    link = lambda dst, t, p: ids.select(inter.alias("src"), dst.alias("dst"), F.lit(t).alias("link_type"),  # noqa: E731
                                        F.lit(p).alias("priority"), F.lit(1.0).alias("score"),
                                        F.col("k").cast("double").alias("linked_at"))
    links = (link(phone, "phone", 70).unionByName(link(email, "email", 80))
             .unionByName(link(cid, "customer_id", 100).where(with_cid)))
    comp = F.concat(F.lit("h"), F.col("h").cast("string"))
    vertices = (ids.select(inter.alias("id"), comp.alias("component"))
                .unionByName(ids.select(phone.alias("id"), comp.alias("component")).distinct())
                .unionByName(ids.select(email.alias("id"), comp.alias("component")))
                .unionByName(ids.where(with_cid).select(cid.alias("id"), comp.alias("component"))))
    return vertices, links


def bench_many(spark, m: int, rconf: ResolveConfig) -> dict:
    from pyspark.sql import functions as F

    components, links = households(spark, m)
    components = components.checkpoint(eager=True)
    cannot = spark.createDataFrame([], CANNOT_LINKS_SCHEMA)
    started = time.monotonic()
    limited, splits = enforce_limits(components, links, cannot, rconf, "bench")
    limited = limited.checkpoint(eager=True)
    n_splits = splits.count()
    seconds = time.monotonic() - started
    parts = limited.where(F.col("id").startswith("i|")).select("component").distinct().count()
    return {"case": "many", "interactions": m, "households": m // 10, "seconds": round(seconds, 2),
            "dropped_links": n_splits, "customers_after": parts}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--giant", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--many", nargs="*", type=int, default=[100_000, 1_000_000])
    p.add_argument("--master", default="local[*]")
    p.add_argument("--work", default=str(REPO / "bench" / "work" / "limits"))
    args = p.parse_args()
    configure_logging()
    rconf = ResolveConfig()
    info = machine()
    out: list[dict] = []
    for n in args.giant:
        out.append(bench_giant(n, rconf))
        print(json.dumps(out[-1]), flush=True)
    if args.many:
        spark = build_spark_session("cdp-bench-limits", {"spark.master": args.master,
                                                         "spark.sql.shuffle.partitions": "8"})
        spark.sparkContext.setCheckpointDir(f"{args.work}/checkpoints")
        try:
            for m in args.many:
                out.append(bench_many(spark, m, rconf))
                print(json.dumps(out[-1]), flush=True)
        finally:
            spark.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with RESULTS.open("a") as f:
        for r in out:
            f.write(json.dumps({**r, "machine": info, "master": args.master, "at": at}) + "\n")


if __name__ == "__main__":
    main()
