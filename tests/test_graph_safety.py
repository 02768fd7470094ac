"""Graph safety: degree and name limits, uniqueness splits, steward overrides, explain."""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from cdp.config import ConfigError, ResolveConfig
from cdp.constants import (
    META_STEWARD_OVERRIDES, SILVER_GUARDED_LINKS, SILVER_HELD_OUT_IDENTIFIERS, SILVER_IDENTIFIER_RESOLVED, SILVER_IDENTIFIERS,
    SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS, SILVER_LIMIT_SPLITS,
)
from cdp.identity.components import connected_components
from cdp.identity.explain import customer_edges, format_explanation, interaction_id_of, shortest_path
from cdp.identity.limits import (
    CANNOT_LINKS_SCHEMA, GUARD_REASON, enforce_limits, household_guarded_links, size_distribution, split_component,
    split_parts, weighted_links,
)
from cdp.identity.overrides import (
    CANNOT_LINK, MUST_LINK, active_overrides, add_override, list_overrides, reference_vertex, withdraw_override,
)
from cdp.identity.resolve import (
    CHANGES_SCHEMA, REASON_LIMIT_SPLIT, assign_customer_ids, build_graph, guarded_links, linkable_identifiers,
    run_resolve,
)
from cdp.tables import overwrite_table, read_table, table_exists

IDENT_SCHEMA = ("interaction_id string, source string, id_type string, raw_value string, value string, "
                "is_valid boolean, reason string")
INTER_SCHEMA = ("interaction_id string, source string, record_id string, channel string, event_time timestamp, "
                "attributes struct<name_key: string>")
T0, T1, T2 = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)
NO_MATCHING = {"enabled": False}


def identifiers_df(spark: SparkSession, rows) -> DataFrame:
    """rows: (interaction_id, id_type, value)."""
    return spark.createDataFrame([(i, "pos", t, v, v, True, None) for i, t, v in rows], IDENT_SCHEMA)


def interactions_df(spark: SparkSession, rows) -> DataFrame:
    """rows: (interaction_id, name_key[, event_time])."""
    return spark.createDataFrame(
        [(r[0], "pos", r[0], "store", r[2] if len(r) > 2 else T0, (r[1],)) for r in rows], INTER_SCHEMA)


def no_cannot(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], CANNOT_LINKS_SCHEMA)


def no_pairs(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], "left_interaction_id string, right_interaction_id string, score double")


def no_links(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], "left string, right string")


def resolve_pure(spark, tmp_path, interactions, identifiers, rconf, run_id, prev=None, cannot=None, must=None):
    """What run_resolve does, minus I/O: links, components, limits, ids. Returns local frames."""
    links, held = linkable_identifiers(identifiers, rconf, interactions)
    links, _guarded = guarded_links(links, interactions, rconf)
    v, e = build_graph(interactions, links, must)
    cc = connected_components(spark, v, e, "spark", str(tmp_path / "ck" / run_id)).checkpoint(eager=True)
    weighted = weighted_links(links, no_pairs(spark), must if must is not None else no_links(spark),
                              interactions, rconf)
    limited, splits = enforce_limits(cc, weighted, cannot if cannot is not None else no_cannot(spark), rconf, run_id)
    limited, splits = limited.checkpoint(eager=True), splits.checkpoint(eager=True)
    parts = split_parts(cc, limited, splits)
    prev = prev or (None, None, None)
    ic, idc, changes = assign_customer_ids(limited, *prev, run_id, T1, parts)
    local = [spark.createDataFrame(df.collect(), df.schema) for df in (ic, idc, changes, splits, held)]
    return tuple(local)


def as_previous(spark, ic, idc, changes, history=None):
    idmap = spark.createDataFrame([(r.id_type, r.value, r.customer_id, T0, T0) for r in idc.collect()],
                                  "id_type string, id_value string, customer_id string, first_seen timestamp, "
                                  "last_seen timestamp")
    rows = (history.collect() if history is not None else []) + changes.collect()
    return ic, idmap, spark.createDataFrame(rows, CHANGES_SCHEMA)


