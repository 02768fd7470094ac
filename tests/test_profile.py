"""Profile and report on small inline tables with exact expected rows."""
from __future__ import annotations

from datetime import datetime, timezone

from pyspark.sql import Row

from cdp.profiles.profile import customer_profile, identity_map, interaction_customer
from cdp.reporting.evaluate import pairwise_scores
from cdp.reporting.report import match_rates

ATTR = ("first_name string, last_name string, full_name string, dob string, gender string, address string, "
        "city string, pincode string, country string, name_key string")
INTERACTIONS = (f"interaction_id string, source string, record_id string, channel string, event_time timestamp, "
                f"event_type string, attributes struct<{ATTR}>, measures map<string,double>")


def _t(day: int) -> datetime:
    return datetime(2024, 3, day, tzinfo=timezone.utc)


def _attrs(name, city, pin):
    return (None, None, name, None, None, None, city, pin, "IN", name.lower() if name else None)


def _interactions(spark):
    return spark.createDataFrame([
        ("pos:1", "pos", "1", "store", _t(1), "purchase", _attrs("Asha Rao", "Pune", "411001"), {"amount": 100.0}),
        ("pos:2", "pos", "2", "store", _t(3), "purchase", _attrs("Asha Rao", "Pune", "411001"), {"amount": 50.5}),
        ("cc:1", "cc", "1", "call_centre", _t(2), "call", _attrs("A Rao", "Mumbai", None), {}),
        ("web:1", "web", "1", "web", _t(4), "page_view", _attrs(None, None, None), {}),
    ], INTERACTIONS)


def _identifiers(spark):
    return spark.createDataFrame([
        ("pos:1", "pos", "phone", "98123 45678", "+919812345678", True, None),
        ("pos:2", "pos", "phone", "09812345678", "+919812345678", True, None),
        ("cc:1", "cc", "phone", "9812345678", "+919812345678", True, None),
        ("cc:1", "cc", "email", "a@x.in", "a@x.in", True, None),
        ("web:1", "web", "cookie_id", "ck1", "ck1", True, None),
    ], "interaction_id string, source string, id_type string, raw_value string, value string, "
       "is_valid boolean, reason string")


def test_profile_tables(spark):
    interactions = _interactions(spark)
    resolved = spark.createDataFrame([("pos:1", "CA"), ("pos:2", "CA"), ("cc:1", "CA"), ("web:1", "CB")],
                                     "interaction_id string, customer_id string")
    id_resolved = spark.createDataFrame([("phone", "+919812345678", "CA"), ("email", "a@x.in", "CA"),
                                         ("cookie_id", "ck1", "CB")], "id_type string, value string, customer_id string")
    ic = interaction_customer(interactions, resolved, "r1")
    assert {(r.interaction_id, r.customer_id) for r in ic.collect()} == {
        ("pos:1", "CA"), ("pos:2", "CA"), ("cc:1", "CA"), ("web:1", "CB")}

    id_map = identity_map(_identifiers(spark), interactions, id_resolved, "r1")
    assert {(r.id_type, r.id_value, r.customer_id, r.first_seen.day, r.last_seen.day, r.interactions)
            for r in id_map.collect()} == {("phone", "+919812345678", "CA", 1, 3, 3), ("email", "a@x.in", "CA", 2, 2, 1),
                                          ("cookie_id", "ck1", "CB", 4, 4, 1)}

    profile = {r.customer_id: r for r in customer_profile(ic, interactions, id_map, ("email", "phone"), "r1").collect()}
    a = profile["CA"]
    assert (a.name, a.primary_email, a.primary_phone, a.city, a.pincode) == (
        "Asha Rao", "a@x.in", "+919812345678", "Pune", "411001")
    assert a.identifiers == {"email": ["a@x.in"], "phone": ["+919812345678"]}
    assert a.channels == ["call_centre", "store"]
    assert a.interactions_per_channel == {"call_centre": 1, "store": 2}
    assert (a.interactions, a.purchases, a.purchase_amount, a.is_known) == (3, 2, 150.5, True)
    assert (a.first_seen.day, a.last_seen.day, a.last_support_contact.day) == (1, 3, 2)
    b = profile["CB"]
    assert (b.name, b.primary_phone, b.is_known, b.purchases, b.purchase_amount, b.last_support_contact) == (
        None, None, False, 0, 0.0, None)

    rates = match_rates(ic, customer_profile(ic, interactions, id_map, ("email", "phone"), "r1"), "channel")
    assert rates == [
        {"channel": "call_centre", "interactions": 1, "known": 1, "match_rate": 1.0},
        {"channel": "store", "interactions": 2, "known": 2, "match_rate": 1.0},
        {"channel": "web", "interactions": 1, "known": 0, "match_rate": 0.0},
    ]


def test_pairwise_scores_from_cluster_sizes(spark):
    truth = spark.createDataFrame([Row(source="s", record_id=str(i), entity_id=e)
                                   for i, e in enumerate(["A", "A", "A", "B", "B", "C"])])
    # predicted: {0,1}, {2,3,4}, {5}: TP pairs = (0,1) + (3,4) = 2; predicted pairs = 1 + 3 = 4; true = 3 + 1 = 4
    predicted = spark.createDataFrame([Row(source="s", record_id=str(i), customer_id=c)
                                       for i, c in enumerate(["X", "X", "Y", "Y", "Y", "Z"])])
    s = pairwise_scores(predicted, truth)
    assert (s["true_positive_pairs"], s["predicted_pairs"], s["true_pairs"]) == (2, 4, 4)
    assert (s["pairwise_precision"], s["pairwise_recall"], s["coverage"]) == (0.5, 0.5, 1.0)
