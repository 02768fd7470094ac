"""Resolve: hold-out caps, graph building, chaining and customer_id stability across runs."""
from __future__ import annotations

import hashlib
import os
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from cdp.config import ResolveConfig
from cdp.constants import (
    CHECKPOINT_DIR,
    SILVER_CUSTOMER_ID_CHANGES,
    SILVER_HELD_OUT_IDENTIFIERS,
    SILVER_IDENTIFIER_RESOLVED,
    SILVER_IDENTIFIERS,
    SILVER_INTERACTION_RESOLVED,
    SILVER_INTERACTIONS,
)
from cdp.identity.components import connected_components
from cdp.identity.resolve import (
    CHANGES_SCHEMA,
    REASON_RESTORED,
    assign_customer_ids,
    build_graph,
    linkable_identifiers,
    run_resolve,
)
from cdp.tables import overwrite_table, read_table

IDENT_SCHEMA = ("interaction_id string, source string, id_type string, raw_value string, value string, "
                "is_valid boolean, reason string")
INTER_SCHEMA = "interaction_id string, source string, record_id string, channel string, event_time timestamp"
HELD_OUT_SCHEMA = ("id_type string, value string, interactions long, names long, cap long, max_names long, "
                   "reason string")
T0 = datetime(2024, 1, 1)
T1 = datetime(2024, 2, 1)
T2 = datetime(2024, 3, 1)
T3 = datetime(2024, 4, 1)
T4 = datetime(2024, 5, 1)


def cid(run_id: str, component: str) -> str:
    """The expected new customer id (mirrors resolve.new_customer_id)."""
    return "C" + hashlib.sha256(f"{run_id}|{component}".encode()).hexdigest()[:16]


def identifiers_df(spark: SparkSession, rows) -> DataFrame:
    """rows: (interaction_id, id_type, value[, is_valid])."""
    full = [(r[0], "web", r[1], r[2], r[2], r[3] if len(r) > 3 else True, None) for r in rows]
    return spark.createDataFrame(full, IDENT_SCHEMA)


def interactions_df(spark: SparkSession, ids) -> DataFrame:
    return spark.createDataFrame([(i, "web", i, "web", T0) for i in ids], INTER_SCHEMA)


