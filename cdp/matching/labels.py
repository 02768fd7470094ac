"""Labelled pairs for training, from three kinds of evidence (a pair takes the strongest):

1. ``user``: a labels CSV (left_source, left_record_id, right_source, right_record_id, label);
2. ``truth``: a truth table (source, record_id, entity): candidate pairs of one entity are 1;
3. ``weak``: mined from the data; candidate pairs already joined by identifiers are 1, pairs
   whose customers hold different values of a unique identifier (customer_id, loyalty_id) are 0.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cdp.config import ConfigError
from cdp.matching.blocking import pair_id
from cdp.identity.resolve import interaction_rows

LABEL_COLUMNS = ("pair_id", "left_record_id", "right_record_id", "label", "label_source")
LABEL_PRIORITY = {"user": 0, "truth": 1, "weak": 2}
USER_LABEL_COLUMNS = ("left_source", "left_record_id", "right_source", "right_record_id", "label")


def _shaped(df: DataFrame, source: str) -> DataFrame:
    return df.select("pair_id", "left_record_id", "right_record_id", F.col("label").cast("double").alias("label"),
                     F.lit(source).alias("label_source"))


def truth_labels(pairs: DataFrame, records: DataFrame, truth: DataFrame) -> DataFrame:
    """Candidate pairs whose two representatives are both in ``truth`` (source, record_id,
    entity_id): label 1 when they share the entity."""
    ent = records.join(truth, (records["source"] == truth["source"])
                       & (records["source_record_id"] == truth["record_id"])).select(
        records["record_id"], truth["entity_id"])
    labelled = (pairs.join(ent.select(F.col("record_id").alias("left_record_id"), F.col("entity_id").alias("le")),
                           "left_record_id")
                .join(ent.select(F.col("record_id").alias("right_record_id"), F.col("entity_id").alias("re")),
                      "right_record_id")
                .withColumn("label", (F.col("le") == F.col("re")).cast("double")))
    return _shaped(labelled, "truth")


def check_user_labels(labels: DataFrame, origin: str) -> None:
    """ConfigError naming the file and the column when a labels CSV lacks a required column."""
    missing = [c for c in USER_LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise ConfigError(f"labels file {origin}: missing column(s) {missing}; found {labels.columns}; "
                         f"expected {list(USER_LABEL_COLUMNS)}")


def user_labels(labels: DataFrame, interactions: DataFrame, members: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(labelled, rejected)`` from a user's labels. A row is rejected (with a reason) when its
    label is not 0/1 or a side names no known comparable interaction; pairs whose two sides fall
    in one match record are dropped as uninformative and listed as rejected too."""
    lab = F.lower(F.trim(F.col("label").cast("string")))
    value = (F.when(lab.isin("1", "1.0", "true", "yes", "match"), 1.0)
             .when(lab.isin("0", "0.0", "false", "no", "non_match"), 0.0))
    raw = labels.select(*[F.col(c).cast("string").alias(c) for c in USER_LABEL_COLUMNS]).withColumn("value", value)
    lmap = members.join(interactions.select("interaction_id", F.col("source").alias("left_source"),
                                            F.col("record_id").alias("left_record_id")), "interaction_id") \
        .select("left_source", "left_record_id", F.col("record_id").alias("l_rec"))
    rmap = members.join(interactions.select("interaction_id", F.col("source").alias("right_source"),
                                            F.col("record_id").alias("right_record_id")), "interaction_id") \
        .select("right_source", "right_record_id", F.col("record_id").alias("r_rec"))
    with_recs = (raw.join(lmap, ["left_source", "left_record_id"], "left")
                 .join(rmap, ["right_source", "right_record_id"], "left"))
    reason = (F.when(F.col("value").isNull(), F.concat(F.lit("label is not 0/1: "), F.coalesce(F.col("label"), F.lit("null"))))
              .when(F.col("l_rec").isNull(), F.lit("left side names no comparable interaction"))
              .when(F.col("r_rec").isNull(), F.lit("right side names no comparable interaction"))
              .when(F.col("l_rec") == F.col("r_rec"), F.lit("both sides are one match record")))
    checked = with_recs.withColumn("reason", reason)
    rejected = checked.where(F.col("reason").isNotNull()).select(*USER_LABEL_COLUMNS, "reason")
    ok = checked.where(F.col("reason").isNull())
    lo, hi = F.least("l_rec", "r_rec"), F.greatest("l_rec", "r_rec")
    labelled = ok.select(pair_id(lo, hi).alias("pair_id"), lo.alias("left_record_id"), hi.alias("right_record_id"),
                         F.col("value").alias("label"))
    # one label per pair: a conflicting pair counts as a match only if every row says so
    labelled = labelled.groupBy("pair_id", "left_record_id", "right_record_id").agg(F.min("label").alias("label"))
    return _shaped(labelled, "user"), rejected


def with_components(pairs: DataFrame, records: DataFrame) -> DataFrame:
    """``pairs`` plus left_component and right_component from ``records``."""
    comp = records.select("record_id", "component")
    return (pairs.join(comp.withColumnRenamed("record_id", "left_record_id")
                       .withColumnRenamed("component", "left_component"), "left_record_id")
            .join(comp.withColumnRenamed("record_id", "right_record_id")
                  .withColumnRenamed("component", "right_component"), "right_record_id"))


def weak_labels(pairs: DataFrame, links: DataFrame, components: DataFrame,
                negative_id_types: Sequence[str]) -> DataFrame:
    """Candidate pairs (with left_component/right_component) labelled from identifiers: one
    deterministic component -> 1; different components holding disjoint values of one of
    ``negative_id_types`` -> 0; anything else stays unlabelled."""
    comp = interaction_rows(components.select("id", "component"))
    held = (links.where(F.col("id_type").isin(list(negative_id_types))).join(comp, "interaction_id")
            .groupBy("component", "id_type").agg(F.collect_set("value").alias("vals")))
    positives = pairs.where(F.col("left_component") == F.col("right_component")).withColumn("label", F.lit(1.0))
    cross = pairs.where(F.col("left_component") != F.col("right_component"))
    conflicts = (cross
                 .join(held.select(F.col("component").alias("left_component"), "id_type", F.col("vals").alias("lv")),
                       "left_component")
                 .join(held.select(F.col("component").alias("right_component"), "id_type", F.col("vals").alias("rv")),
                       ["right_component", "id_type"])
                 .where(F.size(F.array_intersect("lv", "rv")) == 0)
                 .select("pair_id", "left_record_id", "right_record_id").distinct()
                 .withColumn("label", F.lit(0.0)))
    return _shaped(positives.select("pair_id", "left_record_id", "right_record_id", "label")
                   .unionByName(conflicts), "weak")


def combine_labels(parts: Sequence[DataFrame]) -> DataFrame:
    """One row per pair: the label from the highest-priority source (user > truth > weak)."""
    if not parts:
        raise ValueError("no labelled pairs: configure matching.training.truth, labels or weak_labels")
    allp = functools.reduce(DataFrame.unionByName, parts)
    prio = F.create_map(*[x for k, v in LABEL_PRIORITY.items() for x in (F.lit(k), F.lit(v))])
    best = allp.groupBy("pair_id").agg(F.min(F.struct(prio[F.col("label_source")].alias("p"),
                                                      "left_record_id", "right_record_id", "label",
                                                      "label_source")).alias("b"))
    return best.select("pair_id", *[F.col(f"b.{c}").alias(c) for c in LABEL_COLUMNS[1:]])