def groups(ic: DataFrame) -> set[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for r in ic.collect():
        by.setdefault(r.customer_id, set()).add(r.interaction_id)
    return {frozenset(v) for v in by.values()}


# --- the replay of one component (pure Python) --------------------------------------------------

def test_split_component_keeps_strongest_then_newest_links():
    links = pd.DataFrame([
        ("i|a1", "v|customer_id:C1", "customer_id", 100, 1.0, 1.0),
        ("i|a1", "v|phone:P", "phone", 70, 1.0, 1.0),
        ("i|b1", "v|customer_id:C2", "customer_id", 100, 1.0, 2.0),
        ("i|b1", "v|phone:P", "phone", 70, 1.0, 2.0),
        ("i|pos1", "v|phone:P", "phone", 70, 1.0, 3.0),
    ], columns=["src", "dst", "link_type", "priority", "score", "linked_at"])
    labels, dropped = split_component(links, pd.DataFrame(columns=["override_id", "left", "right"]),
                                      {"customer_id": 1}, 100)
    # the newest phone links are replayed first: the till bill and b1 keep P; a1's older P link goes
    assert labels == {"i|a1": "i|a1", "v|customer_id:C1": "i|a1",
                      "i|b1": "i|b1", "v|customer_id:C2": "i|b1", "v|phone:P": "i|b1", "i|pos1": "i|b1"}
    assert dropped == [("i|a1", "v|phone:P", "phone", 1.0, "customer_id: 2 values > 1")]


def test_split_component_drops_lowest_fuzzy_score_first_and_respects_size_cap():
    links = pd.DataFrame([
        ("i|a", "i|b", "fuzzy", 10, 0.99, None),
        ("i|b", "i|c", "fuzzy", 10, 0.95, None),
        ("i|c", "i|d", "fuzzy", 10, 0.97, None),
    ], columns=["src", "dst", "link_type", "priority", "score", "linked_at"])
    labels, dropped = split_component(links, pd.DataFrame(columns=["override_id", "left", "right"]), {}, 2)
    assert labels == {"i|a": "i|a", "i|b": "i|a", "i|c": "i|c", "i|d": "i|c"}
    assert dropped == [("i|b", "i|c", "fuzzy", 0.95, "size: 4 interactions > 2")]


# --- Done-when scenarios ------------------------------------------------------------------------

def test_household_guard_keeps_a_family_members_bill_off_the_owners_phone(spark, tmp_path):
    # Rajesh's mobile P: his CRM row and a bill carry his full name, a WhatsApp profile just "rajesh"
    # and a bill "r sharma" (too little to tell: they link). His daughter's bill was keyed by P at
    # the till; her own WhatsApp has her mobile Q. On T two names are seen once each (no owner); on
    # M spelling variants share an initial.
    inter = interactions_df(spark, [
        ("crm1", "rajesh sharma"), ("bill1", "rajesh sharma"), ("wa1", "rajesh"), ("bill3", "r sharma"),
        ("bill2", "priya sharma"), ("wa2", "priya sharma"),
        ("t1", "anil kumar"), ("t2", "sunil kumar"),
        ("m1", "mohammed irfan"), ("m2", "mohd irfan"), ("m3", "md irfan"),
    ])
    ids = identifiers_df(spark, [
        ("crm1", "phone", "P"), ("bill1", "phone", "P"), ("wa1", "phone", "P"), ("bill3", "phone", "P"),
        ("bill2", "phone", "P"), ("wa2", "phone", "Q"),
        ("t1", "phone", "T"), ("t2", "phone", "T"),
        ("m1", "phone", "M"), ("m2", "phone", "M"), ("m3", "phone", "M"),
    ])
    rconf = ResolveConfig()
    links, _ = linkable_identifiers(ids, rconf, inter)
    assertDataFrameEqual(household_guarded_links(links, inter, rconf), spark.createDataFrame(
        [("bill2", "phone", "P", "p", "r", 2, 1, GUARD_REASON)],
        "interaction_id string, id_type string, value string, initial string, owner_initial string, "
        "owner_interactions long, interactions_with_initial long, reason string"))
    ic, *_ = resolve_pure(spark, tmp_path, inter, ids, rconf, "r1")
    assert groups(ic) == {frozenset({"crm1", "bill1", "wa1", "bill3"}), frozenset({"bill2"}), frozenset({"wa2"}),
                          frozenset({"t1", "t2"}), frozenset({"m1", "m2", "m3"})}
    # the guard is per type and can be switched off
    off = ResolveConfig(household_guard_types=())
    assert household_guarded_links(links, inter, off).count() == 0
    strict = ResolveConfig(household_guard_min_owner=3)
    assert household_guarded_links(links, inter, strict).count() == 0


def test_household_sharing_a_phone_with_two_customer_ids_stays_two_customers(spark, tmp_path):
    inter = interactions_df(spark, [("mom", "sunita rao"), ("son", "arjun rao"), ("mom2", "sunita rao")])
    ids = identifiers_df(spark, [
        ("mom", "customer_id", "CRM1"), ("mom", "phone", "+919812345678"),
        ("son", "customer_id", "CRM2"), ("son", "phone", "+919812345678"),
        ("mom2", "customer_id", "CRM1"),
    ])
    ic, idc, changes, splits, _ = resolve_pure(spark, tmp_path, inter, ids, ResolveConfig(), "r1")
    assert groups(ic) == {frozenset({"mom", "mom2"}), frozenset({"son"})}
    cust = {r.interaction_id: r.customer_id for r in ic.collect()}
    # two different customer_ids never share a customer
    per_customer = {}
    for r in idc.where("id_type = 'customer_id'").collect():
        per_customer.setdefault(r.customer_id, set()).add(r.value)
    assert sorted(map(sorted, per_customer.values())) == [["CRM1"], ["CRM2"]]
    assert {r.value: r.customer_id for r in idc.collect()}["+919812345678"] == cust["mom"]
    assertDataFrameEqual(splits.select("limits", "src", "dst", "link_type", "dropped_because"), spark.createDataFrame(
        [("customer_id: 2 values > 1", "i|son", "v|phone:+919812345678", "phone", "customer_id: 2 values > 1")],
        "limits string, src string, dst string, link_type string, dropped_because string"))
    # first sight: both customers are simply new
    assert sorted(r.change for r in changes.collect()) == ["new", "new"]


def test_pos_placeholder_phone_used_by_many_shoppers_links_none(spark, tmp_path):
    shoppers = ["amit shah", "priya nair", "rahul verma", "kavya iyer", "mohan das", "sara khan", "dev patel",
                "neha gupta", "ravi teja", "anil kumar", "zoya ali", "tara sen"]
    inter = interactions_df(spark, [(f"bill{i}", n) for i, n in enumerate(shoppers)])
    ids = identifiers_df(spark, [(f"bill{i}", "phone", "+919000012345") for i in range(len(shoppers))])
    ic, idc, _, splits, held = resolve_pure(spark, tmp_path, inter, ids, ResolveConfig(), "r1")
    assert groups(ic) == {frozenset({f"bill{i}"}) for i in range(len(shoppers))}
    assert idc.count() == 0
    assertDataFrameEqual(held, spark.createDataFrame(
        [("phone", "+919000012345", 12, 12, 500, 8, "seen with 12 distinct names > 8")],
        "id_type string, value string, interactions long, names long, cap long, max_names long, reason string"))
    assert splits.count() == 0


def test_spelling_variants_of_one_name_count_once_and_keep_linking(spark, tmp_path):
    rconf = ResolveConfig(max_names_per_identifier={"phone": 1})
    inter = interactions_df(spark, [("a", "mohd irfan"), ("b", "mohammed irfan"), ("c", "md irfaan")])
    ids = identifiers_df(spark, [(x, "phone", "+919876501234") for x in "abc"])
    ic, _, _, _, held = resolve_pure(spark, tmp_path, inter, ids, rconf, "r1")
    assert groups(ic) == {frozenset("abc")}
    assert held.count() == 0


def test_component_forced_over_uniqueness_limit_splits_and_history_records_it(spark, tmp_path):
    rconf = ResolveConfig()
    # run 1: a and b share phone P -> one customer holding CRM1
    inter1 = interactions_df(spark, [("a", "ravi kumar"), ("b", "ravi kumar")])
    ids1 = identifiers_df(spark, [("a", "customer_id", "CRM1"), ("a", "phone", "+919811111111"),
                                  ("b", "phone", "+919811111111"), ("b", "email", "r@x.in")])
    ic1, idc1, ch1, _, _ = resolve_pure(spark, tmp_path, inter1, ids1, rconf, "r1")
    assert groups(ic1) == {frozenset({"a", "b"})}
    old = ic1.first().customer_id
    # run 2: c holds CRM2 and b's email: the component now holds two customer_ids
    inter2 = interactions_df(spark, [("a", "ravi kumar"), ("b", "ravi kumar"), ("c", "ravi kumar")])
    ids2 = ids1.unionByName(identifiers_df(spark, [("c", "customer_id", "CRM2"), ("c", "email", "r@x.in")]))
    ic2, idc2, ch2, splits, _ = resolve_pure(spark, tmp_path, inter2, ids2, rconf, "r2",
                                             prev=as_previous(spark, ic1, idc1, ch1))
    assert groups(ic2) == {frozenset({"a"}), frozenset({"b", "c"})}
    cust = {r.interaction_id: r.customer_id for r in ic2.collect()}
    assert cust["a"] == old  # the part with most of the old identifiers (a, CRM1, P) keeps the id
    assert cust["b"] != old
    assertDataFrameEqual(ch2.drop("changed_at"), spark.createDataFrame(
        [("r2", old, cust["b"], "split", REASON_LIMIT_SPLIT + "customer_id: 2 values > 1")],
        "run_id string, old_id string, new_id string, change string, reason string"))
    assertDataFrameEqual(splits.select("src", "dst", "dropped_because"), spark.createDataFrame(
        [("i|b", "v|phone:+919811111111", "customer_id: 2 values > 1")],
        "src string, dst string, dropped_because string"))


def test_cannot_link_override_splits_a_merged_customer_on_the_next_run(spark, make_conf, tmp_path):
    conf = make_conf(matching=NO_MATCHING)
    inter = interactions_df(spark, [("web:1", "asha"), ("pos:9", "asha")])
    ids = identifiers_df(spark, [("web:1", "email", "asha@x.in"), ("pos:9", "email", "asha@x.in")])
    ic1, idc1, ch1, _, _ = resolve_pure(spark, tmp_path, inter, ids, conf.resolve, "r1")
    assert groups(ic1) == {frozenset({"web:1", "pos:9"})}
    row = add_override(spark, conf, CANNOT_LINK, "interaction:web:1", "interaction:pos:9", "two people", "steward1")
    must, cannot = active_overrides(spark, conf)
    assert must.count() == 0
    assertDataFrameEqual(cannot, spark.createDataFrame([(row["override_id"], "i|pos:9", "i|web:1")],
                                                       CANNOT_LINKS_SCHEMA))
    ic2, _, ch2, splits, _ = resolve_pure(spark, tmp_path, inter, ids, conf.resolve, "r2",
                                          prev=as_previous(spark, ic1, idc1, ch1), cannot=cannot)
    assert groups(ic2) == {frozenset({"web:1"}), frozenset({"pos:9"})}
    assert [(r.change, r.reason) for r in ch2.collect()] == [
        ("split", REASON_LIMIT_SPLIT + f"cannot_link: {row['override_id']}")]
    assert splits.count() == 1


def test_must_link_override_joins_two_customers(spark, make_conf, tmp_path):
    conf = make_conf(matching=NO_MATCHING)
    inter = interactions_df(spark, [("web:1", "asha"), ("pos:9", "asha")])
    ids = identifiers_df(spark, [("web:1", "email", "asha@x.in"), ("pos:9", "phone", "+919822222222")])
    add_override(spark, conf, MUST_LINK, "email:Asha@X.in", "phone:098222 22222", "same person, confirmed")
    must, cannot = active_overrides(spark, conf)
    assertDataFrameEqual(must, spark.createDataFrame([("v|email:asha@x.in", "v|phone:+919822222222")],
                                                     "left string, right string"))
    ic, _, _, _, _ = resolve_pure(spark, tmp_path, inter, ids, conf.resolve, "r1", must=must, cannot=cannot)
    assert groups(ic) == {frozenset({"web:1", "pos:9"})}


def test_a_withdrawn_override_no_longer_applies_and_its_history_says_who(spark, make_conf):
    conf = make_conf(matching=NO_MATCHING)
    row = add_override(spark, conf, MUST_LINK, "email:asha@x.in", "phone:9822222222", "same person")
    keep = add_override(spark, conf, CANNOT_LINK, "interaction:web:1", "interaction:pos:9", "two people")
    withdraw_override(spark, conf, row["override_id"], "wrong call", "steward2")
    must, cannot = active_overrides(spark, conf)
    assert must.count() == 0
    assert [r["override_id"] for r in cannot.collect()] == [keep["override_id"]]
    assert {r["override_id"]: r["active"] for r in list_overrides(spark, conf)} == {
        row["override_id"]: "False", keep["override_id"]: "True"}
    last = DeltaTable.forPath(spark, conf.table_path(META_STEWARD_OVERRIDES)).history(1).first()
    assert json.loads(last["userMetadata"]) == {"cdp_withdrawn": row["override_id"], "by": "steward2",
                                                "reason": "wrong call"}
    with pytest.raises(ConfigError, match="already withdrawn"):
        withdraw_override(spark, conf, row["override_id"], "again")
    with pytest.raises(ConfigError, match=r"no steward override 'O123'"):
        withdraw_override(spark, conf, "O123", "typo")


def test_overrides_that_cannot_do_what_the_steward_means_are_refused(spark, make_conf):
    conf = make_conf(matching=NO_MATCHING)
    overwrite_table(interactions_df(spark, [("crm:1", "a"), ("crm:2", "b"), ("web:1", "a")]), conf, SILVER_INTERACTIONS)
    overwrite_table(identifiers_df(spark, [("crm:1", "customer_id", "K1"), ("crm:1", "email", "a@x.in"),
                                           ("web:1", "email", "a@x.in"), ("crm:2", "customer_id", "K2")]),
                    conf, SILVER_IDENTIFIERS)
    overwrite_table(spark.createDataFrame([("crm:1", "A"), ("web:1", "A"), ("crm:2", "B")],
                                          "interaction_id string, customer_id string"), conf, "gold/interaction_customer")
    overwrite_table(spark.createDataFrame([("customer_id", "K1", "A"), ("email", "a@x.in", "A"), ("customer_id", "K2", "B")],
                                          "id_type string, id_value string, customer_id string"), conf, "gold/identity_map")
    overwrite_table(spark.createDataFrame([("r1", "customers", "overall", 2.0)],
                                          "run_id string, metric string, dimension string, value double"),
                    conf, "gold/run_metrics")  # gold written before publications were recorded: read as published
    refused = [
        (MUST_LINK, "interaction:crm:1", "interaction:web:1", "  ", "needs --reason"),
        (CANNOT_LINK, "interaction:crm:404", "interaction:web:1", "r", "interaction 'crm:404' is not in silver/interactions"),
        (MUST_LINK, "email:Ghost@x.in", "interaction:web:1", "r", "email 'ghost@x.in' is on no interaction"),
        (MUST_LINK, "interaction:crm:1", "interaction:crm:2", "r",
         r"would join customers \['A', 'B'\], which hold different customer_id values"),
    ]
    for kind, a, b, reason, needle in refused:
        with pytest.raises(ConfigError, match=needle):
            add_override(spark, conf, kind, a, b, reason)
    assert not table_exists(spark, conf, META_STEWARD_OVERRIDES)  # nothing was written
    add_override(spark, conf, MUST_LINK, "interaction:web:1", "email:a@x.in", "same person")  # one customer: fine
    row = add_override(spark, conf, CANNOT_LINK, "interaction:crm:1", "interaction:crm:2", "two people")
    with pytest.raises(ConfigError, match=f"already active as override {row['override_id']}"):
        add_override(spark, conf, CANNOT_LINK, "interaction:crm:2", "interaction:crm:1", "again")
    with pytest.raises(ConfigError, match=f"contradicts the active cannot_link {row['override_id']}"):
        add_override(spark, conf, MUST_LINK, "interaction:crm:1", "interaction:crm:2", "changed my mind")
    assert len(list_overrides(spark, conf)) == 2


def test_reference_errors_name_the_reference(spark, make_conf):
    conf = make_conf()
    for ref, needle in (("emial:a@b.com", "unknown identifier type 'emial'"), ("nocolon", "write interaction:"),
                        ("phone:12", "not valid after normalisation")):
        try:
            reference_vertex(spark, conf, ref)
        except ConfigError as exc:
            assert needle in str(exc) and ref in str(exc)
        else:
            raise AssertionError(f"{ref} was accepted")


# --- explain ------------------------------------------------------------------------------------

def test_explain_edges_and_path_between_two_interactions(spark):
    ic = spark.createDataFrame([("a", "C1"), ("b", "C1"), ("c", "C1"), ("z", "C2")],
                               "interaction_id string, customer_id string")
    ids = identifiers_df(spark, [("a", "email", "e@x.in"), ("b", "email", "e@x.in"), ("z", "email", "z@x.in"),
                                 ("b", "phone", "+919833333333")])
    idmap = spark.createDataFrame([("email", "e@x.in", "C1"), ("phone", "+919833333333", "C1"),
                                   ("email", "z@x.in", "C2")], "id_type string, id_value string, customer_id string")
    pairs = spark.createDataFrame([("b", "c", 0.93, "match", "4"), ("a", "z", 0.2, "no_match", "4")],
                                  "left_interaction_id string, right_interaction_id string, score double, "
                                  "decision string, model_version string")
    edges = customer_edges(ic, ids, idmap, pairs, None, "C1")
    assertDataFrameEqual(edges, spark.createDataFrame([
        ("i|a", "v|email:e@x.in", "email", None, None), ("i|b", "v|email:e@x.in", "email", None, None),
        ("i|b", "v|phone:+919833333333", "phone", None, None), ("i|b", "i|c", "fuzzy", 0.93, "4"),
    ], "src string, dst string, kind string, score double, model_version string"))
    path = shortest_path([r.asDict() for r in edges.collect()], "i|a", "i|c")
    assert [(e["from"], e["to"], e["kind"]) for e in path] == [
        ("i|a", "v|email:e@x.in", "email"), ("v|email:e@x.in", "i|b", "email"), ("i|b", "i|c", "fuzzy")]
    assert path[-1]["score"] == 0.93 and path[-1]["model_version"] == "4"
    assert shortest_path([r.asDict() for r in edges.collect()], "i|a", "i|z") is None


def test_explain_text_spells_vertices_as_override_references_and_between_takes_either_form():
    assert [interaction_id_of(r) for r in ("pos:B1", "interaction:pos:B1", " interaction:web:s-1 ")] == [
        "pos:B1", "pos:B1", "web:s-1"]
    assert interaction_id_of("interaction:x") == "interaction:x"  # a source named 'interaction'
    text = format_explanation({"left": "pos:B1", "right": "crm:C9", "left_customer": "C1", "right_customer": "C1",
                               "path": [{"from": "i|pos:B1", "to": "v|phone:+919833333333", "kind": "phone"},
                                        {"from": "v|phone:+919833333333", "to": "i|crm:C9", "kind": "phone"}]})
    assert text.splitlines()[2:] == ["    interaction:pos:B1 -> phone:+919833333333  [phone]",
                                     "    phone:+919833333333 -> interaction:crm:C9  [phone]"]


def test_size_distribution_buckets(spark):
    ic = spark.createDataFrame([(f"i{n}", "big") for n in range(12)] + [("s1", "one"), ("p1", "two"), ("p2", "two")],
                               "interaction_id string, customer_id string")
    dist = {r["interactions"]: r["customers"] for r in size_distribution(ic)}
    assert dist == {"1": 1, "2": 1, "3-5": 0, "6-10": 0, "11-50": 1, "51-100": 0, "101-1000": 0, ">1000": 0}


# --- the stage on Delta tables ---------------------------------------------------------------------

def test_run_resolve_writes_guarded_links_and_explain_names_them(spark, make_conf):
    from cdp.identity.explain import _guard_note

    conf = make_conf(resolve={"engine": "spark"}, matching=NO_MATCHING)
    overwrite_table(interactions_df(spark, [("pos:1", "rajesh sharma"), ("crm:1", "rajesh sharma"),
                                            ("pos:2", "priya sharma")]), conf, SILVER_INTERACTIONS)
    overwrite_table(identifiers_df(spark, [("pos:1", "phone", "+919812345678"), ("crm:1", "phone", "+919812345678"),
                                           ("pos:2", "phone", "+919812345678")]), conf, SILVER_IDENTIFIERS)
    summary = run_resolve(spark, conf, "run1")
    assert summary["guarded_links"] == 1
    assert groups(read_table(spark, conf, SILVER_INTERACTION_RESOLVED)) == {frozenset({"pos:1", "crm:1"}),
                                                                             frozenset({"pos:2"})}
    assert [tuple(r) for r in read_table(spark, conf, SILVER_GUARDED_LINKS)
            .select("interaction_id", "value", "initial", "owner_initial").collect()] == [
        ("pos:2", "+919812345678", "p", "r")]
    assert _guard_note(spark, conf, "pos:1", "pos:2") == (
        "; pos:2's link to phone:+919812345678 was not taken by the household guard (its name's initial 'p', "
        "the owner's 'r' on 2 interactions; silver/guarded_links)")


def test_run_resolve_reports_limit_splits_and_held_out_reasons(spark, make_conf):
    conf = make_conf(resolve={"engine": "spark"}, matching=NO_MATCHING)
    overwrite_table(interactions_df(spark, [("mom", "sunita rao"), ("son", "arjun rao")]), conf, SILVER_INTERACTIONS)
    overwrite_table(identifiers_df(spark, [("mom", "customer_id", "CRM1"), ("mom", "phone", "+919812345678"),
                                           ("son", "customer_id", "CRM2"), ("son", "phone", "+919812345678")]),
                    conf, SILVER_IDENTIFIERS)
    summary = run_resolve(spark, conf, "run1")
    assert summary["customers"] == 2
    assert summary["limit_splits"] == {"components_split": 1, "links_dropped": 1, "by_limit": {"customer_id": 1}}
    assert groups(read_table(spark, conf, SILVER_INTERACTION_RESOLVED)) == {frozenset({"mom"}), frozenset({"son"})}
    assert read_table(spark, conf, SILVER_IDENTIFIER_RESOLVED).count() == 3
    assert read_table(spark, conf, SILVER_LIMIT_SPLITS).count() == 1
    assert read_table(spark, conf, SILVER_HELD_OUT_IDENTIFIERS).count() == 0
