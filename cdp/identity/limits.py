"""Merge protection: suspect identifiers and components over a uniqueness or size limit.

* :func:`identifier_name_counts` / :func:`suspect_identifiers`: an identifier value linked to too
  many interactions, or seen with too many distinct names (a shop's default number typed for
  every shopper), is held out of linking.
* :func:`household_guarded_links`: a household member's interaction keyed by the owner's phone
  (a different full-name initial than the owner's) does not link through it.
* :func:`enforce_limits`: a component holding more values of a type than the customer may hold
  (two customer_ids, two loyalty cards), more interactions than the hard cap, or both ends of a
  steward cannot-link is rebuilt alone: its links are replayed strongest first (type priority,
  then score, then newest) and a link is dropped when taking it would break a limit. Components
  within every limit are not touched.
"""
from __future__ import annotations

import math
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cdp.config import ResolveConfig

IDENTIFIER_PREFIX = "v|"
INTERACTION_PREFIX = "i|"
INTERACTION_REF = "interaction:"  # how steward overrides and reports spell an interaction vertex
FUZZY = "fuzzy"
STEWARD = "steward"
# weighted links: every edge of the identity graph with what it is and how strong
LINKS_SCHEMA = "src string, dst string, link_type string, priority int, score double, linked_at double"
CANNOT_LINKS_SCHEMA = "override_id string, left string, right string"
_GREEDY_OUT = ("component string, kind string, id string, dst string, sub_component string, "
               "link_type string, score double, reason string")
SPLITS_SCHEMA = ("run_id string, component string, limits string, src string, dst string, link_type string, "
                 "score double, dropped_because string")


def vertex_label(vertex: str) -> str:
    """A graph vertex as the override references spell it: ``interaction:pos:B1``, ``email:a@b.in``."""
    if vertex.startswith(INTERACTION_PREFIX):
        return INTERACTION_REF + vertex[len(INTERACTION_PREFIX):]
    return vertex.removeprefix(IDENTIFIER_PREFIX)


# --- suspect identifiers ---------------------------------------------------------------------

def name_key_for_limits(name_key: Column) -> Column:
    """A spelling-tolerant person key for counting names: first initial + soundex of the surname
    (Mohd. Irfan and Mohammed Irfan count once; Irfan and Priya Shah twice)."""
    last = F.element_at(F.split(name_key, " "), -1)
    return F.when(F.length(F.trim(name_key)) > 0, F.concat(F.substring(name_key, 1, 1), F.soundex(last)))


def _per_type(values: dict[str, int], default: int | None) -> Column:
    expr: Column | None = None
    for id_type in sorted(k for k in values if k != "default"):
        cond = F.col("id_type") == F.lit(id_type)
        expr = F.when(cond, F.lit(values[id_type])) if expr is None else expr.when(cond, F.lit(values[id_type]))
    fallback = F.lit(values.get("default", default)).cast("long")
    return (fallback if expr is None else expr.otherwise(fallback)).cast("long")


def identifier_name_counts(valid: DataFrame, interactions: DataFrame) -> DataFrame:
    """``(id_type, value, interactions, names)`` per valid identifier value (``valid``:
    interaction_id, id_type, value, distinct)."""
    key = (name_key_for_limits(F.col("attributes").getField("name_key")) if "attributes" in interactions.columns
           else F.lit(None).cast("string"))
    names = interactions.select("interaction_id", key.alias("person_key"))
    return (valid.join(names, "interaction_id", "left")
            .groupBy("id_type", "value")
            .agg(F.countDistinct("interaction_id").cast("long").alias("interactions"),
                 F.countDistinct("person_key").cast("long").alias("names")))


def suspect_identifiers(counts: DataFrame, rconf: ResolveConfig) -> DataFrame:
    """Values over a degree limit: ``(id_type, value, interactions, names, cap, max_names, reason)``."""
    with_caps = counts.select(
        "*",
        _per_type(rconf.max_interactions_per_identifier, 1000).alias("cap"),
        _per_type(rconf.max_names_per_identifier, None).alias("max_names"),
    )
    over_cap = F.col("interactions") > F.col("cap")
    over_names = F.col("max_names").isNotNull() & (F.col("names") > F.col("max_names"))
    reason = F.concat_ws("; ",
                         F.when(over_cap, F.format_string("linked to %d interactions > cap %d",
                                                          F.col("interactions"), F.col("cap"))),
                         F.when(over_names, F.format_string("seen with %d distinct names > %d",
                                                            F.col("names"), F.col("max_names"))))
    return (with_caps.where(over_cap | over_names)
            .select("id_type", "value", "interactions", "names", "cap", "max_names", reason.alias("reason")))


