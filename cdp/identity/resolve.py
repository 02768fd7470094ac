"""Resolve stage: link interactions through shared identifiers and give each group a persistent id.

Pure steps (DataFrame -> DataFrame): :func:`linkable_identifiers`, :func:`build_graph`,
:func:`assign_customer_ids`. :func:`run_resolve` is the only function doing I/O.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ResolveConfig
from cdp.constants import (
    FIRST_CUSTOMER_ID,
    CHECKPOINT_DIR,
    GOLD_CUSTOMER_ID_HISTORY,
    GOLD_IDENTITY_MAP,
    GOLD_INTERACTION_CUSTOMER,
    SILVER_CUSTOMER_ID_CHANGES,
    SILVER_GUARDED_LINKS,
    SILVER_HELD_OUT_IDENTIFIERS,
    SILVER_IDENTIFIER_RESOLVED,
    SILVER_IDENTIFIERS,
    SILVER_INTERACTION_RESOLVED,
    SILVER_INTERACTIONS,
    SILVER_LIMIT_SPLITS,
    SILVER_MATCH_PAIRS,
)
from cdp.identity.components import connected_components_with_stats
from cdp.identity.limits import (
    IDENTIFIER_PREFIX, INTERACTION_PREFIX, enforce_limits, household_guarded_links, identifier_name_counts,
    split_parts, suspect_identifiers, weighted_links,
)
from cdp.faults import RESOLVE_AFTER_IDS, crash_point
from cdp.publication import read_published
from cdp.tables import overwrite_table, read_table, remove_path

log = logging.getLogger(__name__)

CHANGES_SCHEMA = "run_id string, old_id string, new_id string, change string, reason string, changed_at timestamp"
REASON_NEW = "new component"
REASON_SPLIT = "split: part of a previous customer no longer connected to its home component"
REASON_LIMIT_SPLIT = "split: its weakest links were dropped to keep a limit or a steward cannot-link: "
REASON_RESTORED = "split: the part that had this id before a merge gets it back"
REASON_MERGE = "components joined by new links"
REASON_RETIRED = "no interaction or identifier left"


def interaction_rows(vertices: DataFrame) -> DataFrame:
    """Rows of a per-vertex frame (``id`` plus other columns) that are interactions, with ``id``
    replaced by ``interaction_id`` (the vertex id without its prefix)."""
    rest = [c for c in vertices.columns if c != "id"]
    return vertices.where(F.col("id").startswith(INTERACTION_PREFIX)).select(
        F.expr(f"substring(id, {len(INTERACTION_PREFIX) + 1})").alias("interaction_id"), *rest)


# --- 1. identifiers that may link ----------------------------------------------------------

def linkable_identifiers(identifiers: DataFrame, rconf: ResolveConfig,
                         interactions: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """Valid identifiers split into links ``(interaction_id, id_type, value)`` and held-out values.

    A value linked to more distinct interactions than ``rconf.cap_for(id_type)``, or seen with
    more distinct names than ``rconf.max_names_per_identifier`` allows (names come from
    ``interactions``; without them names are not counted), links nothing and is returned in
    ``held_out`` as ``(id_type, value, interactions, names, cap, max_names, reason)``.
    """
    valid = (
        identifiers.where(F.col("is_valid") & F.col("value").isNotNull() & F.col("interaction_id").isNotNull())
        .select("interaction_id", "id_type", "value")
        .distinct()
    )
    names_from = interactions if interactions is not None else valid.select("interaction_id").limit(0)
    held_out = suspect_identifiers(identifier_name_counts(valid, names_from), rconf)
    links = valid.join(held_out.select("id_type", "value"), ["id_type", "value"], "left_anti").select(
        "interaction_id", "id_type", "value"
    )
    return links, held_out


def guarded_links(links: DataFrame, interactions: DataFrame, rconf: ResolveConfig) -> tuple[DataFrame, DataFrame]:
    """``(links, guarded)``: the links without the household guard's (see
    :func:`cdp.identity.limits.household_guarded_links`), and those."""
    guarded = household_guarded_links(links, interactions, rconf)
    kept = links.join(guarded.select("interaction_id", "id_type", "value"), ["interaction_id", "id_type", "value"],
                      "left_anti")
    return kept, guarded


# --- 2. the graph --------------------------------------------------------------------------

def interaction_vertex(interaction_id: Column) -> Column:
    return F.concat(F.lit(INTERACTION_PREFIX), interaction_id)


def identifier_vertex(id_type: Column, value: Column) -> Column:
    return F.concat(F.lit(IDENTIFIER_PREFIX), id_type, F.lit(":"), value)


def build_graph(interactions: DataFrame, links: DataFrame,
                must_links: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """Vertices ``(id)`` for every interaction and linked identifier; edges interaction -> identifier,
    plus the steward's must-links ``(left, right)`` (vertex ids) when given."""
    iv = interactions.select(interaction_vertex(F.col("interaction_id")).alias("id"))
    lv = links.select(interaction_vertex(F.col("interaction_id")).alias("id"))
    vv = links.select(identifier_vertex(F.col("id_type"), F.col("value")).alias("id"))
    vertices = iv.unionByName(lv).unionByName(vv)
    edges = links.select(
        interaction_vertex(F.col("interaction_id")).alias("src"),
        identifier_vertex(F.col("id_type"), F.col("value")).alias("dst"),
    )
    if must_links is not None:
        # a must-link to a vertex the data no longer has (erased, or an unseen value) is ignored
        known = vertices.distinct()
        present = (must_links.join(known.select(F.col("id").alias("left")), "left")
                   .join(known.select(F.col("id").alias("right")), "right"))
        edges = edges.unionByName(present.select(F.col("left").alias("src"), F.col("right").alias("dst")))
    return vertices.where(F.col("id").isNotNull()).distinct(), edges.distinct()


