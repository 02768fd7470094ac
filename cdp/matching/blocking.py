"""Candidate pairs: the union of the blocking rules' pairs, deduplicated, hot blocks skipped."""
from __future__ import annotations

import functools
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cdp.config import BlockingRule
from cdp.matching.keys import blocking_key

KEY_SEPARATOR = "\u001f"
PAIR_COLUMNS = ("pair_id", "left_record_id", "right_record_id", "blocking_rule", "blocking_rules")


def pair_id(left: Column, right: Column) -> Column:
    """A stable id for an ordered record pair (scores join back on it, never on row order)."""
    return F.substring(F.sha2(F.concat_ws("|", left, right), 256), 1, 32)


def block_keys(records: DataFrame, rules: Sequence[BlockingRule]) -> DataFrame:
    """``(rule, rule_index, block_key, record_id, component)``: one row per record and rule whose
    keys are all present."""
    parts = []
    for i, rule in enumerate(rules):
        keys = [blocking_key(k) for k in rule.keys]
        present = functools.reduce(lambda a, b: a & b, [k.isNotNull() & (k != "") for k in keys])
        parts.append(records.where(present).select(
            F.lit(rule.name).alias("rule"), F.lit(i).alias("rule_index"),
            F.concat_ws(KEY_SEPARATOR, *keys).alias("block_key"), "record_id", "component"))
    return functools.reduce(DataFrame.unionByName, parts)


def candidate_pairs(records: DataFrame, rules: Sequence[BlockingRule], max_block_size: int,
                    exclude_same_component: bool = True) -> tuple[DataFrame, DataFrame]:
    """``(pairs, rule_stats)``.

    pairs: PAIR_COLUMNS with left_record_id < right_record_id, once per pair however many rules
    found it (blocking_rule is the first in config order). With ``exclude_same_component`` a
    pair already in one deterministic component is never generated.
    rule_stats: ``(rule, blocks, hot_blocks, records_in_hot_blocks, pairs)``: blocks over
    ``max_block_size`` records are skipped (not paired) and counted here.
    """
    keyed = block_keys(records, rules)
    sizes = keyed.groupBy("rule", "block_key").agg(F.count(F.lit(1)).alias("size"))
    hot = sizes.where(F.col("size") > max_block_size)
    usable = keyed.join(hot.select("rule", "block_key"), ["rule", "block_key"], "left_anti")
    left = usable.select("rule", "rule_index", "block_key", F.col("record_id").alias("l"),
                         F.col("component").alias("lc"))
    right = usable.select("rule", "block_key", F.col("record_id").alias("r"), F.col("component").alias("rc"))
    cond = F.col("l") < F.col("r")
    if exclude_same_component:
        cond = cond & ~F.col("lc").eqNullSafe(F.col("rc"))
    raw = left.join(right, ["rule", "block_key"]).where(cond)
    pairs = (raw.groupBy(F.col("l").alias("left_record_id"), F.col("r").alias("right_record_id"))
             .agg(F.min(F.struct("rule_index", "rule")).getField("rule").alias("blocking_rule"),
                  F.array_sort(F.collect_set("rule")).alias("blocking_rules"))
             .select(pair_id(F.col("left_record_id"), F.col("right_record_id")).alias("pair_id"),
                     "left_record_id", "right_record_id", "blocking_rule", "blocking_rules"))
    per_rule_pairs = raw.groupBy("rule").agg(F.count(F.lit(1)).alias("pairs"))
    block_stats = sizes.groupBy("rule").agg(
        F.count(F.lit(1)).alias("blocks"),
        F.sum(F.when(F.col("size") > max_block_size, 1).otherwise(0)).alias("hot_blocks"),
        F.sum(F.when(F.col("size") > max_block_size, F.col("size")).otherwise(0)).alias("records_in_hot_blocks"),
    )
    names = records.sparkSession.createDataFrame([(r.name, i) for i, r in enumerate(rules)],
                                                 "rule string, rule_index int")
    rule_stats = (names.join(block_stats, "rule", "left").join(per_rule_pairs, "rule", "left")
                  .select("rule", "rule_index",
                          *[F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c)
                            for c in ("blocks", "hot_blocks", "records_in_hot_blocks", "pairs")]))
    return pairs, rule_stats