# --- household guard --------------------------------------------------------------------------

GUARD_REASON = "household member: the name's initial differs from the owner's"


def full_name_initial(name_key: Column) -> Column:
    """The first letter of a folded name with a first name and a surname (``priya sharma`` -> p);
    null for a single word or an initial (``r sharma``, ``rs``): too little to tell people apart."""
    tokens = F.split(F.trim(name_key), " +")
    return F.when((F.size(tokens) >= 2) & (F.length(tokens[0]) >= 2), F.substring(tokens[0], 1, 1))


def household_guarded_links(links: DataFrame, interactions: DataFrame, rconf: ResolveConfig) -> DataFrame:
    """Links a household member made with someone else's identifier, not to be taken.

    For each value of a type in ``rconf.household_guard_types`` the owner is the full-name initial
    most of its interactions carry (seen at least ``household_guard_min_owner`` times and strictly
    more often than any other initial). A link whose interaction carries another initial, seen less
    often on that value, is returned: ``(interaction_id, id_type, value, initial, owner_initial,
    owner_interactions, interactions_with_initial, reason)``. Initials only, so the table holds no
    names. Transliteration variants keep their initial (Mohd/Mohammed, Lakshmi/Laxmi), so they
    never trip it; a Ramesh on Rajesh's phone is not caught (same initial).
    """
    types = list(rconf.household_guard_types)
    key = (full_name_initial(F.col("attributes").getField("name_key")) if "attributes" in interactions.columns
           else F.lit(None).cast("string"))
    named = (links.where(F.col("id_type").isin(types))
             .join(interactions.select("interaction_id", key.alias("initial")), "interaction_id")
             .where(F.col("initial").isNotNull()))
    per_initial = named.groupBy("id_type", "value", "initial").agg(
        F.countDistinct("interaction_id").alias("interactions_with_initial"))
    # initials of one value, most seen first (at most 26): the first is the owner unless tied
    ranked = per_initial.groupBy("id_type", "value").agg(
        F.sort_array(F.collect_list(F.struct("interactions_with_initial", "initial")), asc=False).alias("r"))
    top, second = F.col("r")[0], F.col("r")[1]
    owners = ranked.where(
        (top["interactions_with_initial"] >= rconf.household_guard_min_owner)
        & ((F.size("r") < 2) | (top["interactions_with_initial"] > second["interactions_with_initial"]))
    ).select("id_type", "value", top["initial"].alias("owner_initial"),
             top["interactions_with_initial"].alias("owner_interactions"))
    return (named.join(per_initial, ["id_type", "value", "initial"]).join(owners, ["id_type", "value"])
            .where((F.col("initial") != F.col("owner_initial"))
                   & (F.col("interactions_with_initial") < F.col("owner_interactions")))
            .select("interaction_id", "id_type", "value", "initial", "owner_initial",
                    F.col("owner_interactions").cast("long"),
                    F.col("interactions_with_initial").cast("long"), F.lit(GUARD_REASON).alias("reason")))


# --- components over a limit -----------------------------------------------------------------

def vertex_id_type(vertex: Column) -> Column:
    """The identifier type of a 'v|type:value' vertex (null for an interaction)."""
    return F.when(vertex.startswith(IDENTIFIER_PREFIX),
                  F.substring_index(F.substring(vertex, len(IDENTIFIER_PREFIX) + 1, 1 << 30), ":", 1))


