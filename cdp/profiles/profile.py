"""Profile: publish gold/interaction_customer, gold/identity_map and gold/customer_profile.

Everything is an aggregation grouped by customer (no global windows), so it scales with the data.
Gold tables are each replaced in one Delta commit; meta/publications then records their versions
(see :mod:`cdp.publication`).
"""
from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig
from cdp.constants import (
    FIRST_CUSTOMER_ID, GOLD_CUSTOMER_ID_HISTORY, GOLD_CUSTOMER_PROFILE, GOLD_IDENTITY_MAP, GOLD_INTERACTION_CUSTOMER,
    GOLD_MATCH_PAIRS, PURCHASE_EVENT_TYPES, SILVER_CUSTOMER_ID_CHANGES, SILVER_IDENTIFIER_RESOLVED,
    SILVER_IDENTIFIERS, SILVER_MATCH_PAIRS,
    SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS, SUPPORT_CHANNELS,
)
from cdp.faults import PROFILE_AFTER_FIRST_GOLD, crash_point
from cdp.publication import input_fingerprint, read_published, record_publication
from cdp.tables import overwrite_table, read_table, read_table_or_none

log = logging.getLogger(__name__)


def interaction_customer(interactions: DataFrame, resolved: DataFrame, run_id: str) -> DataFrame:
    """One row per landed interaction with its customer_id and the id it was first given."""
    first = F.col(FIRST_CUSTOMER_ID) if FIRST_CUSTOMER_ID in resolved.columns else F.col("customer_id")
    return interactions.join(resolved, "interaction_id", "left").select(
        "interaction_id", "source", "record_id", "channel", "event_time", "event_type", "customer_id",
        first.alias(FIRST_CUSTOMER_ID), F.lit(run_id).alias("_run_id"),
    )


def identity_map(identifiers: DataFrame, interactions: DataFrame, identifier_resolved: DataFrame,
                 run_id: str) -> DataFrame:
    """One row per linking identifier value: its customer and when it was first and last seen."""
    seen = (
        identifiers.where("is_valid")
        .join(interactions.select("interaction_id", "event_time"), "interaction_id")
        .groupBy("id_type", "value")
        .agg(F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"),
             F.countDistinct("interaction_id").alias("interactions"))
    )
    return identifier_resolved.join(seen, ["id_type", "value"], "left").select(
        "id_type", F.col("value").alias("id_value"), "customer_id", "first_seen", "last_seen",
        F.coalesce("interactions", F.lit(0)).alias("interactions"), F.lit(run_id).alias("_run_id"),
    )


def _mode(value: Column, alias: str) -> Column:
    """The most frequent non-null value (ties: the most recently seen); used after a pre-count."""
    return F.max_by(value, F.struct("n", "last_time")).alias(alias)


def _most_common(df: DataFrame, key: str, value: Column, alias: str) -> DataFrame:
    counted = (df.where(value.isNotNull()).groupBy(key, value.alias("_v"))
               .agg(F.count(F.lit(1)).alias("n"), F.max("event_time").alias("last_time")))
    return counted.groupBy(key).agg(_mode(F.col("_v"), alias))


