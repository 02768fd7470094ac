"""Measure a resolution against a truth table (source, record_id, entity_id), without building pairs.

Pair counts come from cluster sizes (n choose 2) and B-cubed scores from the counts per
(customer, entity), per customer and per entity, so the cost is a few aggregations, not a
quadratic pair join. Only single-row aggregates and the ``largest`` biggest clusters reach the
driver.
"""
from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig
from cdp.constants import GOLD_INTERACTION_CUSTOMER
from cdp.tables import read_table

log = logging.getLogger(__name__)

KEYS = ["source", "record_id"]
EXPERIMENT = "cdp_evaluate"
LOGGED_METRICS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall",
                  "bcubed_f1", "coverage", "clusters", "truth_entities", "truth_records", "covered_records")


def _pairs(n: F.Column) -> F.Column:
    return (n * (n - 1) / 2).cast("long")


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def pairwise_scores(predicted: DataFrame, truth: DataFrame) -> dict[str, Any]:
    """predicted: (source, record_id, customer_id); truth: (source, record_id, entity_id).

    Returns pairwise precision/recall/F1 over records present in both, and coverage: the share of
    truth records that received a customer_id.
    """
    joined = truth.join(predicted, KEYS, "left")
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
    f1 = _f1(precision, recall)
    return {
        "pairwise_precision": round(precision, 6), "pairwise_recall": round(recall, 6), "pairwise_f1": round(f1, 6),
        "true_pairs": tpairs, "predicted_pairs": pp, "true_positive_pairs": tp,
        "truth_records": int(counts["truth"]), "covered_records": int(counts["covered"]),
        "coverage": round(counts["covered"] / counts["truth"], 6) if counts["truth"] else 0.0,
    }


def cluster_scores(predicted: DataFrame, truth: DataFrame, largest: int = 10) -> dict[str, Any]:
    """B-cubed precision/recall/F1 and the ``largest`` biggest predicted clusters.

    B-cubed averages, over every truth record r, precision |C(r) ∩ E(r)| / |C(r)| and recall
    |C(r) ∩ E(r)| / |E(r)|. A truth record without a customer_id (uncovered) is its own singleton
    cluster: precision 1, recall 1 / |E(r)|. Predicted records absent from the truth are ignored.

    Returns bcubed_precision, bcubed_recall, bcubed_f1, clusters (distinct customer_ids among truth
    records), truth_entities (distinct entity_ids) and largest_clusters: a list of {customer_id,
    records, entities, largest_entity_share} ordered by records desc then customer_id, where records
    counts the cluster's truth records and largest_entity_share is the share of its biggest entity.
    """
    joined = truth.join(predicted, KEYS, "left")
    per_ce = (joined.where(F.col("customer_id").isNotNull())
              .groupBy("customer_id", "entity_id").agg(F.count(F.lit(1)).alias("n")))
    per_c = per_ce.groupBy("customer_id").agg(F.sum("n").alias("n_c"), F.count(F.lit(1)).alias("entities"),
                                              F.max("n").alias("max_n"))
    per_e = joined.groupBy("entity_id").agg(F.count(F.lit(1)).alias("n_e"), F.count("customer_id").alias("cov_e"))
    sq = F.col("n").cast("double") * F.col("n")
    precision_sum = per_ce.join(per_c, "customer_id").agg(F.sum(sq / F.col("n_c")).alias("p_covered"))
    recall_sum = per_ce.join(per_e, "entity_id").agg(F.sum(sq / F.col("n_e")).alias("r_covered"))
    entity_totals = per_e.agg(
        F.sum("n_e").alias("records"), F.count(F.lit(1)).alias("truth_entities"),
        F.sum(F.col("n_e") - F.col("cov_e")).alias("uncovered"),
        F.sum((F.col("n_e") - F.col("cov_e")) / F.col("n_e")).alias("r_uncovered"))
    cluster_count = per_c.agg(F.count(F.lit(1)).alias("clusters"))
    row = precision_sum.crossJoin(recall_sum).crossJoin(entity_totals).crossJoin(cluster_count).first()

    records = int(row["records"] or 0)
    if records:
        precision = ((row["p_covered"] or 0.0) + (row["uncovered"] or 0)) / records
        recall = ((row["r_covered"] or 0.0) + (row["r_uncovered"] or 0.0)) / records
    else:
        precision = recall = 0.0
    order = [F.col("n_c").desc(), F.col("customer_id").asc()]
    top = per_c.orderBy(*order).limit(largest).collect() if largest > 0 else []
    largest_clusters = [{"customer_id": r["customer_id"], "records": int(r["n_c"]), "entities": int(r["entities"]),
                         "largest_entity_share": round(r["max_n"] / r["n_c"], 6)} for r in top]
    return {
        "bcubed_precision": round(precision, 6), "bcubed_recall": round(recall, 6),
        "bcubed_f1": round(_f1(precision, recall), 6),
        "clusters": int(row["clusters"] or 0), "truth_entities": int(row["truth_entities"] or 0),
        "largest_clusters": largest_clusters,
    }


