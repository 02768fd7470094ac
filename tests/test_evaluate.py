"""Pairwise and B-cubed scores, largest clusters, and run_evaluate with MLflow logging."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pyspark.sql import Row

from cdp.constants import GOLD_INTERACTION_CUSTOMER
from cdp.reporting.evaluate import (
    _tracking_uri, cluster_scores, comparison_ceiling, evaluate_resolution, pairwise_scores, run_evaluate,
)


def _truth(spark, entities: list[str], ids: list[str] | None = None):
    ids = ids or [str(i) for i in range(len(entities))]
    return spark.createDataFrame([Row(source="s", record_id=i, entity_id=e) for i, e in zip(ids, entities)])


def _predicted(spark, customers: list[str], ids: list[str] | None = None):
    ids = ids or [str(i) for i in range(len(customers))]
    return spark.createDataFrame([Row(source="s", record_id=i, customer_id=c) for i, c in zip(ids, customers)])


@pytest.fixture
def isolated_mlflow(monkeypatch):
    """Undo the global MLflow tracking URI / active experiment that run_evaluate sets."""
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)


def test_pairwise_and_bcubed_by_hand(spark):
    # truth a,a,a,b,b; predicted x = {0,1} (a,a), y = {2,3,4} (a,b,b)
    truth = _truth(spark, ["a", "a", "a", "b", "b"])
    predicted = _predicted(spark, ["x", "x", "y", "y", "y"])
    s = evaluate_resolution(predicted, truth)
    # pairs: TP = C(2,2) [x,a] + C(2,2) [y,b] = 2; predicted = 1 + 3 = 4; true = 3 + 1 = 4
    assert (s["true_positive_pairs"], s["predicted_pairs"], s["true_pairs"]) == (2, 4, 4)
    assert (s["pairwise_precision"], s["pairwise_recall"], s["pairwise_f1"]) == (0.5, 0.5, 0.5)
    # B-cubed precision: 1, 1, 1/3, 2/3, 2/3 -> 11/15; recall: 2/3, 2/3, 1/3, 1, 1 -> 11/15
    assert (s["bcubed_precision"], s["bcubed_recall"], s["bcubed_f1"]) == (0.733333, 0.733333, 0.733333)
    assert (s["clusters"], s["truth_entities"], s["coverage"]) == (2, 2, 1.0)
    assert s["largest_clusters"] == [
        {"customer_id": "y", "records": 3, "entities": 2, "largest_entity_share": 0.666667},
        {"customer_id": "x", "records": 2, "entities": 1, "largest_entity_share": 1.0},
    ]
    # pairwise_scores keeps exactly its keys
    assert set(pairwise_scores(predicted, truth)) == {
        "pairwise_precision", "pairwise_recall", "pairwise_f1", "true_pairs", "predicted_pairs",
        "true_positive_pairs", "truth_records", "covered_records", "coverage"}


def test_one_big_cluster_has_full_recall_low_precision(spark):
    truth = _truth(spark, ["a", "a", "b", "c"])
    predicted = _predicted(spark, ["z", "z", "z", "z"])
    s = evaluate_resolution(predicted, truth)
    # pairs: TP 1 of predicted 6, true 1 -> P 1/6, R 1, F1 2/7
    assert (s["pairwise_precision"], s["pairwise_recall"], s["pairwise_f1"]) == (0.166667, 1.0, 0.285714)
    # B-cubed precision: 2/4, 2/4, 1/4, 1/4 -> 0.375; recall 1; F1 = 0.75 / 1.375 = 6/11
    assert (s["bcubed_precision"], s["bcubed_recall"], s["bcubed_f1"]) == (0.375, 1.0, 0.545455)
    assert s["largest_clusters"] == [{"customer_id": "z", "records": 4, "entities": 3, "largest_entity_share": 0.5}]


def test_uncovered_records_are_singletons_and_extra_predictions_ignored(spark):
    truth = _truth(spark, ["a", "a", "a"])
    # record 2 has no customer; record 9 is predicted but not in the truth
    predicted = _predicted(spark, ["x", "y", "x"], ids=["0", "1", "9"])
    s = evaluate_resolution(predicted, truth)
    assert (s["truth_records"], s["covered_records"], s["coverage"]) == (3, 2, 0.666667)
    # pairwise over covered records {0: x, 1: y}: no predicted pairs (P = 1), one true pair missed (R = 0)
    assert (s["pairwise_precision"], s["pairwise_recall"], s["pairwise_f1"]) == (1.0, 0.0, 0.0)
    # B-cubed: every record alone in its cluster (record 2 as its own singleton): P 1, R 1/3 each
    assert (s["bcubed_precision"], s["bcubed_recall"], s["bcubed_f1"]) == (1.0, 0.333333, 0.5)
    assert (s["clusters"], s["truth_entities"]) == (2, 1)
    assert [c["customer_id"] for c in s["largest_clusters"]] == ["x", "y"]
    assert [c["records"] for c in s["largest_clusters"]] == [1, 1]


def test_largest_clusters_order_and_tie_break(spark):
    customers = ["b", "b", "a", "c", "a", "c", "d", "c"]
    entities = ["e4", "e5", "e3", "e1", "e3", "e1", "e6", "e2"]
    truth, predicted = _truth(spark, entities), _predicted(spark, customers)
    s = cluster_scores(predicted, truth, largest=3)
    assert s["largest_clusters"] == [
        {"customer_id": "c", "records": 3, "entities": 2, "largest_entity_share": 0.666667},
        {"customer_id": "a", "records": 2, "entities": 1, "largest_entity_share": 1.0},
        {"customer_id": "b", "records": 2, "entities": 2, "largest_entity_share": 0.5},
    ]
    assert (s["clusters"], s["truth_entities"]) == (4, 6)
    assert cluster_scores(predicted, truth, largest=0)["largest_clusters"] == []


def test_comparison_ceiling_merges_comparable_parts_and_keeps_the_rest(spark):
    # entity a: x = {0, 1} (1 has a name), y = {2} (named), z = {3} (anonymous cookie only);
    # entity b: w = {4, 5} holds b's 4 and a's 5 (a wrong merge, named); record 9 is not in the truth
    truth = _truth(spark, ["a", "a", "a", "a", "b", "a"])
    predicted = _predicted(spark, ["x", "x", "y", "z", "w", "w", "v"], ids=["0", "1", "2", "3", "4", "5", "9"])
    comparable = spark.createDataFrame([Row(source="s", record_id=i) for i in ("1", "2", "4")])
    ceiling = comparison_ceiling(predicted, comparable, truth)
    got = {(r["record_id"], r["customer_id"]) for r in ceiling.collect()}
    assert got == {("0", "a|*"), ("1", "a|*"), ("2", "a|*"), ("3", "a|z"), ("4", "b|*"), ("5", "a|*")}
    s = pairwise_scores(ceiling, truth)
    # a has 5 records (10 pairs): {0, 1, 2, 5} together (6 pairs), 3 alone
    assert (s["pairwise_precision"], s["true_pairs"], s["true_positive_pairs"]) == (1.0, 10, 6)


def test_tracking_uri_prefers_configured_value(make_conf):
    conf = make_conf()
    assert _tracking_uri(conf) == "sqlite:///" + conf.table_path("mlflow.db")
    configured = SimpleNamespace(matching=SimpleNamespace(mlflow=SimpleNamespace(tracking_uri="sqlite:///x.db")))
    assert _tracking_uri(configured) == "sqlite:///x.db"


def _write_truth_csv(path: Path, header: str, rows: list[str]) -> str:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_run_evaluate_logs_to_mlflow(spark, make_conf, tmp_path, isolated_mlflow):
    import mlflow

    conf = make_conf()
    gold = spark.createDataFrame([Row(source="web", record_id=str(i), customer_id=c, channel="web")
                                  for i, c in enumerate(["x", "x", "y", "y", "y"])])
    gold.write.format("delta").save(conf.table_path(GOLD_INTERACTION_CUSTOMER))
    truth_path = _write_truth_csv(tmp_path / "truth.csv", "source,record_id,name,person_id",
                                  [f"web,{i},n{i},{e}" for i, e in enumerate(["a", "a", "a", "b", "b"])])

    result = run_evaluate(spark, conf, truth_path, largest=1)
    assert (result["pairwise_f1"], result["bcubed_precision"], result["bcubed_recall"]) == (0.5, 0.733333, 0.733333)
    assert result["largest_clusters"] == [
        {"customer_id": "y", "records": 3, "entities": 2, "largest_entity_share": 0.666667}]

    mlflow.set_tracking_uri(_tracking_uri(conf))
    runs = mlflow.search_runs(experiment_names=["cdp_evaluate"])
    assert list(runs["run_id"]) == [result["mlflow_run_id"]]
    run = runs.iloc[0]
    assert run["tags.mlflow.runName"] == "evaluate"
    assert run["params.truth"] == truth_path
    for key in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall",
                "bcubed_f1", "coverage", "clusters"):
        assert run[f"metrics.{key}"] == pytest.approx(result[key]), key
    artifact = mlflow.artifacts.load_dict(run["artifact_uri"] + "/largest_clusters.json")
    assert artifact == {"largest_clusters": result["largest_clusters"]}
    # artifacts stay under the warehouse, not in ./mlruns of the working directory
    assert Path(conf.table_path("mlruns")).is_dir()


def test_run_evaluate_without_mlflow(spark, make_conf, tmp_path):
    conf = make_conf()
    spark.createDataFrame([Row(source="s", record_id="1", customer_id="x")]).write.format("delta").save(
        conf.table_path(GOLD_INTERACTION_CUSTOMER))
    truth_path = _write_truth_csv(tmp_path / "t.csv", "src,rid,entity", ["s,1,a", "s,2,a"])
    result = run_evaluate(spark, conf, truth_path, entity_column="entity", source_column="src",
                          record_id_column="rid", log_to_mlflow=False)
    assert "mlflow_run_id" not in result
    assert (result["coverage"], result["bcubed_precision"], result["bcubed_recall"]) == (0.5, 1.0, 0.5)
    assert not Path(conf.table_path("mlflow.db")).exists()


def test_run_evaluate_names_missing_truth_column(spark, make_conf, tmp_path):
    truth_path = _write_truth_csv(tmp_path / "bad.csv", "source,record_id,entity", ["web,1,a"])
    with pytest.raises(ValueError) as err:
        run_evaluate(spark, make_conf(), truth_path, log_to_mlflow=False)
    message = str(err.value)
    assert truth_path in message and "person_id" in message
    assert "available columns" in message and "entity" in message and "record_id" in message
