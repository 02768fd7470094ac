"""Score candidate pairs, keep every scored pair with its evidence, turn matches into edges."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.matching.features import FEATURE_COLUMNS

MATCH_PAIRS_SCHEMA = (
    "pair_id string, left_interaction_id string, right_interaction_id string, "
    "left_component string, right_component string, blocking_rule string, blocking_rules array<string>, "
    "features struct<" + ", ".join(f"{f}: double" for f in FEATURE_COLUMNS) + ">, "
    "score double, threshold double, decision string, model_name string, model_version string, run_id string"
)
DECISION_MATCH = "match"
DECISION_NO_MATCH = "no_match"


def decide(score: F.Column, threshold: float) -> F.Column:
    """'match' when score >= threshold (inclusive, compared as doubles, never rounded)."""
    return F.when(score >= F.lit(float(threshold)).cast("double"), DECISION_MATCH).otherwise(DECISION_NO_MATCH)


def match_pairs(features: DataFrame, pair_scores: DataFrame, threshold: float, model_name: str,
                model_version: str, run_id: str) -> DataFrame:
    """Every scored pair with both interaction ids, features, score, decision, model and rule.

    ``pair_scores`` (pair_id, score) joins back to ``features`` by pair_id."""
    joined = features.join(pair_scores, "pair_id")
    return joined.select(
        "pair_id",
        F.col("left_record_id").alias("left_interaction_id"),
        F.col("right_record_id").alias("right_interaction_id"),
        F.col("left_component").cast("string").alias("left_component"),
        F.col("right_component").cast("string").alias("right_component"),
        "blocking_rule", "blocking_rules",
        F.struct(*[F.col(f) for f in FEATURE_COLUMNS]).alias("features"),
        F.col("score").cast("double").alias("score"),
        F.lit(float(threshold)).cast("double").alias("threshold"),
        decide(F.col("score"), threshold).alias("decision"),
        F.lit(model_name).alias("model_name"),
        F.lit(str(model_version)).alias("model_version"),
        F.lit(run_id).alias("run_id"),
    )


def empty_match_pairs(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], MATCH_PAIRS_SCHEMA)


def fuzzy_edges(pairs: DataFrame) -> DataFrame:
    """``(src, dst)`` between the deterministic components of every matched pair."""
    return (pairs.where((F.col("decision") == DECISION_MATCH) & (F.col("left_component") != F.col("right_component")))
            .select(F.least("left_component", "right_component").alias("src"),
                    F.greatest("left_component", "right_component").alias("dst"))
            .distinct())


def relabel_components(components: DataFrame, merged: DataFrame) -> DataFrame:
    """Vertices ``(id, component)`` with each deterministic component replaced by the label of
    the fuzzy component it joined (``merged``: (id = old component, component = new label))."""
    mapping = merged.select(F.col("id").alias("old"), F.col("component").alias("new"))
    return (components.join(mapping, components["component"] == mapping["old"], "left")
            .select("id", F.coalesce("new", "component").alias("component")))
