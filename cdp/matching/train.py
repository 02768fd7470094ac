"""`cdp train`: build labelled pairs, train candidate models, log to MLflow, maybe promote.

Reads silver interactions and identifiers (run land and standardize first), so a user can
train on their own data with weak labels alone.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    CHECKPOINT_DIR, META_TRAINING_PAIRS, META_TRAINING_RECORDS, SILVER_IDENTIFIERS, SILVER_INTERACTIONS,
)
from cdp.matching.blocking import candidate_pairs
from cdp.matching.features import FEATURE_COLUMNS, pair_features
from cdp.matching.labels import (
    check_user_labels, combine_labels, truth_labels, user_labels, weak_labels, with_components,
)
from cdp.matching.model import (
    TransitiveResult, ValidationResult, build_pipeline, feature_importances, scores, transitive_threshold, validate,
)
from cdp.matching import registry
from cdp.matching.stage import build_records, rule_stats_rows
from cdp.tables import overwrite_table, path_exists, read_table, remove_path

log = logging.getLogger(__name__)


class TrainingDataError(ValueError):
    """Not enough labelled pairs to train or validate, with what to change."""


def labelled_pairs(spark: SparkSession, conf: CdpConfig, interactions: DataFrame, links: DataFrame,
                   components: DataFrame, records: DataFrame, members: DataFrame
                   ) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """``(labelled, rule_stats, info)``: one label per pair from the configured sources."""
    m = conf.matching
    t = m.training
    pairs, rule_stats = candidate_pairs(records, m.blocking_rules, m.max_block_size, exclude_same_component=False)
    pairs = with_components(pairs, records)
    parts: list[DataFrame] = []
    info: dict[str, Any] = {}
    if t.truth is not None:
        from cdp.reporting.evaluate import read_truth

        path = conf.resolve_path(t.truth.path)
        if t.truth.source is not None:
            raw = spark.read.option("header", True).csv(path)
            for col in (t.truth.record_id_column, t.truth.entity_column):
                if col not in raw.columns:
                    raise ValueError(f"truth file {path}: no column {col!r}; found {raw.columns}")
            truth = raw.select(F.lit(t.truth.source).alias("source"),
                               F.col(t.truth.record_id_column).cast("string").alias("record_id"),
                               F.col(t.truth.entity_column).cast("string").alias("entity_id"))
        else:
            truth = read_truth(spark, path, t.truth.entity_column, t.truth.source_column, t.truth.record_id_column)
        parts.append(truth_labels(pairs, records, truth))
    if t.labels is not None:
        path = conf.resolve_path(t.labels)
        raw = spark.read.option("header", True).csv(path)
        check_user_labels(raw, path)
        lab, rejected = user_labels(raw, interactions, members)
        info["user_label_rows_rejected"] = rejected.count()
        if info["user_label_rows_rejected"]:
            log.warning("labels %s: %d row(s) rejected, e.g. %s", path, info["user_label_rows_rejected"],
                        [r.asDict() for r in rejected.limit(3).collect()])
        parts.append(lab)
    if t.weak_labels:
        parts.append(weak_labels(pairs, links, components, t.weak_negative_id_types))
    return combine_labels(parts), rule_stats, info


def check_label_files(spark: SparkSession, conf: CdpConfig) -> None:
    """FileNotFoundError naming the config key when the truth or labels file is missing."""
    t = conf.matching.training
    for key, value in (("truth.path", t.truth.path if t.truth else None), ("labels", t.labels)):
        if value is not None and not path_exists(spark, conf.resolve_path(value)):
            raise FileNotFoundError(f"matching.training.{key}: {conf.resolve_path(value)} does not exist "
                                    f"(paths are relative to the config file)")
    # headers too, so a wrong column name fails here and not after the pairs are built
    if t.truth is not None:
        path = conf.resolve_path(t.truth.path)
        found = spark.read.option("header", True).csv(path).columns
        wanted = [t.truth.record_id_column, t.truth.entity_column] + ([] if t.truth.source else [t.truth.source_column])
        missing = [c for c in wanted if c not in found]
        if missing:
            raise ConfigError(f"matching.training.truth: file {path} has no column(s) {missing}; found {found} "
                              "(set entity_column / source_column / record_id_column, or source: NAME for a "
                              "file without a source column)")
    if t.labels is not None:
        path = conf.resolve_path(t.labels)
        check_user_labels(spark.read.option("header", True).csv(path), f"{path} (matching.training.labels)")


def _split(df: DataFrame, fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """Deterministic train/validation split by pair id (independent of partitioning)."""
    bucket = F.abs(F.xxhash64(F.lit(seed), F.col("pair_id"))) % 10_000
    is_val = bucket < int(fraction * 10_000)
    return df.where(~is_val), df.where(is_val)


def _arrays(df: DataFrame) -> dict[str, np.ndarray]:
    """label, score, left, right of the validation pairs (bounded by max_training_pairs)."""
    pdf = df.select("label", "score", "left_record_id", "right_record_id").toPandas()
    return {"y": pdf["label"].to_numpy(), "s": pdf["score"].to_numpy(),
            "left": pdf["left_record_id"].to_numpy(), "right": pdf["right_record_id"].to_numpy()}


def _validation_scores(model: Any, val: DataFrame) -> DataFrame:
    return val.select("pair_id", "label", "left_record_id", "right_record_id").join(scores(model, val), "pair_id")


def _evaluate(v: dict[str, np.ndarray], min_precision: float, threshold: float | None = None
              ) -> tuple[ValidationResult, TransitiveResult]:
    """Pair-level and cluster-level validation; without ``threshold`` the cluster-level choice."""
    chosen = transitive_threshold(v["left"], v["right"], v["y"], v["s"], min_precision,
                                  thresholds=None if threshold is None else [threshold])
    return validate(v["y"], v["s"], min_precision, threshold=chosen.threshold), chosen


def _class_counts(df: DataFrame) -> dict[int, int]:
    return {int(r["label"]): int(r["n"]) for r in df.groupBy("label").agg(F.count(F.lit(1)).alias("n")).collect()}


def _pr_figure(curves: dict[str, ValidationResult]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for name, res in curves.items():
        ax.plot(res.curve["recall"], res.curve["precision"], label=f"{name} (AP {res.average_precision:.3f})")
        ax.scatter([res.recall], [res.precision], marker="o")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("validation precision-recall (dot: chosen threshold)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return fig


def _champion(conf: CdpConfig, val: DataFrame) -> tuple[str | None, float | None, str | None]:
    """(version, cluster-level F1 on this validation set at its own threshold, note) of the
    current champion."""
    import mlflow.spark
    from mlflow.exceptions import MlflowException

    client = registry._client(conf)  # noqa: SLF001 - same package
    try:
        mv = client.get_model_version_by_alias(conf.matching.model_name, registry.CHAMPION_ALIAS)
    except MlflowException:
        return None, None, "no champion yet"
    tags = dict(mv.tags or {})
    if json.loads(tags.get(registry.TAG_FEATURES, "[]")) != list(FEATURE_COLUMNS):
        return mv.version, None, f"champion v{mv.version} uses a different feature set"
    model = mlflow.spark.load_model(f"models:/{mv.name}/{mv.version}")
    v = _arrays(_validation_scores(model, val))
    _pair, cluster = _evaluate(v, conf.matching.training.min_precision, float(tags[registry.TAG_THRESHOLD]))
    return str(mv.version), cluster.f1, None


def run_train(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, Any]:
    """Train, validate and log match models; register the best; move @champion only if it beats
    the current champion on the same validation pairs. Returns a summary."""
    import mlflow
    import mlflow.spark
    from mlflow.models import infer_signature

    from cdp.identity.resolve import deterministic_components

    m, t = conf.matching, conf.matching.training
    check_label_files(spark, conf)
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    identifiers = read_table(spark, conf, SILVER_IDENTIFIERS)
    checkpoint_dir = conf.table_path(f"{CHECKPOINT_DIR}/train-{run_id}")
    try:
        links, _held, _guarded, result = deterministic_components(spark, conf, interactions, identifiers,
                                                                  checkpoint_dir)
        components = result.components.persist(StorageLevel.MEMORY_AND_DISK)
        records, members = build_records(conf, interactions, links, components)
        # written and read back to cut the lineage: the labelling joins reuse records many times
        overwrite_table(records, conf, META_TRAINING_RECORDS)
        records = read_table(spark, conf, META_TRAINING_RECORDS).persist(StorageLevel.MEMORY_AND_DISK)
        labelled, rule_stats, info = labelled_pairs(spark, conf, interactions, links, components, records, members)
        labelled = labelled.persist(StorageLevel.MEMORY_AND_DISK)
        total = labelled.count()
        if total > t.max_training_pairs:
            frac = t.max_training_pairs / total
            labelled = labelled.where(F.abs(F.xxhash64(F.lit(t.seed + 1), F.col("pair_id"))) % 1_000_000
                                      < int(frac * 1_000_000))
            log.info("train: %d labelled pairs, sampled to about %d (max_training_pairs)", total, t.max_training_pairs)
        overwrite_table(pair_features(labelled, records).withColumn("run_id", F.lit(run_id)), conf, META_TRAINING_PAIRS)
        rules = rule_stats_rows(rule_stats)
        records.unpersist()
        labelled.unpersist()
        components.unpersist()
    finally:
        remove_path(spark, checkpoint_dir)

    data = read_table(spark, conf, META_TRAINING_PAIRS)
    by_source = {r["label_source"]: {"pairs": int(r["n"]), "positives": int(r["pos"])} for r in
                 data.groupBy("label_source").agg(F.count(F.lit(1)).alias("n"),
                                                  F.sum("label").cast("long").alias("pos")).collect()}
    train, val = _split(data, t.validation_fraction, t.seed)
    train, val = train.persist(), val.persist()
    counts = {"train": _class_counts(train), "validation": _class_counts(val)}
    for part, c in counts.items():
        if c.get(0, 0) < 5 or c.get(1, 0) < 5:
            raise TrainingDataError(
                f"{part} set has {c.get(1, 0)} matching and {c.get(0, 0)} non-matching pairs (need >= 5 of each); "
                f"labels by source: {by_source}. Add labels (matching.training.truth or labels), "
                f"or widen matching.blocking_rules")
    log.info("train: labelled pairs by source %s; split %s", by_source, counts)
    # Resolve only scores pairs from different deterministic customers; pick the threshold on
    # those when there are enough, so easy same-customer pairs do not flatter precision.
    # The same goes for training: fit on cross-customer pairs when both sets have enough of each
    # class (weak labels alone have no cross-customer positives, so they train on everything).
    cross_val = val.where(F.col("left_component") != F.col("right_component"))
    cross_train = train.where(F.col("left_component") != F.col("right_component"))
    cv, ct = _class_counts(cross_val), _class_counts(cross_train)
    if min(cv.get(0, 0), cv.get(1, 0)) >= 20 and min(ct.get(0, 0), ct.get(1, 0)) >= 50:
        train, val, validation_set = cross_train, cross_val, "cross-customer pairs"
    else:
        validation_set = "all pairs (too few cross-customer pairs)"
    counts["train_used"], counts["validation_used"] = _class_counts(train), _class_counts(val)
    log.info("train: training and threshold on %s: %s", validation_set,
             {k: counts[k] for k in ("train_used", "validation_used")})

    results: dict[str, ValidationResult] = {}
    clusters: dict[str, TransitiveResult] = {}
    models: dict[str, Any] = {}
    for model_type in t.model_types:
        log.info("train: fitting %s on %d pairs", model_type, sum(counts["train_used"].values()))
        models[model_type] = build_pipeline(model_type, t.seed).fit(train)
        results[model_type], clusters[model_type] = _evaluate(
            _arrays(_validation_scores(models[model_type], val)), t.min_precision)
        log.info("train: %s validation: clusters %s; pairs %s", model_type, clusters[model_type],
                 results[model_type].metrics())
    best_type = max(clusters, key=lambda k: (clusters[k].f1, results[k].average_precision))
    best, cluster, model = results[best_type], clusters[best_type], models[best_type]

    champion_version, champion_f1, champion_note = _champion(conf, val)
    if champion_version is None or champion_f1 is None:
        promote, reason = True, champion_note or "no champion yet"
    elif cluster.f1 > champion_f1:
        promote, reason = True, (f"validation cluster F1 {cluster.f1:.6f} beats champion v{champion_version} "
                                 f"({champion_f1:.6f})")
    else:
        promote, reason = False, (f"validation cluster F1 {cluster.f1:.6f} does not beat champion "
                                  f"v{champion_version} ({champion_f1:.6f}) on the same validation pairs")

    exp_id = registry.ensure_experiment(conf)
    summary: dict[str, Any] = {
        "run_id": run_id, "model_type": best_type, "threshold": best.threshold,
        "validation": {k: v for k, v in best.metrics("").items()},
        "validation_clusters": cluster.__dict__,
        "candidates": {k: {**r.metrics(""), **{f"cluster_{n}": v for n, v in clusters[k].__dict__.items()}}
                       for k, r in results.items()},
        "labels": by_source, "split": counts, "validation_set": validation_set, "labelled_pairs_before_sampling": total,
        "blocking_rules": [r.model_dump() for r in m.blocking_rules], "rule_stats": rules, **info,
    }
    with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{run_id}") as run:
        mlflow.log_params({
            "model_type": best_type, "candidates": ",".join(t.model_types), "seed": t.seed,
            "validation_fraction": t.validation_fraction, "min_precision": t.min_precision,
            "max_block_size": m.max_block_size, "max_training_pairs": t.max_training_pairs,
            "label_sources": ",".join(sorted(by_source)), "name_variants": str(m.name_variants),
            "blocking_rules": json.dumps([[r.name, list(r.keys)] for r in m.blocking_rules]),
            "cdp_run_id": run_id,
        })
        mlflow.log_metrics(best.metrics("val_"))
        mlflow.log_metrics({f"val_cluster_{n}": v for n, v in cluster.__dict__.items()})
        for k, r in results.items():
            mlflow.log_metrics(r.metrics(f"{k}_val_"))
            mlflow.log_metrics({f"{k}_val_cluster_{n}": v for n, v in clusters[k].__dict__.items()})
        mlflow.log_dict(summary, "training_summary.json")
        importances = feature_importances(model)
        mlflow.log_dict(importances, "feature_importances.json")
        mlflow.log_figure(_pr_figure(results), "precision_recall.png")
        sample = train.select(*FEATURE_COLUMNS).limit(5)
        signature = infer_signature(sample.toPandas(),
                                    model.transform(sample).select("prediction").toPandas())
        info_model = mlflow.spark.log_model(model, artifact_path="model", registered_model_name=m.model_name,
                                            signature=signature)
        version = str(info_model.registered_model_version)
        registry.tag_version(conf, version, {
            registry.TAG_THRESHOLD: repr(best.threshold),
            registry.TAG_FEATURES: json.dumps(list(FEATURE_COLUMNS)),
            registry.TAG_MODEL_TYPE: best_type,
            "val_f1": f"{best.f1:.6f}", "val_cluster_f1": f"{cluster.f1:.6f}", "cdp_run_id": run_id,
        })
        if promote:
            registry.set_champion(conf, version)
        mlflow.set_tags({"promotion": "promoted" if promote else "not promoted", "promotion_reason": reason,
                         "champion_before": str(champion_version), "model_version": version})
        mlflow_run_id = run.info.run_id
    train.unpersist()
    val.unpersist()
    summary.update({"mlflow_run_id": mlflow_run_id, "model_name": m.model_name, "model_version": version,
                    "promoted": promote, "promotion_reason": reason,
                    "champion_before": None if champion_version is None else str(champion_version),
                    "feature_importances": importances})
    log.info("train: %s v%s %s (%s)", m.model_name, version, "promoted to @champion" if promote else "registered",
             reason)
    return summary
