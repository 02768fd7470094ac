"""`cdp explain`: what holds a customer together, and the path joining two interactions.

Reads the published gold tables plus silver identifiers; everything collected is bounded by one
customer's size (resolve.max_customer_interactions) and capped at MAX_EDGES.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.config import CdpConfig, ConfigError
from cdp.constants import (
    GOLD_CUSTOMER_ID_HISTORY, GOLD_IDENTITY_MAP, GOLD_INTERACTION_CUSTOMER, GOLD_MATCH_PAIRS, SILVER_GUARDED_LINKS,
    SILVER_IDENTIFIERS, SILVER_INTERACTIONS,
)
from cdp.identity.limits import IDENTIFIER_PREFIX, INTERACTION_PREFIX, INTERACTION_REF, vertex_label
from cdp.publication import read_published
from cdp.tables import read_table, read_table_or_none

MAX_EDGES = 20_000
EDGES_SCHEMA = "src string, dst string, kind string, score double, model_version string"


def customer_edges(interaction_customer: DataFrame, identifiers: DataFrame, identity_map: DataFrame,
                   match_pairs: DataFrame | None, must_links: DataFrame | None, customer_id: str) -> DataFrame:
    """Edges (EDGES_SCHEMA) inside one customer: identifier links (kind = the id type), fuzzy
    pairs the model matched (kind 'fuzzy', with score and model version) and steward must-links."""
    ic = interaction_customer.where(F.col("customer_id") == customer_id).select("interaction_id")
    values = identity_map.where(F.col("customer_id") == customer_id).select(
        "id_type", F.col("id_value").alias("value"))
    id_links = (identifiers.where(F.col("is_valid")).join(ic, "interaction_id").join(values, ["id_type", "value"])
                .select(F.concat(F.lit(INTERACTION_PREFIX), "interaction_id").alias("src"),
                        F.concat(F.lit(IDENTIFIER_PREFIX), "id_type", F.lit(":"), "value").alias("dst"),
                        F.col("id_type").alias("kind"), F.lit(None).cast("double").alias("score"),
                        F.lit(None).cast("string").alias("model_version")).distinct())
    edges = id_links
    if match_pairs is not None:
        left = ic.select(F.col("interaction_id").alias("left_interaction_id"))
        right = ic.select(F.col("interaction_id").alias("right_interaction_id"))
        fuzzy = (match_pairs.where(F.col("decision") == "match").join(left, "left_interaction_id")
                 .join(right, "right_interaction_id")
                 .select(F.concat(F.lit(INTERACTION_PREFIX), "left_interaction_id").alias("src"),
                         F.concat(F.lit(INTERACTION_PREFIX), "right_interaction_id").alias("dst"),
                         F.lit("fuzzy").alias("kind"), F.col("score").cast("double"),
                         F.col("model_version").cast("string")))
        edges = edges.unionByName(fuzzy)
    if must_links is not None:
        vertices = (ic.select(F.concat(F.lit(INTERACTION_PREFIX), "interaction_id").alias("v"))
                    .unionByName(values.select(F.concat(F.lit(IDENTIFIER_PREFIX), "id_type", F.lit(":"),
                                                        "value").alias("v"))))
        steward = (must_links.join(vertices.select(F.col("v").alias("left")), "left")
                   .join(vertices.select(F.col("v").alias("right")), "right")
                   .select(F.col("left").alias("src"), F.col("right").alias("dst"), F.lit("steward").alias("kind"),
                           F.lit(None).cast("double").alias("score"), F.lit(None).cast("string").alias("model_version")))
        edges = edges.unionByName(steward)
    return edges


def shortest_path(edges: list[dict[str, Any]], start: str, goal: str) -> list[dict[str, Any]] | None:
    """The edges of a shortest path from ``start`` to ``goal`` (vertex ids), or None; ties go to
    the path through the smallest vertex ids, so the answer is the same every time."""
    adjacent: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for e in edges:
        adjacent.setdefault(e["src"], []).append((e["dst"], e))
        adjacent.setdefault(e["dst"], []).append((e["src"], e))
    came: dict[str, tuple[str, dict[str, Any]] | None] = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if v == goal:
            break
        for nxt, e in sorted(adjacent.get(v, []), key=lambda t: t[0]):
            if nxt not in came:
                came[nxt] = (v, e)
                queue.append(nxt)
    if goal not in came:
        return None
    path: list[dict[str, Any]] = []
    v = goal
    while came[v] is not None:
        prev, e = came[v]
        path.append({"from": prev, "to": v, "kind": e["kind"], "score": e["score"],
                     "model_version": e["model_version"]})
        v = prev
    return list(reversed(path))


def _gold(spark: SparkSession, conf: CdpConfig) -> tuple[DataFrame, DataFrame]:
    """The published gold tables (a run killed before publishing has not replaced them)."""
    ic = read_published(spark, conf, GOLD_INTERACTION_CUSTOMER)
    idmap = read_published(spark, conf, GOLD_IDENTITY_MAP)
    if ic is None or idmap is None:
        raise ConfigError(f"no published profiles under {conf.root}: run `cdp run --conf ...` first")
    return ic, idmap


def _followed(spark: SparkSession, conf: CdpConfig, customer_id: str) -> str:
    """Why a customer id is not current: what gold/customer_id_history says happened to it."""
    hist = read_published(spark, conf, GOLD_CUSTOMER_ID_HISTORY)
    if hist is None:
        return ""
    rows = (hist.where(F.col("old_id") == customer_id).orderBy(F.col("changed_at").desc()).limit(1).collect())
    if not rows:
        return ""
    r = rows[0]
    return f"; it was {r['change']} in run {r['run_id']}" + (f" into {r['new_id']}" if r["new_id"] else "")


def _published_customer_edges(spark: SparkSession, conf: CdpConfig, ic: DataFrame, idmap: DataFrame,
                              customer_id: str) -> DataFrame:
    """:func:`customer_edges` over the gold tables, silver identifiers and active must-links."""
    from cdp.identity.overrides import active_overrides

    must, _ = active_overrides(spark, conf)
    return customer_edges(ic, read_table(spark, conf, SILVER_IDENTIFIERS), idmap,
                          read_published(spark, conf, GOLD_MATCH_PAIRS), must, customer_id)


def explain_customer(spark: SparkSession, conf: CdpConfig, customer_id: str) -> dict[str, Any]:
    """Identifiers, interactions and edges holding ``customer_id`` together."""
    ic, idmap = _gold(spark, conf)
    members = ic.where(F.col("customer_id") == customer_id)
    interactions = (read_table(spark, conf, SILVER_INTERACTIONS).join(members.select("interaction_id"), "interaction_id")
                    .select("interaction_id", "source", "record_id", "channel", "event_time")
                    .orderBy("event_time", "interaction_id").limit(MAX_EDGES).collect())
    if not interactions:
        raise ConfigError(f"customer {customer_id!r} has no interactions in gold/interaction_customer"
                          f"{_followed(spark, conf, customer_id)}")
    identifiers = (idmap.where(F.col("customer_id") == customer_id)
                   .select("id_type", "id_value", "first_seen", "last_seen")
                   .orderBy("id_type", "id_value").limit(MAX_EDGES).collect())
    edges = _published_customer_edges(spark, conf, ic, idmap, customer_id)
    edge_rows = [r.asDict() for r in edges.orderBy("kind", "src", "dst").limit(MAX_EDGES + 1).collect()]
    return {
        "customer_id": customer_id,
        "interactions": [r.asDict() for r in interactions],
        "identifiers": [r.asDict() for r in identifiers],
        "edges": edge_rows[:MAX_EDGES],
        "edges_truncated": len(edge_rows) > MAX_EDGES,
    }


def interaction_id_of(ref: str) -> str:
    """An interaction id from ``<source>:<record_id>`` or the override reference form
    ``interaction:<source>:<record_id>`` (what `cdp unmerge` / `cdp link` take)."""
    ref = ref.strip()
    rest = ref.removeprefix(INTERACTION_REF)
    return rest if rest != ref and ":" in rest else ref


def _guard_note(spark: SparkSession, conf: CdpConfig, *interaction_ids: str) -> str:
    """Why a shared identifier did not join them, when the household guard left its link out."""
    guarded = read_table_or_none(spark, conf, SILVER_GUARDED_LINKS)
    if guarded is None:
        return ""
    rows = guarded.where(F.col("interaction_id").isin(*interaction_ids)).orderBy("interaction_id", "value") \
        .limit(10).collect()  # the links of two interactions
    return "".join(
        f"; {r['interaction_id']}'s link to {r['id_type']}:{r['value']} was not taken by the household guard "
        f"(its name's initial {r['initial']!r}, the owner's {r['owner_initial']!r} on {r['owner_interactions']} "
        "interactions; silver/guarded_links)" for r in rows)


def explain_between(spark: SparkSession, conf: CdpConfig, left: str, right: str) -> dict[str, Any]:
    """The customers of two interactions (bare ids or ``interaction:`` references) and, when they
    share one, the path of edges joining them."""
    left, right = interaction_id_of(left), interaction_id_of(right)
    ic, idmap = _gold(spark, conf)
    rows = {r["interaction_id"]: r["customer_id"] for r in
            ic.where(F.col("interaction_id").isin(left, right)).collect()}  # <= 2 rows
    missing = [i for i in (left, right) if i not in rows]
    if missing:
        raise ConfigError(f"interaction(s) {missing} not in gold/interaction_customer "
                          "(interaction ids are '<source>:<record_id>')")
    out: dict[str, Any] = {"left": left, "right": right, "left_customer": rows[left], "right_customer": rows[right]}
    if rows[left] != rows[right]:
        out["path"] = None
        out["note"] = "different customers: nothing joins them" + _guard_note(spark, conf, left, right)
        return out
    edges = _published_customer_edges(spark, conf, ic, idmap, rows[left])
    edge_rows = [r.asDict() for r in edges.limit(MAX_EDGES).collect()]  # one customer's edges: bounded
    out["path"] = shortest_path(edge_rows, INTERACTION_PREFIX + left, INTERACTION_PREFIX + right)
    if out["path"] is None:  # explain reads today's overrides beside the last published customers
        out["note"] = ("no path over the published links and today's steward overrides: an override "
                       "changed since the last run published; `cdp run` brings the customers up to date")
    return out


def format_explanation(result: dict[str, Any]) -> str:
    """Plain text for the CLI."""
    if "path" in result:
        head = f"{result['left']} (customer {result['left_customer']}) <-> {result['right']} " \
               f"(customer {result['right_customer']})"
        if result["path"] is None:
            return head + "\n  " + result.get("note", "no path")
        lines = [head, f"  path of {len(result['path'])} edge(s):"]
        for e in result["path"]:
            how = e["kind"] + (f" score={e['score']:.4f} model v{e['model_version']}" if e["kind"] == "fuzzy" else "")
            lines.append(f"    {vertex_label(e['from'])} -> {vertex_label(e['to'])}  [{how}]")
        return "\n".join(lines)
    lines = [f"customer {result['customer_id']}: {len(result['interactions'])} interaction(s), "
             f"{len(result['identifiers'])} identifier(s), {len(result['edges'])} edge(s)"]
    lines.append("  identifiers:")
    lines += [f"    {r['id_type']}: {r['id_value']}  (seen {r['first_seen']} .. {r['last_seen']})"
              for r in result["identifiers"]]
    lines.append("  interactions:")
    lines += [f"    {r['interaction_id']}  {r['channel']}  {r['event_time']}" for r in result["interactions"]]
    lines.append("  edges:")
    for e in result["edges"]:
        how = e["kind"] + (f" score={e['score']:.4f} model v{e['model_version']}" if e["kind"] == "fuzzy" else "")
        lines.append(f"    {vertex_label(e['src'])} -- {vertex_label(e['dst'])}  [{how}]")
    if result.get("edges_truncated"):
        lines.append(f"    ... more than {MAX_EDGES} edges: use --json and the gold tables")
    return "\n".join(lines)
