"""standardize_source / standardize_all on small inline bronze frames, exact expected rows."""
from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from cdp.config import EventTimeConfig, EventTypeConfig, SourceConfig, StandardizeConfig
from cdp.standardize.standardize import (
    IDENTIFIERS_SCHEMA, INTERACTIONS_SCHEMA, check_columns, standardize_all, standardize_source,
)

STD = StandardizeConfig()
UTC = dt.timezone.utc
INGESTED = dt.datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
META = "_source string, _record_id string, _file string, _ingested_at timestamp, _run_id string, _row_hash string"

POS = SourceConfig(
    name="pos", channel="store", format="csv", path="pos.csv", record_id="txn_id",
    event_time=EventTimeConfig(column="ts", format="yyyy-MM-dd HH:mm:ss"),
    event_type=EventTypeConfig(value="purchase"),
    identifiers={"phone": "mobile", "email": "email", "loyalty_id": "loyalty"},
    attributes={"first_name": "first", "last_name": "last", "city": "city", "pincode": "pin",
                "dob": "dob", "gender": "gender"},
    measures={"amount": "amt", "items": "qty"},
)

APP = SourceConfig(
    name="app", channel="app", format="json", path="app/", record_id="event_id",
    event_time=EventTimeConfig(column="meta.ts", format="epoch_ms"),
    event_type=EventTypeConfig(column="evt"),
    identifiers={"phone": "login.mobile", "device_id": "login.device"},
    attributes={"full_name": "name", "country": "meta.country"},
    country="GB",
)


def _meta(source: str, rid: str) -> tuple:
    return (source, rid, f"{source}.file", INGESTED, "run-1", f"h{rid}")


@pytest.fixture
def pos_bronze(spark):
    rows = [
        (" Smt. LAKSHMI ", "Devi", "09812345678", " Asha.Rao@Gmail.com ", " L-1 ",
         "2024-03-31 23:30:00", "₹1,299.50", "2", " new  delhi ", "560 001", "12/05/1990", " F ",
         *_meta("pos", "1")),
        ("null", "NA", "  ", "NULL", None, "garbage", "abc", None, None, "11001", "x", None,
         *_meta("pos", "2")),
    ]
    schema = ("first string, last string, mobile string, email string, loyalty string, ts string, "
              "amt string, qty string, city string, pin string, dob string, gender string, " + META)
    return spark.createDataFrame(rows, schema)


@pytest.fixture
def app_bronze(spark):
    rows = [
        ("Dr. R. Sharma", ("919812345678", "dev-9"), ("1711909800000", None), "login", *_meta("app", "a1")),
    ]
    schema = ("name string, login struct<mobile:string,device:string>, "
              "meta struct<ts:string,country:string>, evt string, " + META)
    return spark.createDataFrame(rows, schema)


def _attrs(first=None, last=None, full=None, dob=None, gender=None, address=None, city=None,
           pincode=None, country=None, name_key=None) -> tuple:
    return (first, last, full, dob, gender, address, city, pincode, country, name_key)


def _simple(schema) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def test_standardize_source_exact_rows(spark, pos_bronze):
    interactions, identifiers = standardize_source(pos_bronze, POS, STD)
    assert _simple(interactions.schema) == _simple(INTERACTIONS_SCHEMA)
    assert _simple(identifiers.schema) == _simple(IDENTIFIERS_SCHEMA)
    expected_interactions = spark.createDataFrame([
        ("pos:1", "pos", "1", "store", dt.datetime(2024, 3, 31, 18, 0, tzinfo=UTC), "2024-03-31 23:30:00", None,
         "purchase",
         _attrs("LAKSHMI", "Devi", "LAKSHMI Devi", "1990-05-12", "F", None, "New Delhi", "560001", "IN",
                "lakshmi devi"),
         {"amount": 1299.5, "items": 2.0}, "run-1", INGESTED),
        ("pos:2", "pos", "2", "store", None, "garbage", "unparseable", "purchase",
         _attrs(country="IN"), {}, "run-1", INGESTED),
    ], INTERACTIONS_SCHEMA)
    assertDataFrameEqual(interactions, expected_interactions)
    expected_identifiers = spark.createDataFrame([
        ("pos:1", "pos", "phone", "09812345678", "+919812345678", True, None),
        ("pos:1", "pos", "email", " Asha.Rao@Gmail.com ", "asharao@gmail.com", True, None),
        ("pos:1", "pos", "loyalty_id", " L-1 ", "L-1", True, None),
        # '  ' (phone) and None (loyalty) give no row; 'NULL' is a null-like token and does
        ("pos:2", "pos", "email", "NULL", None, False, "null_like"),
    ], IDENTIFIERS_SCHEMA)
    assertDataFrameEqual(identifiers, expected_identifiers)


