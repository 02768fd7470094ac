"""Measure a resolution against a truth table (source, record_id, entity_id), without building pairs.

Pair counts come from cluster sizes (n choose 2), so the cost is a few aggregations, not a
quadratic pair join.
"""
from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _pairs(n: F.Column) -> F.Column:
    return (n * (n - 1) / 2).cast("long")


def pairwise_scores(predicted: DataFrame, truth: DataFrame) -> dict[str, Any]:
    """predicted: (source, record_id, customer_id); truth: (source, record_id, entity_id).

    Returns pairwise precision/recall/F1 over records present in both, and coverage: the share of
    truth records that received a customer_id.
    """
    keys = ["source", "record_id"]
    joined = truth.join(predicted, keys, "left")
    covered = joined.where(F.col("customer_id").isNotNull())
    both = (covered.groupBy("customer_id", "entity_id").agg(F.count(F.lit(1)).alias("n"))
            .agg(F.sum(_pairs(F.col("n"))).alias("tp")))
    pred_pairs = covered.groupBy("customer_id").agg(F.count(F.lit(1)).alias("n")).agg(F.sum(_pairs(F.col("n"))))
    true_pairs = covered.groupBy("entity_id").agg(F.count(F.lit(1)).alias("n")).agg(F.sum(_pairs(F.col("n"))))
    counts = joined.agg(F.count(F.lit(1)).alias("truth"), F.count("customer_id").alias("covered")).first()
    tp = int(both.first()[0] or 0)
    pp = int(pred_pairs.first()[0] or 0)
    tpairs = int(true_pairs.first()[0] or 0)
    precision = tp / pp if pp else 1.0
    recall = tp / tpairs if tpairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairwise_precision": round(precision, 6), "pairwise_recall": round(recall, 6), "pairwise_f1": round(f1, 6),
        "true_pairs": tpairs, "predicted_pairs": pp, "true_positive_pairs": tp,
        "truth_records": int(counts["truth"]), "covered_records": int(counts["covered"]),
        "coverage": round(counts["covered"] / counts["truth"], 6) if counts["truth"] else 0.0,
    }