def over_limit_components(components: DataFrame, cannot_links: DataFrame, rconf: ResolveConfig) -> DataFrame:
    """``(component, limits)``: components breaking a uniqueness limit, the size cap or a
    cannot-link, with a readable list of what they break."""
    typed = components.select("component", vertex_id_type(F.col("id")).alias("id_type"),
                              F.col("id").startswith(INTERACTION_PREFIX).alias("is_interaction"))
    limits = rconf.max_values_per_customer
    parts: list[DataFrame] = []
    if limits:
        per_type = (typed.where(F.col("id_type").isin(*limits))
                    .groupBy("component", "id_type").agg(F.count(F.lit(1)).alias("n"))
                    .withColumn("k", _per_type(limits, None)))
        parts.append(per_type.where(F.col("n") > F.col("k")).select(
            "component", F.format_string("%s: %d values > %d", F.col("id_type"), F.col("n"), F.col("k"))
            .alias("limit")))
    size = typed.groupBy("component").agg(F.sum(F.col("is_interaction").cast("long")).alias("n"))
    parts.append(size.where(F.col("n") > rconf.max_customer_interactions).select(
        "component", F.format_string("size: %d interactions > %d", F.col("n"),
                                     F.lit(rconf.max_customer_interactions)).alias("limit")))
    left = components.select(F.col("id").alias("left"), F.col("component"))
    right = components.select(F.col("id").alias("right"), F.col("component").alias("right_component"))
    both = (cannot_links.join(left, "left").join(right, "right")
            .where(F.col("component") == F.col("right_component")))
    parts.append(both.select("component", F.concat(F.lit("cannot_link: "), F.col("override_id")).alias("limit")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.groupBy("component").agg(F.concat_ws("; ", F.sort_array(F.collect_set("limit"))).alias("limits"))


class _Clusters:
    """Union-find keeping, per cluster, its values per limited type, its size and its cannot-link sides."""

    def __init__(self, limits: dict[str, int], cap: int) -> None:
        self.parent: dict[str, str] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.size: dict[str, int] = {}
        self.sides: dict[str, dict[str, int]] = {}
        self.limits, self.cap = limits, cap

    def add(self, v: str) -> None:
        if v in self.parent:
            return
        self.parent[v] = v
        t = v[len(IDENTIFIER_PREFIX):].split(":", 1)[0] if v.startswith(IDENTIFIER_PREFIX) else None
        self.counts[v] = {t: 1} if t in self.limits else {}
        self.size[v] = 1 if v.startswith(INTERACTION_PREFIX) else 0
        self.sides[v] = {}

    def find(self, v: str) -> str:
        root = v
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[v] != root:
            self.parent[v], v = root, self.parent[v]
        return root

    def conflict(self, a: str, b: str) -> str | None:
        """Why clusters a and b (roots) may not join, or None."""
        ca, cb = self.counts[a], self.counts[b]
        for t in sorted(set(ca) | set(cb)):
            n = ca.get(t, 0) + cb.get(t, 0)
            if n > self.limits[t]:
                return f"{t}: {n} values > {self.limits[t]}"
        if self.size[a] + self.size[b] > self.cap:
            return f"size: {self.size[a] + self.size[b]} interactions > {self.cap}"
        sa, sb = self.sides[a], self.sides[b]
        small, big = (sa, sb) if len(sa) <= len(sb) else (sb, sa)
        for k, side in sorted(small.items()):
            if big.get(k, side) != side:
                return f"cannot_link: {k}"
        return None

    def union(self, a: str, b: str) -> None:
        if self.size[a] + len(self.counts[a]) < self.size[b] + len(self.counts[b]):
            a, b = b, a
        self.parent[b] = a
        for t, n in self.counts.pop(b).items():
            self.counts[a][t] = self.counts[a].get(t, 0) + n
        self.size[a] += self.size.pop(b)
        self.sides[a].update(self.sides.pop(b))


def split_component(links: pd.DataFrame, cannot: pd.DataFrame, limits: dict[str, int], cap: int
                    ) -> tuple[dict[str, str], list[tuple[str, str, str, float, str]]]:
    """Replay one component's links strongest first, keeping only those that break no limit.

    ``links``: src, dst, link_type, priority, score, linked_at (epoch seconds; null = oldest);
    ``cannot``: override_id, left, right. Returns ``(label per vertex, dropped links)``; a label is
    the smallest vertex id of its part; a dropped link is (src, dst, link_type, score, because).
    """
    clusters = _Clusters(limits, cap)
    for v in pd.concat([links["src"], links["dst"]]).tolist():
        clusters.add(v)
    for row in cannot.itertuples(index=False):
        for v, side in ((row.left, 0), (row.right, 1)):
            clusters.add(v)
            clusters.sides[v][row.override_id] = side
    ordered = links.assign(
        _p=-links["priority"].astype(float), _s=-links["score"].fillna(0.0).astype(float),
        _t=-links["linked_at"].astype(float).fillna(-math.inf),
    ).sort_values(["_p", "_s", "_t", "src", "dst"], kind="mergesort")
    dropped: list[tuple[str, str, str, float, str]] = []
    for row in ordered.itertuples(index=False):
        a, b = clusters.find(row.src), clusters.find(row.dst)
        if a == b:
            continue
        why = clusters.conflict(a, b)
        if why is None:
            clusters.union(a, b)
        else:
            dropped.append((row.src, row.dst, row.link_type, float(row.score) if row.score == row.score else None,
                            why))
    members: dict[str, list[str]] = {}
    for v in clusters.parent:
        members.setdefault(clusters.find(v), []).append(v)
    labels = {}
    for vs in members.values():
        label = min(vs)  # once per part: a per-vertex min() made a big component quadratic
        labels.update(dict.fromkeys(vs, label))
    return labels, dropped


def _greedy_udf(limits: dict[str, int], cap: int):
    def split(pdf: pd.DataFrame) -> pd.DataFrame:
        component = pdf["component"].iloc[0]
        is_cannot = pdf["link_type"] == "__cannot__"
        cannot = pdf[is_cannot].rename(columns={"src": "left", "dst": "right", "reason": "override_id"})
        labels, dropped = split_component(pdf[~is_cannot], cannot[["override_id", "left", "right"]], limits, cap)
        rows = [(component, "vertex", v, None, label, None, None, None) for v, label in labels.items()]
        rows += [(component, "dropped", s, d, None, t, sc, why) for s, d, t, sc, why in dropped]
        return pd.DataFrame(rows, columns=["component", "kind", "id", "dst", "sub_component", "link_type",
                                           "score", "reason"])

    return split


def enforce_limits(components: DataFrame, links: DataFrame, cannot_links: DataFrame, rconf: ResolveConfig,
                   run_id: str) -> tuple[DataFrame, DataFrame]:
    """``(components, splits)``: components with every over-limit one split into parts, and one
    row per dropped link (SPLITS_SCHEMA).

    ``links`` (LINKS_SCHEMA) holds every edge of the graph; ``cannot_links`` (CANNOT_LINKS_SCHEMA)
    the steward's cannot-link pairs as vertex ids. Components within every limit keep their label.
    """
    flagged = over_limit_components(components, cannot_links, rconf)
    in_flagged = components.join(flagged.select("component"), "component")
    edge_rows = links.join(in_flagged.select(F.col("id").alias("src"), "component"), "src").select(
        "component", "src", "dst", "link_type", "priority", "score", "linked_at",
        F.lit(None).cast("string").alias("reason"))
    left = in_flagged.select(F.col("id").alias("left"), "component")
    right = in_flagged.select(F.col("id").alias("right"), F.col("component").alias("rc"))
    cannot_rows = (cannot_links.join(left, "left").join(right, "right").where(F.col("component") == F.col("rc"))
                   .select("component", F.col("left").alias("src"), F.col("right").alias("dst"),
                           F.lit("__cannot__").alias("link_type"), F.lit(0).alias("priority"),
                           F.lit(None).cast("double").alias("score"), F.lit(None).cast("double").alias("linked_at"),
                           F.col("override_id").alias("reason")))
    limits = {t: int(k) for t, k in rconf.max_values_per_customer.items()}
    out = (edge_rows.unionByName(cannot_rows).groupBy("component")
           .applyInPandas(_greedy_udf(limits, rconf.max_customer_interactions), _GREEDY_OUT))
    parts = out.where(F.col("kind") == "vertex").select("id", F.col("sub_component"))
    relabelled = (components.join(parts, "id", "left")
                  .join(flagged.select("component", F.lit(True).alias("flagged")), "component", "left")
                  .select("id", F.when(F.col("flagged"), F.coalesce("sub_component", "id"))
                          .otherwise(F.col("component")).alias("component")))
    splits = (out.where(F.col("kind") == "dropped").join(flagged, "component")
              .select(F.lit(run_id).alias("run_id"), "component", "limits", F.col("id").alias("src"), "dst",
                      "link_type", "score", F.col("reason").alias("dropped_because")))
    return relabelled, splits


def split_parts(components_before: DataFrame, components_after: DataFrame, splits: DataFrame) -> DataFrame:
    """``(component, limits)`` for every part (new label) of a component that was split."""
    split_labels = splits.select(F.col("component").alias("old"), "limits").distinct()
    before = components_before.select("id", F.col("component").alias("old"))
    return (components_after.join(before, "id").join(split_labels, "old")
            .select("component", "limits").distinct())


def weighted_links(identifier_links: DataFrame, fuzzy_pairs: DataFrame, steward_links: DataFrame,
                   interactions: DataFrame, rconf: ResolveConfig) -> DataFrame:
    """Every edge of the graph as LINKS_SCHEMA.

    ``identifier_links``: (interaction_id, id_type, value); ``fuzzy_pairs``: matched pairs
    (left_interaction_id, right_interaction_id, score); ``steward_links``: (left, right) vertex ids.
    An identifier link is as old as its interaction's event time; a fuzzy link as its newer side.
    """
    when = interactions.select("interaction_id", F.col("event_time").cast("double").alias("linked_at"))
    prio = _priority_column(rconf)
    ident = identifier_links.join(when, "interaction_id", "left").select(
        F.concat(F.lit(INTERACTION_PREFIX), "interaction_id").alias("src"),
        F.concat(F.lit(IDENTIFIER_PREFIX), "id_type", F.lit(":"), "value").alias("dst"),
        F.col("id_type").alias("link_type"), prio.alias("priority"), F.lit(1.0).alias("score"), "linked_at")
    lw = when.select(F.col("interaction_id").alias("left_interaction_id"), F.col("linked_at").alias("lt"))
    rw = when.select(F.col("interaction_id").alias("right_interaction_id"), F.col("linked_at").alias("rt"))
    fuzzy = fuzzy_pairs.join(lw, "left_interaction_id", "left").join(rw, "right_interaction_id", "left").select(
        F.concat(F.lit(INTERACTION_PREFIX), "left_interaction_id").alias("src"),
        F.concat(F.lit(INTERACTION_PREFIX), "right_interaction_id").alias("dst"),
        F.lit(FUZZY).alias("link_type"), F.lit(rconf.priority_of(FUZZY)).alias("priority"),
        F.col("score").cast("double").alias("score"), F.greatest("lt", "rt").alias("linked_at"))
    steward = steward_links.select(
        F.col("left").alias("src"), F.col("right").alias("dst"), F.lit(STEWARD).alias("link_type"),
        F.lit(rconf.priority_of(STEWARD)).alias("priority"), F.lit(1.0).alias("score"),
        F.lit(None).cast("double").alias("linked_at"))
    return ident.unionByName(fuzzy).unionByName(steward).select(
        "src", "dst", "link_type", F.col("priority").cast("int"), "score", "linked_at")


def _priority_column(rconf: ResolveConfig) -> Column:
    prios = {t: p for t, p in rconf.link_priority.items() if t not in (FUZZY, STEWARD)}
    return _per_type(prios, 50).cast("int")


def size_distribution(interaction_customer: DataFrame) -> list[dict[str, int]]:
    """Customers by number of interactions in buckets 1, 2, 3-5, 6-10, 11-50, 51-100, 101-1000, >1000."""
    bounds = [(1, 1), (2, 2), (3, 5), (6, 10), (11, 50), (51, 100), (101, 1000)]
    sizes = interaction_customer.groupBy("customer_id").agg(F.count(F.lit(1)).alias("n"))
    bucket: Column = F.lit(">1000")
    for lo, hi in reversed(bounds):
        bucket = F.when(F.col("n") <= hi, F.lit(str(lo) if lo == hi else f"{lo}-{hi}")).otherwise(bucket)
    rows = {r["bucket"]: int(r["customers"]) for r in
            sizes.groupBy(bucket.alias("bucket")).agg(F.count(F.lit(1)).alias("customers")).collect()}  # <= 8 rows
    names = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in bounds] + [">1000"]
    return [{"interactions": b, "customers": rows.get(b, 0)} for b in names]