def test_standardize_source_nested_paths_and_defaults(spark, app_bronze):
    interactions, identifiers = standardize_source(app_bronze, APP, STD)
    assertDataFrameEqual(interactions, spark.createDataFrame([
        ("app:a1", "app", "a1", "app", dt.datetime(2024, 3, 31, 18, 30, tzinfo=UTC), "1711909800000", None,
         "login", _attrs(full="R. Sharma", country="GB", name_key="r sharma"), {}, "run-1", INGESTED),
    ], INTERACTIONS_SCHEMA))
    assertDataFrameEqual(identifiers, spark.createDataFrame([
        ("app:a1", "app", "phone", "919812345678", "+919812345678", True, None),
        ("app:a1", "app", "device_id", "dev-9", "dev-9", True, None),
    ], IDENTIFIERS_SCHEMA))


def test_minimal_source_has_empty_measures_and_no_identifiers(spark):
    src = SourceConfig(name="crm", channel="crm", format="csv", path="c.csv", record_id="id",
                       attributes={"first_name": "fn"})
    bronze = spark.createDataFrame([("asha", *_meta("crm", "7"))], "fn string, " + META)
    interactions, identifiers = standardize_source(bronze, src, STD)
    assertDataFrameEqual(interactions, spark.createDataFrame([
        ("crm:7", "crm", "7", "crm", None, None, None, None,
         _attrs("asha", full="asha", country="IN", name_key="asha"), {}, "run-1", INGESTED),
    ], INTERACTIONS_SCHEMA))
    assert identifiers.isEmpty()
    assert _simple(identifiers.schema) == _simple(IDENTIFIERS_SCHEMA)


def test_placeholders_and_null_tokens_produce_no_valid_identifier(spark):
    """Five records that share only junk values: nothing valid, so nothing can link them."""
    src = SourceConfig(name="web", channel="web", format="csv", path="w.csv", record_id="id",
                       identifiers={"phone": "ph", "email": "em", "loyalty_id": "loy"})
    rows = [
        ("9999999999", "unknown@example.com", "null", *_meta("web", "1")),
        ("null", "unknown@example.com", "NULL", *_meta("web", "2")),
        ("NULL", "NULL", "nan", *_meta("web", "3")),
        ("nan", "nan", "null", *_meta("web", "4")),
        ("9999999999", "null", "NULL", *_meta("web", "5")),
    ]
    bronze = spark.createDataFrame(rows, "ph string, em string, loy string, " + META)
    _, identifiers = standardize_source(bronze, src, StandardizeConfig())
    assert identifiers.count() == 15
    assert identifiers.where(F.col("is_valid")).isEmpty()
    got = identifiers.select("id_type", "raw_value", "value", "is_valid", "reason").distinct()
    assertDataFrameEqual(got, spark.createDataFrame([
        ("phone", "9999999999", "+919999999999", False, "placeholder"),
        ("phone", "null", None, False, "null_like"),
        ("phone", "NULL", None, False, "null_like"),
        ("phone", "nan", None, False, "null_like"),
        ("email", "unknown@example.com", "unknown@example.com", False, "placeholder"),
        ("email", "NULL", None, False, "null_like"),
        ("email", "nan", None, False, "null_like"),
        ("email", "null", None, False, "null_like"),
        ("loyalty_id", "null", None, False, "null_like"),
        ("loyalty_id", "NULL", None, False, "null_like"),
        ("loyalty_id", "nan", None, False, "null_like"),
    ], "id_type string, raw_value string, value string, is_valid boolean, reason string"))


def test_standardize_all_unions_sources(spark, pos_bronze, app_bronze):
    interactions, identifiers = standardize_all({"pos": pos_bronze, "app": app_bronze}, [POS, APP], STD)
    assert _simple(interactions.schema) == _simple(INTERACTIONS_SCHEMA)
    got = interactions.select("interaction_id", "channel", "attributes.name_key")
    assertDataFrameEqual(got, spark.createDataFrame(
        [("pos:1", "store", "lakshmi devi"), ("pos:2", "store", None), ("app:a1", "app", "r sharma")],
        "interaction_id string, channel string, name_key string"))
    got = identifiers.where("is_valid and id_type = 'phone'").select("interaction_id", "value")
    assertDataFrameEqual(got, spark.createDataFrame(
        [("pos:1", "+919812345678"), ("app:a1", "+919812345678")], "interaction_id string, value string"))
    with pytest.raises(ValueError, match="unconfigured source"):
        standardize_all({"nope": pos_bronze}, [POS], STD)


def test_check_columns(pos_bronze, app_bronze):
    check_columns(pos_bronze.schema, POS)
    check_columns(app_bronze, APP)  # dotted paths into structs
    bad = POS.model_copy(update={"identifiers": {"phone": "phone_no", "email": "email"}})
    with pytest.raises(ValueError) as err:
        check_columns(pos_bronze.schema, bad)
    msg = str(err.value)
    assert "'pos'" in msg and "identifiers.phone" in msg and "'phone_no'" in msg
    assert "available columns" in msg and "'mobile'" in msg
    nested_bad = APP.model_copy(update={"attributes": {"country": "meta.nation"}})
    with pytest.raises(ValueError, match=r"attributes\.country.*login\.mobile"):
        check_columns(app_bronze.schema, nested_bad)
    with pytest.raises(ValueError, match="event_time.column"):
        standardize_source(pos_bronze.drop("ts"), POS, STD)
