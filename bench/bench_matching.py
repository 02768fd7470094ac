"""Match quality with and without fuzzy links on generated data and the shared reference sets.

    .venv/bin/python bench/bench_matching.py                      # every dataset
    .venv/bin/python bench/bench_matching.py --datasets generated historical_50k

For each dataset: land + standardize once; resolve deterministic-only and evaluate; train the
match model on the truth of half of the entities (chosen by a hash of the entity id); resolve
with the model and evaluate on the other half's records, so no evaluated entity's label was
seen in training. The recall ceiling is the pairwise recall of
:func:`cdp.reporting.evaluate.comparison_ceiling` over the deterministic customers: every record
that carries a name or an email attributed perfectly, the most fuzzy links could add. Prints a
table and appends one JSON line per dataset to bench/results/matching.jsonl. A benchmark, not a
test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pyspark.sql import functions as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_stages import machine  # noqa: E402
from cdp import configure_logging  # noqa: E402
from cdp.config import CdpConfig, config_from_dict  # noqa: E402
from cdp.pipeline import run_stage  # noqa: E402
from cdp.reporting.evaluate import comparison_ceiling, evaluate_resolution, pairwise_scores, read_truth  # noqa: E402
from cdp.sample.generator import generate_sample  # noqa: E402
from cdp.spark import build_spark_session  # noqa: E402
from cdp.tables import read_table  # noqa: E402

SHARED = (REPO.parent / "shared" / "data").resolve()
NCVR_SETTINGS = ("ocp_0", "ocp_20", "ocp_40")
DATASETS = ("generated", "historical_50k", *(f"ncvr5_{s}" for s in NCVR_SETTINGS))
SCORE_KEYS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall",
              "bcubed_f1", "coverage")


def _in_training_half(entity: str) -> bool:
    return zlib.crc32(str(entity).encode()) % 2 == 0


def split_truth(truth: pd.DataFrame, entity: str, out: Path) -> tuple[Path, Path]:
    """Write train_truth.csv / test_truth.csv: disjoint halves of the entities."""
    train_mask = truth[entity].map(_in_training_half)
    out.mkdir(parents=True, exist_ok=True)
    train, test = out / "train_truth.csv", out / "test_truth.csv"
    truth[train_mask].to_csv(train, index=False)
    truth[~train_mask].to_csv(test, index=False)
    return train, test


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def dataset_config(name: str, work: Path, spark, household_guard: bool = True) -> tuple[CdpConfig, Path, str]:
    """(config rooted in work/name, test truth path, entity column) for one dataset."""
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if name == "generated":
        generate_sample(spark, str(root / "sample"), persons=2000, seed=42)
        data = _yaml(REPO / "conf" / "local.yaml")
        sources = _yaml(REPO / "conf" / "sources" / "sample.yaml")
        for s in sources:
            s["path"] = s["path"].replace("../sample_data/", f"{root}/sample/")
        data.pop("sources_file")
        data["sources"] = sources
        truth = pd.read_csv(root / "sample" / "truth" / "truth.csv", dtype=str)
        entity, base_dir = "person_id", REPO / "conf"
    elif name == "historical_50k":
        data = _yaml(REPO / "conf" / "examples" / "historical_50k.yaml")
        raw = pd.read_csv(SHARED / "splink" / "historical_figures_with_errors_50k.csv", dtype=str)
        truth = pd.DataFrame({"source": "historical", "record_id": raw["unique_id"], "entity_id": raw["cluster"]})
        entity, base_dir = "entity_id", REPO / "conf" / "examples"
    else:
        setting = name.removeprefix("ncvr5_")
        text = (REPO / "conf" / "examples" / "ncvr5.yaml").read_text().replace("ocp_20", setting)
        data = yaml.safe_load(text)
        frames = []
        for i, s in enumerate(data["sources"]):
            path = SHARED / "ncvr5" / Path(s["path"]).name
            ids = pd.read_csv(path, dtype=str)["recid"]
            frames.append(pd.DataFrame({"source": s["name"], "record_id": ids, "entity_id": ids}))
        truth = pd.concat(frames)
        entity, base_dir = "entity_id", REPO / "conf" / "examples"
    train, test = split_truth(truth, entity, root)
    data["storage"] = {"root": str(root / "warehouse")}
    if not household_guard:
        data.setdefault("resolve", {})["household_guard_types"] = []
    matching = data.setdefault("matching", {})
    training = matching.setdefault("training", {})
    training["truth"] = {"path": str(train), "entity_column": entity, "source_column": "source",
                         "record_id_column": "record_id"}
    return config_from_dict(data, base_dir=str(base_dir), origin=name), test, entity


def _evaluate(spark, conf: CdpConfig, truth_path: Path, entity: str) -> dict[str, Any]:
    predicted = read_table(spark, conf, "gold/interaction_customer").select("source", "record_id", "customer_id")
    truth = read_truth(spark, str(truth_path), entity)
    result = evaluate_resolution(predicted, truth, largest=3)
    return {k: result[k] for k in SCORE_KEYS} | {"largest_clusters": result["largest_clusters"]}


def _ceiling(spark, conf: CdpConfig, truth_path: Path, entity: str) -> dict[str, Any]:
    """Pairwise scores of comparison_ceiling over the current (deterministic) customers."""
    interactions = read_table(spark, conf, "silver/interactions")
    emails = (read_table(spark, conf, "silver/identifiers").where((F.col("id_type") == "email") & F.col("is_valid"))
              .select("interaction_id").distinct())
    named = interactions.where(F.col("attributes").getField("name_key").isNotNull()).select("interaction_id")
    comparable = named.unionByName(emails).distinct().join(interactions, "interaction_id").select("source", "record_id")
    predicted = read_table(spark, conf, "gold/interaction_customer").select("source", "record_id", "customer_id")
    truth = read_truth(spark, str(truth_path), entity)
    result = pairwise_scores(comparison_ceiling(predicted, comparable, truth), truth)
    return {k: result[k] for k in ("pairwise_precision", "pairwise_recall", "true_pairs", "true_positive_pairs")}


def bench_dataset(spark, name: str, work: Path, household_guard: bool = True) -> dict[str, Any]:
    conf, test_truth, entity = dataset_config(name, work, spark, household_guard)
    off = conf.model_copy(update={"matching": conf.matching.model_copy(update={"enabled": False})})
    seconds: dict[str, float] = {}

    def timed(label: str, c: CdpConfig, stage: str, run_id: str) -> Any:
        started = time.monotonic()
        out = run_stage(spark, c, stage, run_id)
        seconds[label] = round(time.monotonic() - started, 1)
        return out

    for stage in ("land", "standardize"):
        timed(stage, conf, stage, f"{name}-1")
    timed("resolve_deterministic", off, "resolve", f"{name}-1")
    timed("profile_deterministic", off, "profile", f"{name}-1")
    deterministic = _evaluate(spark, conf, test_truth, entity)
    ceiling = _ceiling(spark, conf, test_truth, entity)
    trained = timed("train", conf, "train", f"{name}-2")
    resolved = timed("resolve_fuzzy", conf, "resolve", f"{name}-2")
    timed("profile_fuzzy", conf, "profile", f"{name}-2")
    fuzzy = _evaluate(spark, conf, test_truth, entity)
    interactions = read_table(spark, conf, "silver/interactions").count()
    return {
        "dataset": name, "interactions": interactions, "deterministic": deterministic, "fuzzy": fuzzy,
        "ceiling": ceiling,
        "model": {k: trained[k] for k in ("model_type", "threshold", "validation", "labels", "validation_set",
                                          "model_version", "promoted")},
        "matching": {k: v for k, v in resolved["matching"].items() if k != "rules"},
        "rules": resolved["matching"].get("rules", []),
        "seconds": seconds,
    }


def _row(r: dict[str, Any]) -> str:
    d, f = r["deterministic"], r["fuzzy"]
    return (f"| {r['dataset']} | {r['interactions']:,} | {d['pairwise_precision']:.3f} | {d['pairwise_recall']:.3f} | "
            f"{d['pairwise_f1']:.3f} | {f['pairwise_precision']:.3f} | {f['pairwise_recall']:.3f} | "
            f"{f['pairwise_f1']:.3f} | {f['bcubed_precision']:.3f} | {f['bcubed_recall']:.3f} | "
            f"{r['model']['model_type']} | {r['matching'].get('candidate_pairs', 0):,} | "
            f"{r['ceiling']['pairwise_recall']:.3f} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--work", default=str(REPO / "bench" / "work" / "matching"))
    p.add_argument("--master", default="local[*]")
    p.add_argument("--no-household-guard", action="store_true",
                   help="resolve.household_guard_types: [] (to measure what the guard changes)")
    args = p.parse_args()
    configure_logging()
    spark = build_spark_session("cdp-bench-matching", {"spark.master": args.master, "spark.sql.shuffle.partitions": "8",
                                                        "spark.driver.memory": "6g", "spark.ui.enabled": "false"})
    work = Path(args.work).resolve()  # sources are relative to the config file: keep the paths absolute
    results = []
    out = REPO / "bench" / "results" / "matching.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        started = time.monotonic()
        r = bench_dataset(spark, name, work, household_guard=not args.no_household_guard)
        r.update({"household_guard": not args.no_household_guard,
                  "total_seconds": round(time.monotonic() - started, 1), "machine": machine(),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "master": args.master})
        with out.open("a") as fh:
            fh.write(json.dumps(r, default=str) + "\n")
        results.append(r)
        print(json.dumps({k: r[k] for k in ("dataset", "deterministic", "fuzzy", "ceiling", "model", "seconds")},
                         default=str),
              flush=True)
    print("\n| dataset | interactions | det. precision | det. recall | det. F1 | precision | recall | F1 | "
          "B3 precision | B3 recall | model | candidate pairs | recall ceiling |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
