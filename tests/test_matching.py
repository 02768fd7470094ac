"""Fuzzy matching: name helpers, features, blocking, threshold, score alignment, MLflow champion."""
from __future__ import annotations

import csv
import hashlib
import json
import math
from datetime import datetime

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from cdp.config import BlockingRule, ConfigError
from cdp.constants import SILVER_IDENTIFIERS, SILVER_INTERACTIONS, SILVER_MATCH_PAIRS
from cdp.matching.blocking import candidate_pairs
from cdp.matching.features import (
    FEATURE_COLUMNS, initials_agreement, jaro_winkler, name_features, pair_features,
)
from cdp.matching.model import build_pipeline, precision_recall_at, scores, validate
from cdp.matching.names import (
    BUILTIN_VARIANTS, canonical_tokens, load_name_variants, name_parts, phonetic_key,
)
from cdp.matching.records import (
    RECORD_COLUMNS, anchored_components, interaction_attributes, match_records,
)
from cdp.matching.registry import CHAMPION_ALIAS, load_match_model
from cdp.matching.score import MATCH_PAIRS_SCHEMA, empty_match_pairs, match_pairs
from cdp.matching.stage import fuzzy_link
from cdp.standardize.standardize import ATTRIBUTE_FIELDS, IDENTIFIERS_SCHEMA, INTERACTIONS_SCHEMA
from cdp.tables import overwrite_table, read_table

T0 = datetime(2024, 1, 1)
# the column types match_records produces (checked in test_pair_features_on_hand_made_pairs)
RECORD_TYPES = {c: "string" for c in RECORD_COLUMNS} | {
    "interactions": "bigint", "anchored": "int", "name_anchors": "bigint", "name_city_anchors": "bigint",
    "first_frequency": "bigint", "last_frequency": "bigint"}
RECORD_SCHEMA = ", ".join(f"{c} {RECORD_TYPES[c]}" for c in RECORD_COLUMNS)
PAIRS_SCHEMA = ("pair_id string, left_record_id string, right_record_id string, blocking_rule string, "
                "blocking_rules array<string>")
LINKS_SCHEMA = "interaction_id string, id_type string, value string"
ZERO = {c: 0.0 for c in FEATURE_COLUMNS}


def expected_pair_id(left: str, right: str) -> str:
    """Mirrors blocking.pair_id."""
    return hashlib.sha256(f"{left}|{right}".encode()).hexdigest()[:32]


def attributes(name=None, dob=None, pincode=None, city=None, address=None, gender=None) -> dict:
    out = {f: None for f in ATTRIBUTE_FIELDS}
    out.update(name_key=name, full_name=name, dob=dob, pincode=pincode, city=city, address=address, gender=gender)
    return out


def interactions_df(spark: SparkSession, rows) -> DataFrame:
    """rows: (interaction_id, source, record_id, attributes dict) in INTERACTIONS_SCHEMA."""
    return spark.createDataFrame(
        [(i, s, r, "web", T0, "2024-01-01", None, "visit", a, {}, "run-0", T0) for i, s, r, a in rows],
        INTERACTIONS_SCHEMA)


def singleton_components(spark: SparkSession, interaction_ids) -> DataFrame:
    return spark.createDataFrame([(f"i|{i}", f"i|{i}") for i in interaction_ids], "id string, component string")


def records_df(spark: SparkSession, rows) -> DataFrame:
    """Match records built directly: rows are dicts with record_id, component and attributes."""
    out = []
    for r in rows:
        parts = name_parts(r.get("name_key"), BUILTIN_VARIANTS)
        full = {c: None for c in RECORD_COLUMNS} | {"source": "web", "interactions": 1, "anchored": 0,
                                                    "name_anchors": 0, "name_city_anchors": 0,
                                                    "first_frequency": 1, "last_frequency": 1}
        full.update(parts)
        full.update(r)
        full["source_record_id"] = r["record_id"]
        out.append(tuple(full[c] for c in RECORD_COLUMNS))
    return spark.createDataFrame(out, RECORD_SCHEMA)


def pair_rows(df: DataFrame) -> set[tuple]:
    return {(r.pair_id, r.left_record_id, r.right_record_id, r.blocking_rule, tuple(r.blocking_rules))
            for r in df.collect()}


def stats_rows(df: DataFrame) -> list[tuple]:
    return [tuple(r) for r in df.orderBy("rule_index").collect()]