# --- 3. persistent customer ids ------------------------------------------------------------

def _previous_vertices(spark: SparkSession, previous_interaction_customer: DataFrame | None,
                       previous_identity_map: DataFrame | None) -> DataFrame:
    """``(id, prev_id)``: last run's vertices with their customer ids."""
    parts = [spark.createDataFrame([], "id string, prev_id string")]
    if previous_interaction_customer is not None:
        parts.append(previous_interaction_customer.select(
            interaction_vertex(F.col("interaction_id")).alias("id"), F.col("customer_id").alias("prev_id")))
    if previous_identity_map is not None:
        parts.append(previous_identity_map.select(
            identifier_vertex(F.col("id_type"), F.col("id_value")).alias("id"), F.col("customer_id").alias("prev_id")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.where(F.col("id").isNotNull() & F.col("prev_id").isNotNull()).distinct()


def _previous_origins(spark: SparkSession, previous_interaction_customer: DataFrame | None) -> DataFrame:
    """``(interaction_id, origin_id)``: the customer id each interaction was first given (tables
    written before FIRST_CUSTOMER_ID existed: the customer id it has)."""
    if previous_interaction_customer is None:
        return spark.createDataFrame([], "interaction_id string, origin_id string")
    first = (F.coalesce(F.col(FIRST_CUSTOMER_ID), F.col("customer_id"))
             if FIRST_CUSTOMER_ID in previous_interaction_customer.columns else F.col("customer_id"))
    return (previous_interaction_customer.select("interaction_id", first.alias("origin_id"))
            .where(F.col("origin_id").isNotNull()).dropDuplicates(["interaction_id"]))


def _created_at(spark: SparkSession, previous_history: DataFrame | None) -> DataFrame:
    """``(prev_id, created_at)`` from history rows that created an id ('new' or 'split')."""
    if previous_history is None:
        return spark.createDataFrame([], "prev_id string, created_at timestamp")
    return (
        previous_history.where(F.col("change").isin("new", "split") & F.col("new_id").isNotNull())
        .groupBy(F.col("new_id").alias("prev_id"))
        .agg(F.min("changed_at").cast("timestamp").alias("created_at"))
    )


def new_customer_id(run_id: str, component: Column) -> Column:
    """'C' + the first 16 hex chars of sha2(run_id || '|' || component): stable for a re-run."""
    return F.concat(F.lit("C"), F.substring(F.sha2(F.concat(F.lit(run_id), F.lit("|"), component), 256), 1, 16))


def _change_rows(df: DataFrame, run_id: str, changed_at: datetime, change: str, reason: str | Column) -> DataFrame:
    """Shape ``(old_id, new_id)`` rows as customer_id history rows."""
    return df.select(
        F.lit(run_id).cast("string").alias("run_id"),
        F.col("old_id").cast("string").alias("old_id"),
        F.col("new_id").cast("string").alias("new_id"),
        F.lit(change).alias("change"),
        (reason if isinstance(reason, Column) else F.lit(reason)).cast("string").alias("reason"),
        F.lit(changed_at).cast("timestamp").alias("changed_at"),
    )


def assign_customer_ids(
    components: DataFrame,
    previous_interaction_customer: DataFrame | None,
    previous_identity_map: DataFrame | None,
    previous_history: DataFrame | None,
    run_id: str,
    changed_at: datetime,
    split_limits: DataFrame | None = None,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Give each component a customer_id, keeping last run's ids where they still fit.

    Returns ``(interaction_id, customer_id, first_customer_id)``, ``(id_type, value, customer_id)``
    and the changes ``(run_id, old_id, new_id, change, reason, changed_at)``. Each previous
    customer claims only its home component (most of the interactions it first gave its id to,
    then most of its old vertices; ties: smallest label); a component claimed by several keeps
    the oldest id (ties: smallest id) and the others get 'merge' rows. An unclaimed component
    gets back the id its interactions first had when that id was merged away (undoing a wrong
    merge gives both people their ids back), else a new id ('new', or 'split' when it holds a part
    of a customer homed elsewhere); previous customers with no vertex left get 'retired' rows.
    ``split_limits`` ``(component, limits)`` names the parts of components split for breaking a
    limit: their 'split' rows say which.
    """
    spark = components.sparkSession
    prev = _previous_vertices(spark, previous_interaction_customer, previous_identity_map)
    origins = _previous_origins(spark, previous_interaction_customer)
    origin_vertices = origins.select(interaction_vertex(F.col("interaction_id")).alias("id"), "origin_id")

    by_origin = (components.join(origin_vertices, "id").groupBy("component", "origin_id")
                 .agg(F.count(F.lit(1)).alias("n_origin")))
    overlap = (
        components.join(prev, "id")
        .groupBy("component", "prev_id")
        .agg(F.count(F.lit(1)).alias("n"))
        .join(by_origin.withColumnRenamed("origin_id", "prev_id"), ["component", "prev_id"], "left")
        .fillna(0, ["n_origin"])
    )
    # home: most interactions first given this id, then most old vertices, ties -> smallest label
    home = (
        overlap.groupBy("prev_id")
        .agg(F.min(F.struct((-F.col("n_origin")).alias("neg_o"), (-F.col("n")).alias("neg_n"),
                            F.col("component"))).alias("h"))
        .select("prev_id", F.col("h.component").alias("component"))
    )
    claims = home.join(_created_at(spark, previous_history), "prev_id", "left")
    # winner: oldest creation (unknown creation last), ties -> smallest id
    order = F.struct(F.col("created_at").isNull().alias("unknown"), F.col("created_at"), F.col("prev_id"))
    winners = claims.groupBy("component").agg(F.min(order).alias("w")).select(
        "component", F.col("w.prev_id").alias("winner")
    )
    # for an unclaimed component: the previous customer with most vertices in it (split origin)
    split_from = overlap.groupBy("component").agg(
        F.min(F.struct((-F.col("n")).alias("neg_n"), F.col("prev_id"))).alias("s")
    ).select("component", F.col("s.prev_id").alias("split_from"))

    labels = components.select("component").distinct()
    # an unclaimed component takes back the id most of its interactions first had, when that id
    # is no longer in use (merged away); one component per id: the one holding most of them
    unclaimed_labels = labels.join(winners, "component", "left_anti")
    restorable = (by_origin.join(unclaimed_labels, "component")
                  .join(prev.select(F.col("prev_id").alias("origin_id")).distinct(), "origin_id", "left_anti"))
    best = (restorable.groupBy("component")
            .agg(F.min(F.struct((-F.col("n_origin")).alias("neg_n"), F.col("origin_id"))).alias("b"))
            .select("component", F.col("b.origin_id").alias("origin_id"), F.col("b.neg_n").alias("neg_n")))
    restored = (best.groupBy("origin_id").agg(F.min(F.struct("neg_n", "component")).alias("b"))
                .select(F.col("b.component").alias("component"), F.col("origin_id").alias("restored")))
    assigned = (
        labels.join(winners, "component", "left")
        .join(split_from, "component", "left")
        .join(restored, "component", "left")
        .select(
            "component",
            "winner",
            "split_from",
            "restored",
            F.coalesce(F.col("winner"), F.col("restored"), new_customer_id(run_id, F.col("component")))
            .alias("customer_id"),
        )
    )

    merges = claims.join(winners, "component").where(F.col("prev_id") != F.col("winner")).select(
        F.col("prev_id").alias("old_id"), F.col("winner").alias("new_id")
    )
    unclaimed = assigned.where(F.col("winner").isNull())
    news = unclaimed.where(F.col("split_from").isNull()).select(
        F.lit(None).cast("string").alias("old_id"), F.col("customer_id").alias("new_id")
    )
    splits = unclaimed.where(F.col("split_from").isNotNull()).select(
        "component", "restored", F.col("split_from").alias("old_id"), F.col("customer_id").alias("new_id")
    )
    if split_limits is None:
        split_limits = spark.createDataFrame([], "component string, limits string")
    splits = splits.join(split_limits, "component", "left").select(
        "old_id", "new_id",
        F.when(F.col("restored").isNotNull(), F.lit(REASON_RESTORED))
        .otherwise(F.coalesce(F.concat(F.lit(REASON_LIMIT_SPLIT), F.col("limits")), F.lit(REASON_SPLIT)))
        .alias("reason"))
    retired = (
        prev.select("prev_id").distinct()
        .join(overlap.select("prev_id").distinct(), "prev_id", "left_anti")
        .select(F.col("prev_id").alias("old_id"), F.lit(None).cast("string").alias("new_id"))
    )
    changes = (
        _change_rows(news, run_id, changed_at, "new", REASON_NEW)
        .unionByName(_change_rows(splits, run_id, changed_at, "split", F.col("reason")))
        .unionByName(_change_rows(merges, run_id, changed_at, "merge", REASON_MERGE))
        .unionByName(_change_rows(retired, run_id, changed_at, "retired", REASON_RETIRED))
    )

    per_vertex = components.join(assigned.select("component", "customer_id"), "component").select("id", "customer_id")
    interaction_customer = (
        interaction_rows(per_vertex).join(origins, "interaction_id", "left")
        .select("interaction_id", "customer_id",
                F.coalesce(F.col("origin_id"), F.col("customer_id")).alias(FIRST_CUSTOMER_ID)))
    rest = F.expr(f"substring(id, {len(IDENTIFIER_PREFIX) + 1})")
    identifier_customer = (
        per_vertex.where(F.col("id").startswith(IDENTIFIER_PREFIX))
        .select(rest.alias("rest"), "customer_id")
        .select(
            F.substring_index("rest", ":", 1).alias("id_type"),
            F.expr("substring(rest, instr(rest, ':') + 1)").alias("value"),
            "customer_id",
        )
    )
    return interaction_customer, identifier_customer, changes


# --- 4. the stage --------------------------------------------------------------------------

def deterministic_components(spark: SparkSession, conf: CdpConfig, interactions: DataFrame,
                             identifiers: DataFrame, checkpoint_dir: str, must_links: DataFrame | None = None):
    """``(links, held_out, guarded, result)``: linkable identifiers, held-out values, the links the
    household guard did not take and the connected components of the interaction/identifier graph
    (``result.components``: id, component), with the steward's must-links ``(left, right)`` as
    extra edges."""
    rconf = conf.resolve
    links, held_out = linkable_identifiers(identifiers, rconf, interactions)
    links, guarded = guarded_links(links, interactions, rconf)
    vertices, edges = build_graph(interactions, links, must_links)
    result = connected_components_with_stats(
        spark, vertices, edges, rconf.engine, checkpoint_dir, rconf.algorithm,
        rconf.checkpoint_interval, rconf.max_iterations,
    )
    return links, held_out, guarded, result


def limited_components(spark: SparkSession, conf: CdpConfig, run_id: str, components: DataFrame,
                       links: DataFrame, interactions: DataFrame, must_links: DataFrame,
                       cannot_links: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(components, split_limits)``: components with every one over a uniqueness limit, the size
    cap or a cannot-link split (the dropped links written to silver/limit_splits)."""
    from cdp.matching.score import DECISION_MATCH  # cdp.matching imports this module

    matched = (read_table(spark, conf, SILVER_MATCH_PAIRS).where(F.col("decision") == DECISION_MATCH)
               .select("left_interaction_id", "right_interaction_id", "score"))
    weighted = weighted_links(links, matched, must_links, interactions, conf.resolve)
    # checkpoints (the run's checkpoint dir) keep the plans short: the limit checks use the
    # components several times, and re-analysing the whole component lineage each time is slow
    components = components.checkpoint(eager=True)
    limited, splits = enforce_limits(components, weighted, cannot_links, conf.resolve, run_id)
    overwrite_table(splits, conf, SILVER_LIMIT_SPLITS)
    splits = read_table(spark, conf, SILVER_LIMIT_SPLITS)
    limited = limited.checkpoint(eager=True)
    return limited, split_parts(components, limited, splits).checkpoint(eager=True)


def limit_split_summary(splits: DataFrame) -> dict:
    """Components split for breaking a limit and the links dropped, by what they broke (small)."""
    row = splits.agg(F.countDistinct("component").alias("components"), F.count(F.lit(1)).alias("links")).first()
    by_limit = {r["limit"]: int(r["n"]) for r in
                splits.select(F.explode(F.split("limits", "; ")).alias("limit"), "component").distinct()
                .select(F.regexp_replace("limit", r":.*$", "").alias("limit"), "component").distinct()
                .groupBy("limit").agg(F.count(F.lit(1)).alias("n")).collect()}  # one row per limit kind
    return {"components_split": int(row["components"]), "links_dropped": int(row["links"]), "by_limit": by_limit}


def run_resolve(spark: SparkSession, conf: CdpConfig, run_id: str) -> dict:
    """Resolve identities for ``run_id``; overwrite the silver resolve tables; return a summary."""
    from cdp.identity.overrides import active_overrides
    from cdp.matching.stage import fuzzy_link

    rconf = conf.resolve
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    identifiers = read_table(spark, conf, SILVER_IDENTIFIERS)
    # the previous state is what the last completed publication left, never a half-written gold
    prev_ic = read_published(spark, conf, GOLD_INTERACTION_CUSTOMER)
    prev_map = read_published(spark, conf, GOLD_IDENTITY_MAP)
    prev_hist = read_published(spark, conf, GOLD_CUSTOMER_ID_HISTORY)
    log.info("resolve %s: previous run tables %s", run_id,
             "found" if prev_ic is not None or prev_map is not None else "absent (first run)")

    must_links, cannot_links = active_overrides(spark, conf)
    checkpoint_dir = conf.table_path(f"{CHECKPOINT_DIR}/{run_id}")
    try:
        links, held_out, guarded, result = deterministic_components(spark, conf, interactions, identifiers,
                                                                    checkpoint_dir, must_links)
        overwrite_table(held_out, conf, SILVER_HELD_OUT_IDENTIFIERS)
        held_out_count = read_table(spark, conf, SILVER_HELD_OUT_IDENTIFIERS).count()
        overwrite_table(guarded, conf, SILVER_GUARDED_LINKS)
        guarded_count = read_table(spark, conf, SILVER_GUARDED_LINKS).count()
        det_components = result.components.persist(StorageLevel.MEMORY_AND_DISK)
        components, matching = fuzzy_link(spark, conf, run_id, interactions, links, det_components,
                                           f"{checkpoint_dir}/fuzzy")
        components = components.persist(StorageLevel.MEMORY_AND_DISK)
        fuzzy_components = components
        components, split_limits = limited_components(spark, conf, run_id, components, links, interactions,
                                                      must_links, cannot_links)
        changed_at = datetime.now(timezone.utc)
        ic, idc, changes = assign_customer_ids(components, prev_ic, prev_map, prev_hist, run_id, changed_at,
                                               split_limits)
        overwrite_table(ic, conf, SILVER_INTERACTION_RESOLVED)
        crash_point(RESOLVE_AFTER_IDS)
        overwrite_table(idc, conf, SILVER_IDENTIFIER_RESOLVED)
        overwrite_table(changes, conf, SILVER_CUSTOMER_ID_CHANGES)
        n_components = components.select("component").distinct().count()
        components.unpersist()
        fuzzy_components.unpersist()
        det_components.unpersist()
    finally:
        remove_path(spark, checkpoint_dir)

    ic_out = read_table(spark, conf, SILVER_INTERACTION_RESOLVED)
    idc_out = read_table(spark, conf, SILVER_IDENTIFIER_RESOLVED)
    customers = ic_out.select("customer_id").unionByName(idc_out.select("customer_id")).distinct().count()
    by_change = {r["change"]: r["n"] for r in read_table(spark, conf, SILVER_CUSTOMER_ID_CHANGES)
                 .groupBy("change").agg(F.count(F.lit(1)).alias("n")).collect()}  # <= 4 rows
    summary = {
        "run_id": run_id,
        "engine": result.engine,
        "iterations": result.iterations,
        "interactions": ic_out.count(),
        "identifiers": idc_out.count(),
        "components": n_components,
        "customers": customers,
        "new": by_change.get("new", 0),
        "merged": by_change.get("merge", 0),
        "split": by_change.get("split", 0),
        "retired": by_change.get("retired", 0),
        "held_out": held_out_count,
        "guarded_links": guarded_count,
        "limit_splits": limit_split_summary(read_table(spark, conf, SILVER_LIMIT_SPLITS)),
        "matching": matching,
    }
    log.info("resolve %s: %s", run_id, summary)
    return summary