def evaluate_resolution(predicted: DataFrame, truth: DataFrame, largest: int = 10) -> dict[str, Any]:
    """pairwise_scores and cluster_scores in one dict."""
    return {**pairwise_scores(predicted, truth), **cluster_scores(predicted, truth, largest)}


def comparison_ceiling(predicted: DataFrame, comparable: DataFrame, truth: DataFrame) -> DataFrame:
    """The best resolution a matcher that compares records could reach from ``predicted``.

    predicted: (source, record_id, customer_id), usually the deterministic customers; comparable:
    (source, record_id) of the interactions a matcher can compare (a name or an email: the ones
    that become match records); truth: (source, record_id, entity_id). Every predicted customer is
    split by true entity (perfect precision), and the parts of one entity whose customer holds a
    comparable interaction are merged (perfect recall among them). A customer with nothing to
    compare (an anonymous cookie, a device, a nameless walk-in bill) keeps only its deterministic
    links. Returns (source, record_id, customer_id) for the truth records that ``predicted`` covers;
    its pairwise recall is the ceiling for fuzzy links on top of ``predicted``.
    """
    flagged = predicted.join(comparable.select(*KEYS).distinct().withColumn("_cmp", F.lit(True)), KEYS, "left")
    reachable = flagged.groupBy("customer_id").agg(F.max(F.coalesce("_cmp", F.lit(False))).alias("_reachable"))
    return (predicted.join(truth.select(*KEYS, "entity_id"), KEYS).join(reachable, "customer_id")
            .select(*KEYS, F.when(F.col("_reachable"), F.concat(F.col("entity_id"), F.lit("|*")))
                    .otherwise(F.concat_ws("|", F.col("entity_id"), F.col("customer_id"))).alias("customer_id")))


def _tracking_uri(conf: CdpConfig) -> str:
    """matching.mlflow.tracking_uri when configured, else a SQLite file under storage.root."""
    from cdp.matching.registry import tracking_uri

    return tracking_uri(conf)


def read_truth(spark: SparkSession, truth_path: str, entity_column: str = "person_id",
               source_column: str = "source", record_id_column: str = "record_id") -> DataFrame:
    """Read a truth CSV (with header) as (source, record_id, entity_id) strings."""
    raw = spark.read.option("header", True).csv(truth_path)
    wanted = {"source": source_column, "record_id": record_id_column, "entity_id": entity_column}
    missing = [c for c in wanted.values() if c not in raw.columns]
    if missing:
        raise ValueError(f"truth file {truth_path}: missing column(s) {missing}; available columns: {raw.columns}")
    return raw.select(*[F.col(f"`{src}`").alias(name) for name, src in wanted.items()])


def _log_to_mlflow(conf: CdpConfig, truth_path: str, result: dict[str, Any]) -> str:
    import mlflow

    from cdp.matching.registry import ensure_experiment

    uri = _tracking_uri(conf)
    experiment_id = ensure_experiment(conf, EXPERIMENT)  # sets the tracking URI too
    metrics = {k: float(result[k]) for k in LOGGED_METRICS if isinstance(result.get(k), (int, float))}
    with mlflow.start_run(experiment_id=experiment_id, run_name="evaluate") as run:
        mlflow.log_param("truth", truth_path)
        mlflow.log_metrics(metrics)
        mlflow.log_dict({"largest_clusters": result["largest_clusters"]}, "largest_clusters.json")
    log.info("logged evaluation to MLflow run %s (%s)", run.info.run_id, uri)
    return run.info.run_id


def run_evaluate(spark: SparkSession, conf: CdpConfig, truth_path: str, entity_column: str = "person_id",
                 source_column: str = "source", record_id_column: str = "record_id", largest: int = 10,
                 log_to_mlflow: bool = True) -> dict[str, Any]:
    """Score gold/interaction_customer against a truth CSV; optionally log it to MLflow (cdp_evaluate)."""
    truth = read_truth(spark, truth_path, entity_column, source_column, record_id_column)
    predicted = read_table(spark, conf, GOLD_INTERACTION_CUSTOMER).select("source", "record_id", "customer_id")
    result = evaluate_resolution(predicted, truth, largest)
    log.info("evaluation: pairwise F1 %s, B-cubed F1 %s, coverage %s",
             result["pairwise_f1"], result["bcubed_f1"], result["coverage"])
    if log_to_mlflow:
        result["mlflow_run_id"] = _log_to_mlflow(conf, truth_path, result)
    return result