# --- names ---------------------------------------------------------------------------------

def test_load_name_variants_groups_spellings_by_native_script(tmp_path):
    """Spellings sharing a native form map to the alphabetically first; singletons are absent."""
    tsv = tmp_path / "names.tsv"
    tsv.write_text("english\thindi\nanoop\tअनूप\nanup\tअनूप\nrahul\tराहुल\n", encoding="utf-8")
    assert load_name_variants(tsv) == {**BUILTIN_VARIANTS, "anoop": "anoop", "anup": "anoop"}
    assert load_name_variants(str(tsv))["mohd"] == "mohammed"


def test_load_name_variants_missing_file_gives_builtins_only(tmp_path):
    """A missing file (or none configured) leaves the built-in variants only."""
    assert load_name_variants(tmp_path / "absent.tsv") == BUILTIN_VARIANTS
    assert load_name_variants(None) == BUILTIN_VARIANTS


@pytest.mark.parametrize("lines", [
    ("ram\tराम", "rama\tराम", "rama\tरमा", "ramaa\tरमा"),
    ("rama\tरमा", "ramaa\tरमा", "ram\tराम", "rama\tराम"),
])
def test_load_name_variants_joins_groups_sharing_a_spelling(tmp_path, lines):
    """A spelling under two native forms joins both groups, whatever the line order."""
    tsv = tmp_path / "names.tsv"
    tsv.write_text("english\thindi\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert load_name_variants(tsv) == {**BUILTIN_VARIANTS, "ram": "ram", "rama": "ram", "ramaa": "ram"}


def test_canonical_tokens_replace_variant_spellings():
    """Tokens are split on spaces and variant spellings replaced; no name gives no tokens."""
    variants = {**BUILTIN_VARIANTS, "anup": "anoop"}
    assert canonical_tokens("mohd anup kumar", variants) == ["mohammed", "anoop", "kumar"]
    assert canonical_tokens("md  irfan", variants) == ["mohammed", "irfan"]
    assert canonical_tokens(None, variants) == []
    assert canonical_tokens("", variants) == []


@pytest.mark.parametrize("a,b", [("anoop", "anup"), ("lakshmi", "laxmi"), ("mohammed", "muhammad"),
                                 ("srinivas", "shrinivas"), ("kureshi", "qureshi")])
def test_phonetic_key_equates_indian_spelling_variants(a, b):
    """Aspirates, ksh/x, q/k and vowels fold to one key."""
    assert phonetic_key(a) == phonetic_key(b)
    assert phonetic_key(a) is not None


def test_phonetic_key_keeps_different_names_apart():
    """Different consonants stay apart; empty input has no key."""
    assert phonetic_key("sharma") != phonetic_key("verma")
    assert (phonetic_key("sharma"), phonetic_key("verma")) == ("srm", "vrm")
    assert phonetic_key("") is None
    assert phonetic_key("123") is None


@pytest.mark.parametrize("a,b,expected", [
    ("r sharma", "rahul sharma", 1.0),
    ("sharma rahul", "rahul sharma", 1.0),
    ("r sharma", "k sharma", 0.5),
    ("rahul sharma", "amit verma", 0.0),
    (None, "rahul sharma", 0.0),
])
def test_initials_agreement(a, b, expected):
    """An initial agrees with a token it starts, in any order."""
    assert initials_agreement(a, b) == expected


@pytest.mark.parametrize("a,b", [("sunil sharma", "s sunil"), ("r k sharma", "rahul sharma"),
                                 ("rahul ravi", "r rahul kumar")])
def test_initials_agreement_is_symmetric(a, b):
    """Full tokens pair first, so swapping the names (left/right record order) changes nothing."""
    assert initials_agreement(a, b) == initials_agreement(b, a) == 1.0


def test_name_features_initial_first_name():
    """An initial first name sets first_is_initial; first_sim is 1 when the letter agrees."""
    f = name_features("r sharma", "rahul sharma")
    assert (f["first_is_initial"], f["first_sim"], f["last_sim"], f["name_initials"]) == (1.0, 1.0, 1.0, 1.0)
    f = name_features("k sharma", "rahul sharma")
    assert (f["first_is_initial"], f["first_sim"], f["name_initials"]) == (1.0, 0.0, 0.5)
    f = name_features("rahul sharma", "rohit sharma")
    assert (f["first_is_initial"], f["first_sim"]) == (0.0, jaro_winkler("rahul", "rohit"))
    assert 0.0 < f["first_sim"] < 1.0


def test_name_features_one_token_and_missing_names():
    """last_sim needs two tokens on both sides; a missing name gives all zeros."""
    f = name_features("rahul", "rahul sharma")
    assert (f["first_sim"], f["last_sim"], f["name_initials"]) == (1.0, 0.0, 1.0)
    zeros = dict.fromkeys(("name_jw", "name_token_set", "name_initials", "first_sim", "first_is_initial",
                           "last_sim"), 0.0)
    assert name_features(None, "rahul sharma") == zeros
    assert name_features("rahul sharma", "") == zeros


# --- features through Spark -----------------------------------------------------------------

def test_pair_features_on_hand_made_pairs(spark, tmp_path):
    """Every feature of six hand-made pairs, from silver-like rows through match_records."""
    tsv = tmp_path / "names.tsv"
    tsv.write_text("english\thindi\nanoop\tअनूप\nanup\tअनूप\n", encoding="utf-8")
    variants = load_name_variants(tsv)
    inter = interactions_df(spark, [
        ("a", "web", "A1", attributes("rahul sharma", "1990-05-07", "110001", "New Delhi", "Flat 12, MG Road", "M")),
        ("b", "pos", "B1", attributes("r sharma", "1990-07-05", "110002", " new  delhi", "12 mg road", "male")),
        ("c", "web", "C1", attributes("mohd irfan", "1990-05-07")),
        ("d", "web", "D1", attributes("mohammed irfan")),
        ("e", "web", "E1", attributes()),
        ("f", "web", "F1", attributes("anup kumar", "1990-12-25")),
        ("g", "web", "G1", attributes("anoop kumar")),
    ])
    links = spark.createDataFrame([
        ("a", "phone", "+919812345678"), ("a", "email", "rahul.sharma@gmail.com"),
        ("b", "phone", "+919812345679"), ("b", "email", "rahulsharma@yahoo.com"),
        ("e", "email", "rahul.sharma@gmail.com"),
    ], LINKS_SCHEMA)
    comps = singleton_components(spark, "abcdefg")
    per = interaction_attributes(inter, links, comps)
    records, _members = match_records(per, variants, anchored_components(links, comps))
    assert [(f.name, f.dataType.simpleString()) for f in records.schema] == list(RECORD_TYPES.items())

    pairs = spark.createDataFrame([(p, p[0], p[1], "rule", ["rule"]) for p in
                                   ("ab", "cd", "ae", "ac", "af", "fg")], PAIRS_SCHEMA)
    got = {r.pair_id: r.asDict() for r in pair_features(pairs, records).collect()}
    assert set(got) == {"ab", "cd", "ae", "ac", "af", "fg"}
    assert (got["ab"]["left_component"], got["ab"]["right_component"]) == ("i|a", "i|b")

    one_missing = dict.fromkeys(("dob_missing", "phone_missing", "email_missing", "pincode_missing",
                                 "city_missing", "address_missing", "gender_missing"), 1.0)
    both_missing = dict.fromkeys(one_missing, 2.0)
    # canonical first / last name frequencies over the 7 records: rahul 1, r 1, mohammed 2, anoop 2;
    # sharma 2, irfan 2, kumar 2 (the feature is log10 of the larger side's, when both have one)
    log2 = math.log10(2)
    expected = {
        # initials, dob day/month swapped, one wrong phone digit, same email local part, folded city
        "ab": ZERO | name_features("rahul sharma", "r sharma") | {
            "dob_swapped": 1.0, "dob_year": 1.0, "dob_edits": 2.0, "phone_edits": 1.0, "email_local_sim": 1.0,
            "pincode_prefix_eq": 1.0, "pincode_edits": 1.0, "city_eq": 1.0, "address_overlap": 0.75,
            "gender_eq": 1.0, "anchored_sides": 2.0, "name_anchors": 1.0, "name_city_anchors": 1.0,
            "first_frequency": 0.0, "last_frequency": log2},
        # mohd -> mohammed; one dob missing: dob_exact stays 0
        "cd": ZERO | both_missing | {
            "name_jw": 1.0, "name_token_set": 1.0, "name_initials": 1.0, "first_sim": 1.0, "last_sim": 1.0,
            "dob_missing": 1.0, "first_frequency": log2, "last_frequency": log2},
        # no name on one side: name similarities 0, name_missing 1
        "ae": ZERO | one_missing | {
            "name_missing": 1.0, "email_missing": 0.0, "email_local_sim": 1.0, "email_domain_eq": 1.0,
            "anchored_sides": 2.0, "name_anchors": 1.0, "name_city_anchors": 1.0},
        # exact dob
        "ac": ZERO | one_missing | name_features("rahul sharma", "mohammed irfan") | {
            "dob_missing": 0.0, "dob_exact": 1.0,
            "anchored_sides": 1.0, "name_anchors": 1.0, "name_city_anchors": 1.0,
            "first_frequency": log2, "last_frequency": log2},
        # same year only; dob edits are capped at 4
        "af": ZERO | one_missing | name_features("rahul sharma", "anoop kumar") | {
            "dob_missing": 0.0, "dob_year": 1.0, "dob_edits": 4.0,
            "anchored_sides": 1.0, "name_anchors": 1.0, "name_city_anchors": 1.0,
            "first_frequency": log2, "last_frequency": log2},
        # transliteration variant from the TSV: anup -> anoop
        "fg": ZERO | both_missing | {
            "name_jw": 1.0, "name_token_set": 1.0, "name_initials": 1.0, "first_sim": 1.0, "last_sim": 1.0,
            "dob_missing": 1.0, "first_frequency": log2, "last_frequency": log2},
    }
    assert set(FEATURE_COLUMNS) == set(expected["ab"])
    for pid, want in expected.items():
        assert {c: got[pid][c] for c in FEATURE_COLUMNS} == want, pid
    assert got["ab"]["name_initials"] == 1.0 and got["ab"]["first_is_initial"] == 1.0


# --- blocking ------------------------------------------------------------------------------

RULES = (BlockingRule(name="surname_pincode", keys=("surname_phonetic", "pincode")),
         BlockingRule(name="first_dob", keys=("first_phonetic", "dob")))


def blocking_records(spark: SparkSession) -> DataFrame:
    """r1/r5 share a component; r6 has no pincode; r3 differs in first name, r4 in surname and
    pincode (a block of its own). surname_pincode blocks: srm+110001 (r1 r2 r3 r5), vrm+560001."""
    return records_df(spark, [
        {"record_id": "r1", "component": "c1", "name_key": "rahul sharma", "dob": "1990-01-01", "pincode": "110001"},
        {"record_id": "r2", "component": "c2", "name_key": "rahul sharma", "dob": "1990-01-01", "pincode": "110001"},
        {"record_id": "r3", "component": "c3", "name_key": "amit sharma", "dob": "1985-02-02", "pincode": "110001"},
        {"record_id": "r4", "component": "c4", "name_key": "rahul verma", "dob": "1990-01-01", "pincode": "560001"},
        {"record_id": "r5", "component": "c1", "name_key": "rahul sharma", "dob": "1991-01-01", "pincode": "110001"},
        {"record_id": "r6", "component": "c6", "name_key": "priya sharma", "dob": "2000-01-01"},
    ])


def _pair(left: str, right: str, *rules: str) -> tuple:
    return (expected_pair_id(left, right), left, right, rules[0], tuple(sorted(rules)))


def test_candidate_pairs_union_of_rules_without_same_component(spark):
    """Each pair once; a pair of both rules lists both and keeps the first rule in config order."""
    pairs, stats = candidate_pairs(blocking_records(spark), RULES, max_block_size=300)
    assert pair_rows(pairs) == {
        _pair("r1", "r2", "surname_pincode", "first_dob"),
        _pair("r1", "r3", "surname_pincode"), _pair("r2", "r3", "surname_pincode"),
        _pair("r2", "r5", "surname_pincode"), _pair("r3", "r5", "surname_pincode"),
        _pair("r1", "r4", "first_dob"), _pair("r2", "r4", "first_dob"),
    }
    assert pairs.count() == 7
    # rule, rule_index, blocks, hot_blocks, records_in_hot_blocks, pairs
    assert stats_rows(stats) == [("surname_pincode", 0, 2, 0, 0, 5), ("first_dob", 1, 4, 0, 0, 3)]


def test_candidate_pairs_include_same_component_on_request(spark):
    """exclude_same_component=False adds the r1/r5 pair of component c1."""
    pairs, stats = candidate_pairs(blocking_records(spark), RULES, max_block_size=300,
                                   exclude_same_component=False)
    assert pair_rows(pairs) == {
        _pair("r1", "r2", "surname_pincode", "first_dob"), _pair("r1", "r5", "surname_pincode"),
        _pair("r1", "r3", "surname_pincode"), _pair("r2", "r3", "surname_pincode"),
        _pair("r2", "r5", "surname_pincode"), _pair("r3", "r5", "surname_pincode"),
        _pair("r1", "r4", "first_dob"), _pair("r2", "r4", "first_dob"),
    }
    assert stats_rows(stats) == [("surname_pincode", 0, 2, 0, 0, 6), ("first_dob", 1, 4, 0, 0, 3)]


def test_candidate_pairs_skip_and_count_hot_blocks(spark):
    """The 4-record surname_pincode block is over max_block_size 3: skipped and counted."""
    pairs, stats = candidate_pairs(blocking_records(spark), RULES, max_block_size=3)
    assert pair_rows(pairs) == {_pair("r1", "r2", "first_dob"), _pair("r1", "r4", "first_dob"),
                                _pair("r2", "r4", "first_dob")}
    assert stats_rows(stats) == [("surname_pincode", 0, 2, 1, 4, 0), ("first_dob", 1, 4, 0, 0, 3)]


# --- threshold -----------------------------------------------------------------------------

def features_df(spark: SparkSession, rows) -> DataFrame:
    """rows: (pair_id, {feature: value}); other features 0; one component per record."""
    schema = ", ".join(["pair_id string, left_record_id string, right_record_id string, left_component string, "
                        "right_component string, blocking_rule string, blocking_rules array<string>",
                        *[f"{c} double" for c in FEATURE_COLUMNS]])
    data = [(pid, f"{pid}-l", f"{pid}-r", f"c-{pid}-l", f"c-{pid}-r", "rule", ["rule"],
             *[float(values.get(c, 0.0)) for c in FEATURE_COLUMNS]) for pid, values in rows]
    return spark.createDataFrame(data, schema)


def test_match_pairs_score_equal_to_threshold_is_a_match(spark):
    """score >= threshold is inclusive and compared as doubles; one ulp below is no_match."""
    t = 0.7
    below, above = math.nextafter(t, 0), math.nextafter(t, 1)
    given = {"eq": t, "below": below, "above": above, "one": 1.0, "zero": 0.0}
    features = features_df(spark, [(p, {}) for p in given])
    pair_scores = spark.createDataFrame(list(given.items()), "pair_id string, score double")
    out = match_pairs(features, pair_scores, t, "cdp_match_model", "3", "run-9")
    assert out.schema.simpleString() == empty_match_pairs(spark).schema.simpleString()
    assertDataFrameEqual(
        out.select("pair_id", "score", "threshold", "decision", "model_name", "model_version", "run_id",
                   "left_interaction_id", "right_interaction_id", "left_component"),
        [("eq", t, t, "match", "cdp_match_model", "3", "run-9", "eq-l", "eq-r", "c-eq-l"),
         ("below", below, t, "no_match", "cdp_match_model", "3", "run-9", "below-l", "below-r", "c-below-l"),
         ("above", above, t, "match", "cdp_match_model", "3", "run-9", "above-l", "above-r", "c-above-l"),
         ("one", 1.0, t, "match", "cdp_match_model", "3", "run-9", "one-l", "one-r", "c-one-l"),
         ("zero", 0.0, t, "no_match", "cdp_match_model", "3", "run-9", "zero-l", "zero-r", "c-zero-l")],
        rtol=0, atol=0)


def test_validate_counts_score_at_threshold_as_predicted_positive():
    """With a given threshold, a negative scored exactly at it is a false positive."""
    t = 0.7
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, t, t, math.nextafter(t, 0)])
    assert precision_recall_at(y, s, t) == (2 / 3, 1.0, 0.8)
    res = validate(y, s, min_precision=0.99, threshold=t)
    assert (res.threshold, res.precision, res.recall, res.f1) == (t, 2 / 3, 1.0, 0.8)
    assert (res.positives, res.negatives) == (2, 2)
    assert precision_recall_at(y, s, math.nextafter(t, 1)) == (1.0, 0.5, 2 / 3)


