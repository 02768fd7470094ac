"""The match model: a Spark MLlib Pipeline over FEATURE_COLUMNS, and its validation metrics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cdp.matching.features import FEATURE_COLUMNS


def build_pipeline(model_type: str, seed: int) -> Pipeline:
    """VectorAssembler(FEATURE_COLUMNS) -> classifier; label column ``label`` (1 = same person)."""
    assembler = VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features", handleInvalid="error")
    if model_type == "gbt":
        clf = GBTClassifier(labelCol="label", featuresCol="features", maxIter=60, maxDepth=5, stepSize=0.2,
                            subsamplingRate=0.8, seed=seed)
    elif model_type == "logistic_regression":
        clf = LogisticRegression(labelCol="label", featuresCol="features", maxIter=200, regParam=0.001,
                                 elasticNetParam=0.0)
    else:
        raise ValueError(f"unknown model type {model_type!r}; use gbt or logistic_regression")
    return Pipeline(stages=[assembler, clf])


def scores(model: PipelineModel, features: DataFrame) -> DataFrame:
    """``(pair_id, score)``: the model's probability that the pair is one person, as a double.

    Only pair_id and the score leave this function, so callers join the score back to its pair
    by id; nothing relies on the row order a transform produces."""
    out = model.transform(features.select("pair_id", *FEATURE_COLUMNS))
    return out.select("pair_id", vector_to_array(F.col("probability")).getItem(1).cast("double").alias("score"))


def feature_importances(model: PipelineModel) -> dict[str, float]:
    """GBT: featureImportances; logistic regression: coefficients."""
    clf = model.stages[-1]
    if hasattr(clf, "featureImportances"):
        values = clf.featureImportances.toArray()
    else:
        values = clf.coefficients.toArray()
    return {name: float(v) for name, v in zip(FEATURE_COLUMNS, values)}


@dataclass(frozen=True)
class ValidationResult:
    threshold: float
    precision: float
    recall: float
    f1: float
    auc: float
    average_precision: float
    positives: int
    negatives: int
    curve: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def metrics(self, prefix: str = "val_") -> dict[str, float]:
        return {f"{prefix}{k}": float(getattr(self, k)) for k in
                ("threshold", "precision", "recall", "f1", "auc", "average_precision", "positives", "negatives")}


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by the rank statistic (ties get their average rank)."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_recall_at(y: np.ndarray, s: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``score >= threshold`` (inclusive)."""
    pred = s >= threshold
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def validate(labels: np.ndarray, score_values: np.ndarray, min_precision: float,
             threshold: float | None = None) -> ValidationResult:
    """Choose the threshold (unless given): the score with the best F1 among thresholds whose
    precision is >= ``min_precision`` (or the most precise one when none reaches it)."""
    y = labels.astype(int)
    s = score_values.astype(float)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    last = np.r_[ss[1:] != ss[:-1], True]  # the last row of each distinct score: "s >= that score"
    tp, fp, cut = tp[last], fp[last], ss[last]
    total_pos = max(int(y.sum()), 1)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / total_pos
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    if threshold is None:
        ok = precision >= min_precision
        idx = int(np.argmax(np.where(ok, f1, -1.0))) if ok.any() else int(np.argmax(precision))
        threshold = float(cut[idx])
    p, r, f = precision_recall_at(y, s, threshold)
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision)) if len(cut) else 0.0
    step = max(1, len(cut) // 400)
    curve = {"threshold": cut[::step].tolist(), "precision": precision[::step].tolist(),
             "recall": recall[::step].tolist()}
    return ValidationResult(threshold=threshold, precision=p, recall=r, f1=f, auc=_auc(y, s),
                            average_precision=ap, positives=int(y.sum()), negatives=int(len(y) - y.sum()),
                            curve=curve)


def summary_of(result: ValidationResult) -> dict[str, Any]:
    return {k: v for k, v in result.__dict__.items() if k != "curve"}


@dataclass(frozen=True)
class TransitiveResult:
    """Cluster-level quality of a threshold: labelled pairs that end up in one cluster once every
    edge at or above the threshold is followed transitively (chaining included)."""
    threshold: float
    precision: float
    recall: float
    f1: float


def transitive_threshold(left: np.ndarray, right: np.ndarray, labels: np.ndarray, score_values: np.ndarray,
                         min_precision: float, checkpoints: int = 100,
                         thresholds: list[float] | None = None) -> TransitiveResult:
    """The threshold whose clusters (connected components of the scored pairs at or above it) give
    the best F1 over the labelled pairs among thresholds with precision >= ``min_precision``.

    A pair counts as predicted when its two records end up in one cluster, so a threshold that
    lets wrong links chain unrelated records together pays for every labelled pair it joins. Edges
    are added in falling score order to one union-find; quality is read at ``checkpoints`` scores
    of the positives (or at the given ``thresholds``; with one threshold its quality is returned
    whatever its precision).
    """
    ids = {v: i for i, v in enumerate(np.unique(np.concatenate([left, right])))}
    li = np.array([ids[v] for v in left])
    ri = np.array([ids[v] for v in right])
    y = labels.astype(int)
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    order = np.argsort(-score_values, kind="mergesort")
    distinct = np.unique(score_values[y == 1]) if (y == 1).any() else np.unique(score_values)
    picks = (set(thresholds) if thresholds is not None
             else set(np.quantile(distinct, np.linspace(0, 1, checkpoints), method="nearest").tolist()))
    total_pos = max(int(y.sum()), 1)
    best: TransitiveResult | None = None
    most_precise: TransitiveResult | None = None
    k = 0
    for t in sorted(picks, reverse=True):
        while k < len(order) and score_values[order[k]] >= t:
            a, b = find(li[order[k]]), find(ri[order[k]])
            if a != b:
                parent[max(a, b)] = min(a, b)
            k += 1
        roots = np.fromiter((find(i) for i in range(len(parent))), dtype=np.int64, count=len(parent))
        together = roots[li] == roots[ri]
        tp = int((together & (y == 1)).sum())
        fp = int((together & (y == 0)).sum())
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / total_pos
        res = TransitiveResult(float(t), p, r, 2 * p * r / (p + r) if p + r else 0.0)
        if (p >= min_precision or thresholds is not None) and (best is None or res.f1 > best.f1):
            best = res
        if most_precise is None or (p, r) > (most_precise.precision, most_precise.recall):
            most_precise = res
    return best or most_precise or TransitiveResult(1.0, 1.0, 0.0, 0.0)
