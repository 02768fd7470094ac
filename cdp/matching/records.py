"""Match records: one row per distinct attribute tuple within a deterministic customer.

Pairing customers' distinct attribute sets instead of every interaction keeps candidate pairs
bounded by the variety of what a person types, not by how often they shop. The record's id is
its smallest member interaction_id (its representative), so a fuzzy link between two records
is a link between two real interactions.
"""
from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType, StructField, StructType

from cdp.matching.names import name_parts
from cdp.identity.resolve import interaction_rows

NAME_PART_FIELDS = ("canon", "first", "last", "first_phonetic", "last_phonetic", "name_phonetic")
NAME_PARTS_TYPE = StructType([StructField(n, StringType()) for n in NAME_PART_FIELDS])
# the attribute tuple that defines a record (within one deterministic component)
RECORD_TUPLE = ("name_key", "dob", "pincode", "city", "address", "gender", "phone", "email")
# anchored: the record's deterministic customer holds an identifier; name_anchors /
# name_city_anchors: how many anchored customers hold this canonical name (in this city). A bill
# that says "Rajesh Tiwari, Delhi" is ambiguous when two anchored customers carry that name.
# first_frequency / last_frequency: how many records carry the canonical first / last name
# (common names agree by chance more often: the model discounts their agreement).
AMBIGUITY_FIELDS = ("anchored", "name_anchors", "name_city_anchors", "first_frequency", "last_frequency")
RECORD_COLUMNS = ("record_id", "source", "source_record_id", "component", "interactions",
                  *RECORD_TUPLE, *NAME_PART_FIELDS, *AMBIGUITY_FIELDS)


def _name_parts_udf(variants: dict[str, str]):
    @pandas_udf(NAME_PARTS_TYPE)
    def _parts(names: pd.Series) -> pd.DataFrame:
        rows = [name_parts(n if isinstance(n, str) else None, variants) for n in names]
        return pd.DataFrame(rows, columns=list(NAME_PART_FIELDS))

    return _parts


def _folded(c: Column) -> Column:
    v = F.lower(F.regexp_replace(F.trim(c), r"[^\p{L}\p{N}]+", " "))
    return F.when(F.length(F.trim(v)) > 0, F.trim(v))


def _first_value(links: DataFrame, id_type: str) -> DataFrame:
    return (links.where(F.col("id_type") == id_type)
            .groupBy("interaction_id").agg(F.min("value").alias(id_type)))


def interaction_attributes(interactions: DataFrame, links: DataFrame, components: DataFrame) -> DataFrame:
    """Per interaction: its comparable attributes, one phone and one email (the smallest linkable
    value of each) and its deterministic component."""
    comp = interaction_rows(components.select("id", "component"))
    a = F.col("attributes")
    base = interactions.select(
        "interaction_id", "source", F.col("record_id").alias("source_record_id"),
        a.getField("name_key").alias("name_key"),
        a.getField("dob").alias("dob"),
        a.getField("pincode").alias("pincode"),
        _folded(a.getField("city")).alias("city"),
        _folded(a.getField("address")).alias("address"),
        F.lower(F.substring(F.trim(a.getField("gender")), 1, 1)).alias("gender"),
    )
    return (base.join(_first_value(links, "phone"), "interaction_id", "left")
            .join(_first_value(links, "email"), "interaction_id", "left")
            .join(comp, "interaction_id", "left"))


def _with_ambiguity(records: DataFrame, anchored_components: DataFrame) -> DataFrame:
    flagged = records.join(anchored_components.select("component", F.lit(1).alias("anchored")), "component", "left") \
        .withColumn("anchored", F.coalesce("anchored", F.lit(0)))
    anchors = flagged.where((F.col("anchored") == 1) & F.col("canon").isNotNull())
    by_name = anchors.groupBy("canon").agg(F.countDistinct("component").alias("name_anchors"))
    by_name_city = anchors.where(F.col("city").isNotNull()).groupBy("canon", "city").agg(
        F.countDistinct("component").alias("name_city_anchors"))
    first_freq = flagged.where(F.col("first").isNotNull()).groupBy("first").agg(
        F.count(F.lit(1)).alias("first_frequency"))
    last_freq = flagged.where(F.col("last").isNotNull()).groupBy("last").agg(
        F.count(F.lit(1)).alias("last_frequency"))
    return (flagged.join(by_name, "canon", "left").join(by_name_city, ["canon", "city"], "left")
            .join(first_freq, "first", "left").join(last_freq, "last", "left")
            .withColumn("name_anchors", F.coalesce("name_anchors", F.lit(0)))
            .withColumn("name_city_anchors", F.coalesce("name_city_anchors", F.lit(0)))
            .withColumn("first_frequency", F.coalesce("first_frequency", F.lit(0)))
            .withColumn("last_frequency", F.coalesce("last_frequency", F.lit(0))))


def anchored_components(links: DataFrame, components: DataFrame) -> DataFrame:
    """``(component)`` of every deterministic component holding at least one linkable identifier."""
    comp = interaction_rows(components.select("id", "component"))
    return links.select("interaction_id").distinct().join(comp, "interaction_id").select("component").distinct()


def match_records(per_interaction: DataFrame, variants: dict[str, str],
                  anchored: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """``(records, members)`` from :func:`interaction_attributes` output; ``anchored`` lists the
    components that hold identifiers (see :func:`anchored_components`; None: none do).

    records: RECORD_COLUMNS, one per distinct (component, RECORD_TUPLE) with a name or an email;
    members: ``(interaction_id, record_id)`` for every interaction in a record.
    """
    w = Window.partitionBy("component", *RECORD_TUPLE)
    comparable = per_interaction.where(F.col("name_key").isNotNull() | F.col("email").isNotNull())
    tagged = comparable.select(
        "*",
        F.min("interaction_id").over(w).alias("record_id"),
        F.count(F.lit(1)).over(w).alias("interactions"),
    )
    members = tagged.select("interaction_id", "record_id")
    reps = tagged.where(F.col("interaction_id") == F.col("record_id"))
    parts = _name_parts_udf(variants)(F.col("name_key"))
    records = reps.select(
        "record_id", "source", "source_record_id", "component", "interactions", *RECORD_TUPLE,
        parts.alias("np"),
    ).select("record_id", "source", "source_record_id", "component", "interactions", *RECORD_TUPLE,
             *[F.col(f"np.{f}").alias(f) for f in NAME_PART_FIELDS])
    if anchored is None:
        anchored = records.sparkSession.createDataFrame([], "component string")
    return _with_ambiguity(records, anchored).select(*RECORD_COLUMNS), members