def test_validate_chooses_the_best_f1_threshold_reaching_min_precision():
    """The chosen threshold is a score value: the best F1 among cuts with precision >= min_precision."""
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.95, 0.9, 0.8, 0.7, 0.3, 0.1])
    res = validate(y, s, min_precision=0.99)
    assert (res.threshold, res.precision, res.recall) == (0.9, 1.0, 2 / 3)
    assert res.auc == 8 / 9
    assert validate(y, s, min_precision=0.7).threshold == 0.7


# --- scores stay with their pairs ----------------------------------------------------------

def test_scores_follow_pair_ids_after_repartitioning(spark):
    """Scores of shuffled features equal the reference per pair_id; decisions follow pair ids."""
    rows = []
    for i in range(40):
        positive = i < 10
        # name_jw decides the label; last_sim (a permutation of i) makes every score distinct
        rows.append((f"p{i}", {"name_jw": 1.0 if positive else 0.0, "last_sim": ((i * 7) % 40) / 40.0}))
    features = features_df(spark, rows)
    train = features.withColumn("label", F.col("name_jw"))
    model = build_pipeline("logistic_regression", 1).fit(train)

    lr = model.stages[-1]
    w, b = lr.coefficients.toArray(), lr.intercept
    reference = {}
    for pid, values in rows:
        margin = b + sum(w[k] * values.get(c, 0.0) for k, c in enumerate(FEATURE_COLUMNS))
        reference[pid] = 1.0 / (1.0 + math.exp(-margin))
    assert len(set(reference.values())) == 40  # distinct scores: a swap would show
    assert all(reference[f"p{i}"] > 0.5 for i in range(10))
    assert all(reference[f"p{i}"] < 0.5 for i in range(10, 40))
    ref_df = spark.createDataFrame(list(reference.items()), "pair_id string, score double")

    plain = scores(model, features)
    shuffled = scores(model, features.repartition(7, "last_sim").orderBy(F.rand(3)))
    assertDataFrameEqual(plain, ref_df)
    assertDataFrameEqual(features.join(shuffled, "pair_id").select("pair_id", "score"), ref_df)
    assertDataFrameEqual(shuffled, plain, rtol=0, atol=0)

    exact = {r.pair_id: r.score for r in plain.collect()}
    matched = match_pairs(features.repartition(5), scores(model, features).repartition(3), 0.5,
                          "cdp_match_model", "1", "run-1")
    got = {r.pair_id: (r.score, r.decision, r.left_interaction_id, r.features["last_sim"])
           for r in matched.collect()}
    assert got == {pid: (exact[pid], "match" if int(pid[1:]) < 10 else "no_match", f"{pid}-l",
                         values["last_sim"]) for pid, values in rows}