class Prev:
    """In-memory stand-in for last run's gold tables (local rows, so no lineage is shared)."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.ic = None
        self.idmap = None
        self.history = None

    def advance(self, ic: DataFrame, idc: DataFrame, changes: DataFrame) -> None:
        self.ic = self.spark.createDataFrame(ic.collect(), "interaction_id string, customer_id string, "
                                             "first_customer_id string")
        self.idmap = self.spark.createDataFrame(
            [(r.id_type, r.value, r.customer_id, T0, T0) for r in idc.collect()],
            "id_type string, id_value string, customer_id string, first_seen timestamp, last_seen timestamp",
        )
        rows = (self.history.collect() if self.history is not None else []) + changes.collect()
        self.history = self.spark.createDataFrame(rows, CHANGES_SCHEMA)


def resolve_in_memory(spark, tmp_path, interaction_ids, ident_rows, prev: Prev, run_id, changed_at,
                      rconf: ResolveConfig | None = None):
    links, _ = linkable_identifiers(identifiers_df(spark, ident_rows), rconf or ResolveConfig())
    v, e = build_graph(interactions_df(spark, interaction_ids), links)
    cc = connected_components(spark, v, e, "spark", str(tmp_path / "ck" / run_id))
    outs = assign_customer_ids(cc, prev.ic, prev.idmap, prev.history, run_id, changed_at)
    return tuple(local(spark, df) for df in outs)


def local(spark: SparkSession, df: DataFrame) -> DataFrame:
    """Materialise a small result once so later assertions do not recompute its lineage."""
    return spark.createDataFrame(df.collect(), df.schema)


def mapping(ic: DataFrame) -> dict[str, str]:
    return {r.interaction_id: r.customer_id for r in ic.collect()}


# --- linkable_identifiers / build_graph -----------------------------------------------------

def test_hold_out_over_cap_links_nothing(spark):
    rconf = ResolveConfig(max_interactions_per_identifier={"default": 10, "email": 2})
    ids = identifiers_df(spark, [
        ("a", "email", "shared@x.com"), ("b", "email", "shared@x.com"), ("c", "email", "shared@x.com"),
        ("a", "phone", "+911"), ("b", "phone", "+911"),
        ("c", "phone", "+912", False),
        ("d", "email", "d@x.com"), ("d", "email", "d@x.com"),  # repeated row counts once
    ])
    links, held = linkable_identifiers(ids, rconf)
    assertDataFrameEqual(links, spark.createDataFrame(
        [("a", "phone", "+911"), ("b", "phone", "+911"), ("d", "email", "d@x.com")],
        "interaction_id string, id_type string, value string"))
    assertDataFrameEqual(held, spark.createDataFrame(
        [("email", "shared@x.com", 3, 0, 2, 6, "linked to 3 interactions > cap 2")], HELD_OUT_SCHEMA))


def test_build_graph_prefixes_namespaces(spark):
    links = spark.createDataFrame([("x", "email", "x"), ("y", "email", "x")],
                                  "interaction_id string, id_type string, value string")
    v, e = build_graph(interactions_df(spark, ["x", "y", "z"]), links)
    assertDataFrameEqual(v, spark.createDataFrame([("i|x",), ("i|y",), ("i|z",), ("v|email:x",)], "id string"))
    assertDataFrameEqual(e, spark.createDataFrame([("i|x", "v|email:x"), ("i|y", "v|email:x")],
                                                  "src string, dst string"))


# --- assign_customer_ids --------------------------------------------------------------------

def test_chaining_through_shared_identifiers(spark, tmp_path):
    rows = [("W1", "cookie_id", "C1"), ("W1", "email", "e@x.com"),
            ("W2", "cookie_id", "C1"), ("W2", "phone", "+91P"),
            ("A1", "device_id", "D1"), ("A1", "phone", "+91P"),
            ("W3", "cookie_id", "C2"), ("W3", "email", "e@x.com")]
    ic, idc, ch = resolve_in_memory(spark, tmp_path, ["W1", "W2", "A1", "W3"], rows, Prev(spark), "r1", T1)
    c = cid("r1", "i|A1")
    assertDataFrameEqual(ic, spark.createDataFrame([(i, c, c) for i in ["W1", "W2", "A1", "W3"]],
                                                   "interaction_id string, customer_id string, "
                                                   "first_customer_id string"))
    assertDataFrameEqual(idc, spark.createDataFrame(
        [("cookie_id", "C1", c), ("cookie_id", "C2", c), ("email", "e@x.com", c), ("phone", "+91P", c),
         ("device_id", "D1", c)], "id_type string, value string, customer_id string"))
    assertDataFrameEqual(ch, spark.createDataFrame([("r1", None, c, "new", "new component", T1)], CHANGES_SCHEMA))


RUN1 = [("a", "email", "ab@x.com"), ("b", "email", "ab@x.com"), ("c", "email", "cd@x.com"), ("d", "email", "cd@x.com")]
RUN2 = RUN1 + [("e", "phone", "+91EF"), ("f", "phone", "+91EF")]
RUN3 = RUN2 + [("b", "cookie_id", "k1"), ("c", "cookie_id", "k1")]


def test_customer_ids_stable_across_runs(spark, tmp_path):
    prev = Prev(spark)
    # run 1: {a,b} and {c,d}
    ic1, idc1, ch1 = resolve_in_memory(spark, tmp_path, list("abcd"), RUN1, prev, "r1", T1)
    u1, u2 = cid("r1", "i|a"), cid("r1", "i|c")
    assert mapping(ic1) == {"a": u1, "b": u1, "c": u2, "d": u2}
    assertDataFrameEqual(ch1, spark.createDataFrame(
        [("r1", None, u1, "new", "new component", T1), ("r1", None, u2, "new", "new component", T1)], CHANGES_SCHEMA))
    prev.advance(ic1, idc1, ch1)

    # run 2: {e,f} appears; U1, U2 unchanged
    ic2, idc2, ch2 = resolve_in_memory(spark, tmp_path, list("abcdef"), RUN2, prev, "r2", T2)
    u3 = cid("r2", "i|e")
    assert mapping(ic2) == {"a": u1, "b": u1, "c": u2, "d": u2, "e": u3, "f": u3}
    assertDataFrameEqual(ch2, spark.createDataFrame([("r2", None, u3, "new", "new component", T2)], CHANGES_SCHEMA))
    prev.advance(ic2, idc2, ch2)

    # run 2 again with run 2's outputs as previous: identical, no changes
    ic2b, idc2b, ch2b = resolve_in_memory(spark, tmp_path, list("abcdef"), RUN2, prev, "r2", T2)
    assertDataFrameEqual(ic2b, ic2)
    assertDataFrameEqual(idc2b, idc2)
    assert ch2b.count() == 0

    # run 3: b-c linked -> U1/U2 merge; both created at T1 so the smaller id survives
    ic3, _, ch3 = resolve_in_memory(spark, tmp_path, list("abcdef"), RUN3, prev, "r3", T3)
    winner, loser = min(u1, u2), max(u1, u2)
    assert mapping(ic3) == {"a": winner, "b": winner, "c": winner, "d": winner, "e": u3, "f": u3}
    assertDataFrameEqual(ch3, spark.createDataFrame(
        [("r3", loser, winner, "merge", "components joined by new links", T3)], CHANGES_SCHEMA))


def test_undoing_a_merge_gives_both_customers_their_ids_back(spark, tmp_path):
    prev = Prev(spark)
    ab = [("a", "email", "ab@x.com"), ("b", "email", "ab@x.com")]
    cde = [("c", "email", "cd@x.com"), ("d", "email", "cd@x.com"), ("e", "email", "cd@x.com")]
    ic1, idc1, ch1 = resolve_in_memory(spark, tmp_path, list("ab"), ab, prev, "r1", T1)
    prev.advance(ic1, idc1, ch1)
    ic2, idc2, ch2 = resolve_in_memory(spark, tmp_path, list("abcde"), ab + cde, prev, "r2", T2)
    prev.advance(ic2, idc2, ch2)
    u1, u2 = cid("r1", "i|a"), cid("r2", "i|c")
    # r3: a wrong link b-c merges them; u1 is older and survives
    wrong = [("b", "cookie_id", "k1"), ("c", "cookie_id", "k1")]
    ic3, idc3, ch3 = resolve_in_memory(spark, tmp_path, list("abcde"), ab + cde + wrong, prev, "r3", T3)
    assert {(r.interaction_id, r.customer_id, r.first_customer_id) for r in ic3.collect()} == {
        ("a", u1, u1), ("b", u1, u1), ("c", u1, u2), ("d", u1, u2), ("e", u1, u2)}
    prev.advance(ic3, idc3, ch3)
    # r4: the link is gone. u1 stays with the interactions it was first given, though the other
    # part is bigger, and that part gets u2 back
    ic4, _, ch4 = resolve_in_memory(spark, tmp_path, list("abcde"), ab + cde, prev, "r4", T4)
    assert mapping(ic4) == {"a": u1, "b": u1, "c": u2, "d": u2, "e": u2}
    assertDataFrameEqual(ch4, spark.createDataFrame([("r4", u1, u2, "split", REASON_RESTORED, T4)], CHANGES_SCHEMA))


def test_merge_keeps_oldest_id(spark, tmp_path):
    prev = Prev(spark)
    prev.ic = spark.createDataFrame([("x1", "Z_old"), ("x2", "A_new"), ("x3", "B_nohist")],
                                    "interaction_id string, customer_id string")
    prev.history = spark.createDataFrame(
        [("r0", None, "Z_old", "new", "new component", T0), ("r1", None, "A_new", "new", "new component", T1)],
        CHANGES_SCHEMA)
    rows = [("x1", "email", "m@x.com"), ("x2", "email", "m@x.com"), ("x3", "email", "m@x.com")]
    ic, _, ch = resolve_in_memory(spark, tmp_path, ["x1", "x2", "x3"], rows, prev, "r2", T2)
    assert mapping(ic) == {"x1": "Z_old", "x2": "Z_old", "x3": "Z_old"}
    assertDataFrameEqual(ch, spark.createDataFrame(
        [("r2", "A_new", "Z_old", "merge", "components joined by new links", T2),
         ("r2", "B_nohist", "Z_old", "merge", "components joined by new links", T2)], CHANGES_SCHEMA))


def test_split_and_retired(spark, tmp_path):
    prev = Prev(spark)
    prev.ic = spark.createDataFrame([("p", "S"), ("q", "S"), ("r", "S"), ("gone", "R")],
                                    "interaction_id string, customer_id string")
    prev.idmap = spark.createDataFrame(
        [("email", "s@x.com", "S", T0, T0)],
        "id_type string, id_value string, customer_id string, first_seen timestamp, last_seen timestamp")
    prev.history = spark.createDataFrame(
        [("r0", None, "S", "new", "new component", T0), ("r0", None, "R", "new", "new component", T0)],
        CHANGES_SCHEMA)
    # r's link to s@x.com is now invalid: r falls out into its own component
    rows = [("p", "email", "s@x.com"), ("q", "email", "s@x.com"), ("r", "email", "s@x.com", False)]
    ic, idc, ch = resolve_in_memory(spark, tmp_path, ["p", "q", "r"], rows, prev, "r1", T1)
    new_r = cid("r1", "i|r")
    assert mapping(ic) == {"p": "S", "q": "S", "r": new_r}
    assertDataFrameEqual(idc, spark.createDataFrame([("email", "s@x.com", "S")],
                                                    "id_type string, value string, customer_id string"))
    assertDataFrameEqual(ch, spark.createDataFrame(
        [("r1", "S", new_r, "split",
          "split: part of a previous customer no longer connected to its home component", T1),
         ("r1", "R", None, "retired", "no interaction or identifier left", T1)], CHANGES_SCHEMA))


# --- the stage ------------------------------------------------------------------------------

def test_run_resolve_on_delta_tables(spark, make_conf):
    conf = make_conf(resolve={"engine": "spark", "max_interactions_per_identifier": {"default": 2}})
    overwrite_table(interactions_df(spark, ["a", "b", "c", "d", "e"]), conf, SILVER_INTERACTIONS)
    overwrite_table(identifiers_df(spark, [
        ("a", "email", "ab@x.com"), ("b", "email", "ab@x.com"),
        ("c", "phone", "+91C"),
        ("c", "cookie_id", "hot"), ("d", "cookie_id", "hot"), ("e", "cookie_id", "hot"),
    ]), conf, SILVER_IDENTIFIERS)

    summary = run_resolve(spark, conf, "run1")

    ab, c, d, e = cid("run1", "i|a"), cid("run1", "i|c"), cid("run1", "i|d"), cid("run1", "i|e")
    assert summary["engine"] == "spark"
    assert summary["iterations"] >= 1
    assert {k: summary[k] for k in ("components", "customers", "new", "merged", "split", "retired", "held_out")} == {
        "components": 4, "customers": 4, "new": 4, "merged": 0, "split": 0, "retired": 0, "held_out": 1}
    assertDataFrameEqual(read_table(spark, conf, SILVER_INTERACTION_RESOLVED), spark.createDataFrame(
        [("a", ab, ab), ("b", ab, ab), ("c", c, c), ("d", d, d), ("e", e, e)],
        "interaction_id string, customer_id string, first_customer_id string"))
    assertDataFrameEqual(read_table(spark, conf, SILVER_IDENTIFIER_RESOLVED), spark.createDataFrame(
        [("email", "ab@x.com", ab), ("phone", "+91C", c)], "id_type string, value string, customer_id string"))
    assertDataFrameEqual(read_table(spark, conf, SILVER_HELD_OUT_IDENTIFIERS), spark.createDataFrame(
        [("cookie_id", "hot", 3, 0, 2, None, "linked to 3 interactions > cap 2")], HELD_OUT_SCHEMA))
    changes = read_table(spark, conf, SILVER_CUSTOMER_ID_CHANGES)
    assert changes.schema == spark.createDataFrame([], CHANGES_SCHEMA).schema
    assertDataFrameEqual(changes.drop("changed_at"), spark.createDataFrame(
        [("run1", None, x, "new", "new component") for x in (ab, c, d, e)],
        "run_id string, old_id string, new_id string, change string, reason string"))
    assert not os.path.exists(conf.table_path(f"{CHECKPOINT_DIR}/run1"))