def customer_profile(ic: DataFrame, interactions: DataFrame, id_map: DataFrame,
                     known_id_types: tuple[str, ...], run_id: str) -> DataFrame:
    """The unified profile, one row per customer_id."""
    base = ic.select("interaction_id", "customer_id", "channel", "event_type", "event_time").join(
        interactions.select("interaction_id", "attributes", "measures"), "interaction_id")
    activity = base.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("interactions"),
        F.array_sort(F.collect_set("channel")).alias("channels"),
        F.min("event_time").alias("first_seen"),
        F.max("event_time").alias("last_seen"),
        F.sum(F.when(F.col("event_type").isin(*PURCHASE_EVENT_TYPES), 1).otherwise(0)).alias("purchases"),
        F.sum(F.when(F.col("event_type").isin(*PURCHASE_EVENT_TYPES), F.col("measures")["amount"]))
        .alias("purchase_amount"),
        F.max(F.when(F.col("channel").isin(*SUPPORT_CHANNELS), F.col("event_time"))).alias("last_support_contact"),
    )
    per_channel = (base.groupBy("customer_id", "channel").count()
                   .groupBy("customer_id")
                   .agg(F.map_from_entries(F.array_sort(F.collect_list(F.struct("channel", "count"))))
                        .alias("interactions_per_channel")))
    name = _most_common(base, "customer_id", F.col("attributes.full_name"), "name")
    city = _most_common(base, "customer_id", F.col("attributes.city"), "city")
    pincode = _most_common(base, "customer_id", F.col("attributes.pincode"), "pincode")
    ids = id_map.select("customer_id", "id_type", "id_value", "interactions",
                        F.col("last_seen").alias("last_time"))
    primary = (ids.where(F.col("id_type").isin("email", "phone"))
               .groupBy("customer_id")
               .agg(F.max_by(F.when(F.col("id_type") == "email", F.col("id_value")),
                             F.when(F.col("id_type") == "email", F.struct("interactions", "last_time")))
                    .alias("primary_email"),
                    F.max_by(F.when(F.col("id_type") == "phone", F.col("id_value")),
                             F.when(F.col("id_type") == "phone", F.struct("interactions", "last_time")))
                    .alias("primary_phone")))
    by_type = (ids.groupBy("customer_id", "id_type").agg(F.array_sort(F.collect_set("id_value")).alias("values"))
               .groupBy("customer_id")
               .agg(F.map_from_entries(F.array_sort(F.collect_list(F.struct("id_type", "values"))))
                    .alias("identifiers"),
                    F.max(F.col("id_type").isin(*known_id_types)).alias("is_known")))
    profile = (activity.join(per_channel, "customer_id", "left").join(name, "customer_id", "left")
               .join(city, "customer_id", "left").join(pincode, "customer_id", "left")
               .join(primary, "customer_id", "left").join(by_type, "customer_id", "left"))
    return profile.select(
        "customer_id", "name", "primary_email", "primary_phone", "city", "pincode",
        F.coalesce("identifiers", F.create_map().cast("map<string,array<string>>")).alias("identifiers"),
        "channels", "first_seen", "last_seen", "interactions", "interactions_per_channel",
        "purchases", F.coalesce("purchase_amount", F.lit(0.0)).alias("purchase_amount"),
        "last_support_contact", F.coalesce("is_known", F.lit(False)).alias("is_known"),
        F.lit(run_id).alias("_run_id"),
    )


HISTORY_KEY = ["run_id", "old_id", "new_id", "change"]
PUBLISHED_TABLES = (GOLD_CUSTOMER_ID_HISTORY, GOLD_INTERACTION_CUSTOMER, GOLD_IDENTITY_MAP, GOLD_CUSTOMER_PROFILE,
                    GOLD_MATCH_PAIRS)


def id_history(published: DataFrame | None, changes: DataFrame) -> DataFrame:
    """The published history rows plus this run's changes (a rerun of a run replaces its rows)."""
    if published is None:
        return changes.dropDuplicates(HISTORY_KEY)
    run_ids = changes.select("run_id").distinct()
    kept = published.join(run_ids, "run_id", "left_anti")
    return kept.unionByName(changes, allowMissingColumns=True).dropDuplicates(HISTORY_KEY)


def run_profile(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict[str, int]:
    """Publish the gold tables from silver and resolve's outputs."""
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    identifiers = read_table(spark, conf, SILVER_IDENTIFIERS)
    resolved = read_table(spark, conf, SILVER_INTERACTION_RESOLVED)
    id_resolved = read_table(spark, conf, SILVER_IDENTIFIER_RESOLVED)
    changes = read_table(spark, conf, SILVER_CUSTOMER_ID_CHANGES)

    # history = the published history plus this run's changes, as one overwrite: a run killed
    # after this write and rerun leaves no trace of the killed attempt
    history = id_history(read_published(spark, conf, GOLD_CUSTOMER_ID_HISTORY), changes)
    overwrite_table(history, conf, GOLD_CUSTOMER_ID_HISTORY)
    crash_point(PROFILE_AFTER_FIRST_GOLD)
    ic = interaction_customer(interactions, resolved, run_id)
    overwrite_table(ic, conf, GOLD_INTERACTION_CUSTOMER)
    ic = read_table(spark, conf, GOLD_INTERACTION_CUSTOMER)
    id_map = identity_map(identifiers, interactions, id_resolved, run_id)
    overwrite_table(id_map, conf, GOLD_IDENTITY_MAP)
    id_map = read_table(spark, conf, GOLD_IDENTITY_MAP)
    profile = customer_profile(ic, interactions, id_map, conf.resolve.known_id_types, run_id)
    overwrite_table(profile, conf, GOLD_CUSTOMER_PROFILE)
    match_pairs = read_table_or_none(spark, conf, SILVER_MATCH_PAIRS)
    if match_pairs is not None:
        overwrite_table(match_pairs, conf, GOLD_MATCH_PAIRS)
    pub = record_publication(spark, conf, run_id, list(PUBLISHED_TABLES), input_fingerprint(spark, conf))
    log.info("profile: published %s", ", ".join(pub.versions))
    return {"customers": read_table(spark, conf, GOLD_CUSTOMER_PROFILE).count(), "versions": pub.versions}