# --- registry and the resolve stage without a model -----------------------------------------

def mlflow_conf(make_conf, tmp_path, **matching):
    return make_conf(resolve={"engine": "spark"},
                     matching={"mlflow": {"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"}, **matching})


def test_load_match_model_without_registered_model(make_conf, tmp_path):
    """No registered model: (None, reason) naming the model and `cdp train`."""
    conf = mlflow_conf(make_conf, tmp_path)
    model, reason = load_match_model(conf)
    assert model is None
    assert "cdp_match_model" in reason and "@champion" in reason
    assert "`cdp train --conf FILE`" in reason
    assert f"sqlite:///{tmp_path}/mlflow.db" in reason


def _stage_inputs(spark: SparkSession):
    inter = interactions_df(spark, [("a", "web", "A1", attributes("rahul sharma", "1990-01-01", "110001")),
                                    ("b", "web", "B1", attributes("rahul sharma", "1990-01-01", "110001"))])
    links = spark.createDataFrame([("a", "phone", "+919812345678")], LINKS_SCHEMA)
    comps = spark.createDataFrame([("i|a", "i|a"), ("v|phone:+919812345678", "i|a"), ("i|b", "i|b")],
                                  "id string, component string")
    return inter, links, comps


def test_fuzzy_link_without_model_keeps_deterministic_components(spark, make_conf, tmp_path):
    """Matching on, no model: components unchanged, status off with the reason, empty match_pairs."""
    conf = mlflow_conf(make_conf, tmp_path)
    inter, links, comps = _stage_inputs(spark)
    out, summary = fuzzy_link(spark, conf, "run-1", inter, links, comps, str(tmp_path / "ck"))
    _none, reason = load_match_model(conf)
    assert out is comps
    assert summary == {"status": "off", "reason": reason}
    assert "cdp_match_model" in summary["reason"] and "cdp train" in summary["reason"]
    written = read_table(spark, conf, SILVER_MATCH_PAIRS)
    assert written.count() == 0
    assert written.schema.simpleString() == spark.createDataFrame([], MATCH_PAIRS_SCHEMA).schema.simpleString()


