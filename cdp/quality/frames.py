"""The DataFrames the quality suites validate: narrow projections of the layer tables, and small
aggregate frames (one row per source, or one row) for the checks GX cannot express directly.

Pure DataFrame -> DataFrame functions; nothing here collects data to the driver.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cdp.config import SourceConfig, StandardizeConfig
from cdp.constants import COL_RECORD_ID
from cdp.standardize.normalize import EVENT_TIME_BEFORE_MIN, EVENT_TIME_FUTURE, null_if_token, parse_event_time
from cdp.standardize.standardize import column_at

RECORD_ID = "record_id"
EVENT_TIME_PARSED = "event_time_parsed"
EVENT_TIME_PLAUSIBLE = "event_time_plausible"


def parsed_event_time(bronze: DataFrame, source: SourceConfig, std: StandardizeConfig) -> Column:
    """The event_time column exactly as standardize parses it (null tokens, format, time zone)."""
    et = source.event_time
    if et is None:
        return F.lit(None).cast("timestamp")
    raw = column_at(bronze.schema, et.column)
    return parse_event_time(null_if_token(raw, std.null_tokens), et.format, et.timezone or std.default_timezone)


def bronze_frame(bronze: DataFrame, source: SourceConfig, std: StandardizeConfig) -> DataFrame:
    """record_id (bronze ``_record_id``) and, when the source maps an event_time, its parsed value."""
    cols = [F.col(COL_RECORD_ID).cast("string").alias(RECORD_ID)]
    if source.event_time is not None:
        cols.append(parsed_event_time(bronze, source, std).alias(EVENT_TIME_PARSED))
    return bronze.select(*cols)


def interactions_frame(interactions: DataFrame, low: datetime | None, high: datetime | None) -> DataFrame:
    """interaction_id and EVENT_TIME_PLAUSIBLE: true, or null for an event time standardize flagged
    before_min / future (event_time_issue) or one outside [low, high]; a missing time counts as true."""
    outside = F.lit(False)
    if "event_time_issue" in interactions.columns:
        outside = F.col("event_time_issue").isin(EVENT_TIME_BEFORE_MIN, EVENT_TIME_FUTURE)
    if low is not None:
        outside = outside | (F.col("event_time") < F.lit(low))
    if high is not None:
        outside = outside | (F.col("event_time") > F.lit(high))
    return interactions.select("interaction_id",
                               F.when(~F.coalesce(outside, F.lit(False)), F.lit(True)).alias(EVENT_TIME_PLAUSIBLE))


def valid_identifier_values(identifiers: DataFrame, id_type: str) -> DataFrame:
    """The ``value`` of every valid identifier row of one type (nulls kept: completeness is checked)."""
    return identifiers.where(F.col("is_valid") & (F.col("id_type") == id_type)).select("value")


def valid_share_by_source(identifiers: DataFrame, min_share: dict[str, float], default_min: float) -> DataFrame:
    """One row per source: identifiers, valid identifiers, their share and the source's minimum share."""
    per_source = identifiers.groupBy("source").agg(
        F.count(F.lit(1)).alias("identifiers"),
        F.count(F.when(F.col("is_valid"), 1)).alias("valid"))
    threshold = F.lit(default_min)
    for source, share in sorted(min_share.items()):
        threshold = F.when(F.col("source") == source, F.lit(share)).otherwise(threshold)
    return per_source.select(
        "source", "identifiers", "valid",
        F.round(F.col("valid") / F.col("identifiers"), 6).alias("valid_share"),
        threshold.cast("double").alias("min_share"))


def candidate_frame(resolved: DataFrame) -> DataFrame:
    return resolved.select("interaction_id", "customer_id")


def largest_customer(resolved: DataFrame) -> DataFrame:
    """One row: the customer_id with the most interactions and that count (0 and null when empty)."""
    sizes = resolved.where(F.col("customer_id").isNotNull()).groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("n"))
    return sizes.agg(F.max_by("customer_id", F.struct("n", "customer_id")).alias("customer_id"),
                     F.coalesce(F.max("n"), F.lit(0)).cast("long").alias("interactions"))


def previous_match_rate(run_metrics: DataFrame | None, exclude_run_id: str) -> DataFrame | None:
    """The latest published overall match rate (gold/run_metrics) other than ``exclude_run_id``:
    one row (run_id, match_rate) or no row. None when there is no run_metrics table."""
    if run_metrics is None:
        return None
    rates = run_metrics.where((F.col("metric") == "match_rate") & (F.col("dimension") == "overall")
                              & (F.col("run_id") != exclude_run_id))
    latest = rates.agg(F.max_by(F.struct("run_id", "value"), F.struct("reported_at", "run_id")).alias("p"))
    return latest.where(F.col("p").isNotNull()).select(
        F.col("p.run_id").alias("run_id"), F.col("p.value").alias("match_rate"))


def match_rate_frame(interactions: DataFrame, resolved: DataFrame, identifier_resolved: DataFrame,
                     known_id_types: tuple[str, ...], previous: DataFrame | None) -> DataFrame:
    """One row: the candidate match rate (share of interactions whose customer holds an identifier of
    a known type, as the report and profile define it), the previous published rate and the drop in
    points (null without a previous run)."""
    known = (identifier_resolved.where(F.col("id_type").isin(*known_id_types))
             .select("customer_id").distinct().withColumn("is_known", F.lit(True)))
    ic = interactions.select("interaction_id").join(resolved.select("interaction_id", "customer_id"),
                                                    "interaction_id", "left")
    rate = ic.join(known, "customer_id", "left").agg(
        F.count(F.lit(1)).alias("interactions"),
        F.count(F.when(F.col("is_known"), 1)).alias("known"))
    rate = rate.select("interactions", "known", F.when(F.col("interactions") > 0, F.round(
        F.col("known") / F.col("interactions"), 6)).otherwise(F.lit(0.0)).alias("match_rate"))
    if previous is None:
        rate = rate.select("*", F.lit(None).cast("string").alias("previous_run_id"),
                           F.lit(None).cast("double").alias("previous_match_rate"))
    else:
        prev = previous.select(F.col("run_id").alias("previous_run_id"),
                               F.col("match_rate").cast("double").alias("previous_match_rate"))
        rate = rate.join(prev, F.lit(True), "left")  # previous holds at most one row
    return rate.select("*", F.round((F.col("previous_match_rate") - F.col("match_rate")) * 100, 4)
                       .alias("drop_points"))


__all__ = [
    "bronze_frame", "parsed_event_time", "interactions_frame", "valid_identifier_values",
    "valid_share_by_source", "candidate_frame", "largest_customer", "previous_match_rate", "match_rate_frame",
    "RECORD_ID", "EVENT_TIME_PARSED",
]