def test_fuzzy_link_with_matching_disabled(spark, make_conf, tmp_path):
    """matching.enabled false: status off with that reason, without asking MLflow."""
    conf = mlflow_conf(make_conf, tmp_path, enabled=False)
    inter, links, comps = _stage_inputs(spark)
    out, summary = fuzzy_link(spark, conf, "run-1", inter, links, comps, str(tmp_path / "ck"))
    assert out is comps
    assert summary == {"status": "off", "reason": "matching.enabled is false"}
    assert read_table(spark, conf, SILVER_MATCH_PAIRS).count() == 0
    assert not (tmp_path / "mlflow.db").exists()


# --- training and champion promotion (end to end on tiny silver tables) --------------------

FIRST_NAMES = ("anil", "bharat", "chetan", "deepak", "ganesh", "hemant", "imran", "jatin", "kishore",
               "lalit", "manoj", "naveen", "omkar", "pankaj", "rajesh", "sanjay", "tarun", "umesh",
               "vinod", "yogesh", "zubin", "farhan", "gopal", "harish", "karan")
SURNAMES = ("sharma", "verma", "gupta", "iyer", "khan")
TRAIN_RULES = [{"name": "surname_city", "keys": ["surname_phonetic", "city"]},
               {"name": "first_dob", "keys": ["first_phonetic", "dob"]}]


def write_training_silver(spark: SparkSession, conf, tmp_path) -> None:
    """25 persons x 3 interactions in one city (5 surnames, so surname blocks mix persons) and
    tmp_path/truth.csv. No identifiers: every interaction is its own customer and connected
    components runs no iteration, which keeps train's query plans small (with one phone per
    interaction, labelled.count() built a ~65 MB plan string and exhausted the 2 GB test heap)."""
    rows, truth = [], []
    for k, first in enumerate(FIRST_NAMES):
        surname = SURNAMES[k % len(SURNAMES)]
        dob = f"{1960 + k}-{k % 12 + 1:02d}-{k % 28 + 1:02d}"
        names = (f"{first} {surname}", f"{first[0]} {surname}", f"{first} {surname}")
        for j, name in enumerate(names):
            iid, rid = f"i{k:02d}{j}", f"R{k:02d}{j}"
            rows.append((iid, "pos", rid, attributes(name, dob, f"4110{j + 1:02d}", "Pune", None, "m")))
            truth.append(("pos", rid, f"P{k}"))
    overwrite_table(interactions_df(spark, rows), conf, SILVER_INTERACTIONS)
    overwrite_table(spark.createDataFrame([], IDENTIFIERS_SCHEMA), conf, SILVER_IDENTIFIERS)
    with (tmp_path / "truth.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "record_id", "person_id"])
        w.writerows(truth)


@pytest.mark.slow
def test_run_train_promotes_only_on_improvement(spark, make_conf, tmp_path, monkeypatch):
    """First run: v1 becomes champion. Same data again: v2 registered, champion stays v1."""
    import mlflow.models
    from mlflow.tracking import MlflowClient

    from cdp.matching.train import run_train

    # pip requirement inference reloads the logged model in a subprocess with its own Spark JVM;
    # irrelevant to promotion and slow here, so log_model uses MLflow's default requirements
    monkeypatch.setattr(mlflow.models, "infer_pip_requirements",
                        lambda model_uri, flavor, fallback=None, **kw: fallback)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    conf = make_conf(resolve={"engine": "spark"}, matching={
        "max_block_size": 20,
        "blocking_rules": TRAIN_RULES,
        "mlflow": {"tracking_uri": uri},
        "training": {"truth": {"path": "truth.csv"}, "weak_labels": False,
                     "model_types": ["logistic_regression"], "validation_fraction": 0.3},
    })
    write_training_silver(spark, conf, tmp_path)

    first = run_train(spark, conf, "train-1")
    assert (first["promoted"], first["model_version"], first["champion_before"]) == (True, "1", None)
    assert first["promotion_reason"] == "no champion yet"
    assert first["labels"] == {"truth": {"pairs": 525, "positives": 75}}
    for part in ("train_used", "validation_used"):
        assert min(first["split"][part].get(0, 0), first["split"][part].get(1, 0)) >= 5, first["split"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("cdp_match_model", CHAMPION_ALIAS).version) == "1"

    second = run_train(spark, conf, "train-2")
    assert second["validation"]["f1"] == first["validation"]["f1"]
    assert (second["promoted"], second["model_version"], str(second["champion_before"])) == (False, "2", "1")
    assert "does not beat champion v1" in second["promotion_reason"]
    assert str(client.get_model_version_by_alias("cdp_match_model", CHAMPION_ALIAS).version) == "1"
    assert sorted(str(v.version) for v in client.search_model_versions("name='cdp_match_model'")) == ["1", "2"]

    run = client.get_run(first["mlflow_run_id"])
    assert run.data.params["model_type"] == "logistic_regression"
    assert json.loads(run.data.params["blocking_rules"]) == [["surname_city", ["surname_phonetic", "city"]],
                                                             ["first_dob", ["first_phonetic", "dob"]]]
    assert {"val_f1", "val_precision", "val_recall", "val_auc"} <= set(run.data.metrics)
    assert run.data.metrics["val_f1"] == first["validation"]["f1"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"precision_recall.png", "feature_importances.json"} <= artifacts
    assert run.data.tags["promotion_reason"] == "no champion yet"
    assert run.data.tags["promotion"] == "promoted"
    assert client.get_run(second["mlflow_run_id"]).data.tags["promotion"] == "not promoted"

    loaded, reason = load_match_model(conf)
    assert reason is None
    assert (loaded.version, loaded.threshold, loaded.model_type) == ("1", first["threshold"], "logistic_regression")

    # a pinned version that is not registered is an error listing the real ones, never a silent
    # deterministic-only run (that would split every earlier fuzzy merge)
    pinned = conf.model_copy(update={"matching": conf.matching.model_copy(update={"model_version": 7})})
    with pytest.raises(ConfigError, match=r"matching\.model_version: cdp_match_model version 7 is not "
                                          r"registered .*registered versions: \[1, 2\]"):
        load_match_model(pinned)


def test_transitive_threshold_pays_for_chained_links():
    """A threshold low enough to add the b-c link chains {a,b} and {c,d}: the labelled non-match
    a-d then lands in one cluster too, so the cluster-level choice stops above that link."""
    import numpy as np

    from cdp.matching.model import transitive_threshold

    left = np.array(["a", "c", "b", "a"])
    right = np.array(["b", "d", "c", "d"])
    labels = np.array([1, 1, 0, 0])
    scores_ = np.array([0.9, 0.95, 0.8, 0.1])
    chosen = transitive_threshold(left, right, labels, scores_, min_precision=0.99,
                                  thresholds=None)
    assert (chosen.threshold, chosen.precision, chosen.recall) == (0.9, 1.0, 1.0)
    at_chain = transitive_threshold(left, right, labels, scores_, 0.99, thresholds=[0.8])
    assert (at_chain.precision, at_chain.recall) == (0.5, 1.0)


def test_run_train_names_a_missing_truth_file_before_any_work(spark, make_conf, tmp_path):
    """A truth path matching no file fails with the config key and the path, before reading silver."""
    from cdp.matching.train import run_train

    conf = make_conf(matching={"training": {"truth": {"path": str(tmp_path / "absent.csv")}}})
    with pytest.raises(FileNotFoundError, match=r"matching\.training\.truth\.path: .*absent\.csv does not exist"):
        run_train(spark, conf, "r1")


def test_run_train_names_a_wrong_labels_header_before_any_work(spark, make_conf, tmp_path):
    """A labels CSV without the expected columns is a config error naming the file and the columns."""
    from cdp.matching.train import run_train

    (tmp_path / "labels.csv").write_text("left,right,label\na,b,1\n")
    conf = make_conf(matching={"training": {"labels": str(tmp_path / "labels.csv"), "weak_labels": False}})
    with pytest.raises(ConfigError, match=r"labels\.csv \(matching\.training\.labels\): missing column\(s\) "
                                          r"\['left_source', 'left_record_id'"):
        run_train(spark, conf, "r1")
