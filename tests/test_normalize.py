"""Column-level normalisers: one small frame per function, exact expected values."""
from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from cdp.config import StandardizeConfig
from cdp.standardize.normalize import (
    apply_placeholders, clean_display_name, fold_name, normalize_dob, normalize_email,
    normalize_generic_id, normalize_identifier, normalize_phone, normalize_pincode, null_if_token,
    parse_amount, parse_event_time, phone_to_e164,
)

STD = StandardizeConfig()
UTC = dt.timezone.utc


def _one_col(spark, values):
    return spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")


def _apply(spark, values, fn):
    """[(input, output)] for fn applied to a one-column frame of values."""
    df = _one_col(spark, values).select("i", "v", fn(F.col("v")).alias("out"))
    return df


def _expect(spark, pairs, out_type):
    return spark.createDataFrame(
        [(i, v, out) for i, (v, out) in enumerate(pairs)], f"i int, v string, out {out_type}"
    )


ID_TYPE = "struct<value:string,is_valid:boolean,reason:string>"


def test_null_if_token(spark):
    pairs = [
        ("null", None), ("NULL", None), ("nan", None), ("NA", None), ("None", None), ("-", None),
        ("", None), ("   ", None), ("n/a", None), (None, None),
        ("  Asha ", "Asha"), ("\u00a0x\t", "x"), ("nana", "nana"),
    ]
    got = _apply(spark, [p[0] for p in pairs], lambda c: null_if_token(c, STD.null_tokens))
    assertDataFrameEqual(got, _expect(spark, pairs, "string"))


PHONE_CASES = [
    ("9112345678", ("+919112345678", True, None)),
    ("+91 91123 45678", ("+919112345678", True, None)),
    ("919812345678", ("+919812345678", True, None)),  # also a WhatsApp sender id
    ("09812345678", ("+919812345678", True, None)),
    ("00919812345678", ("+919812345678", True, None)),
    ("0091 98123 45678", ("+919812345678", True, None)),
    ("9812345678.0", ("+919812345678", True, None)),
    (" 9812345678 ", ("+919812345678", True, None)),
    ("9.812345678E9", ("+919812345678", True, None)),
    ("9.19812345678E+11", ("+919812345678", True, None)),
    ("022 2345 6789", ("+912223456789", True, None)),
    ("88097679", ("88097679", False, "invalid_phone")),
    ("+9198123456789", ("+9198123456789", False, "invalid_phone")),
    ("9.81235E+09", ("9.81235E+09", False, "lossy_scientific")),
    ("9.8123456789E8", ("9.8123456789E8", False, "invalid_phone")),  # not an integer
    ("call me", ("call me", False, "invalid_phone")),
    (None, (None, False, "null_like")),
]


def test_normalize_phone(spark):
    got = _apply(spark, [p[0] for p in PHONE_CASES], lambda c: normalize_phone(c, "IN"))
    assertDataFrameEqual(got, _expect(spark, PHONE_CASES, ID_TYPE))


def test_phone_to_e164_plain_python():
    for raw, expected in PHONE_CASES:
        assert phone_to_e164(raw, "IN") == expected, raw


def test_normalize_email(spark):
    pairs = [
        (" Asha.Rao@Gmail.com ", ("asharao@gmail.com", True, None)),
        ("asharao+promo@gmail.com", ("asharao@gmail.com", True, None)),
        ("asha.rao@googlemail.com", ("asharao@gmail.com", True, None)),
        ("Asha.Rao@acme.co.in", ("asha.rao@acme.co.in", True, None)),
        ("asha.rao+orders@acme.co.in", ("asha.rao+orders@acme.co.in", True, None)),
        ("asha.rao@", ("asha.rao@", False, "invalid_email")),
        ("asha rao@acme.com", ("asha rao@acme.com", False, "invalid_email")),
        ("asha..rao@acme.com", ("asha..rao@acme.com", False, "invalid_email")),
        ("a@b@acme.com", ("a@b@acme.com", False, "invalid_email")),
        ("asha@acme", ("asha@acme", False, "invalid_email")),
        ("+promo@gmail.com", ("+promo@gmail.com", False, "invalid_email")),
        (None, (None, False, "null_like")),
    ]
    got = _apply(spark, [p[0] for p in pairs], normalize_email)
    assertDataFrameEqual(got, _expect(spark, pairs, ID_TYPE))


def test_normalize_generic_id(spark):
    pairs = [
        ("  LOY 0042  ", ("LOY 0042", True, None)),
        ("cust\t \t77", ("cust 77", True, None)),  # case kept, inner white space collapsed
        ("abc-DEF", ("abc-DEF", True, None)),
        ("   ", (None, False, "null_like")),
    ]
    got = _apply(spark, [p[0] for p in pairs], normalize_generic_id)
    assertDataFrameEqual(got, _expect(spark, pairs, ID_TYPE))


def test_placeholders(spark):
    rows = [
        ("phone", "9999999999", ("+919999999999", False, "placeholder")),
        ("phone", "+91 99999 99999", ("+919999999999", False, "placeholder")),
        ("phone", "9876543210", ("+919876543210", False, "placeholder")),
        ("phone", "0000000000", ("0000000000", False, "placeholder")),
        ("phone", "8888888888", ("+918888888888", False, "placeholder")),  # pattern
        ("phone", "9812345678", ("+919812345678", True, None)),
        ("email", "unknown@example.com", ("unknown@example.com", False, "placeholder")),
        ("email", "TEST@test.com", ("test@test.com", False, "placeholder")),
        ("email", "x@mailinator.com", ("x@mailinator.com", False, "placeholder")),
        ("email", "asha@acme.com", ("asha@acme.com", True, None)),
        ("loyalty_id", "9999999999", ("9999999999", True, None)),  # no placeholders configured
    ]
    df = spark.createDataFrame([(i, t, v) for i, (t, v, _) in enumerate(rows)], "i int, t string, v string")
    out = F.lit(None).cast(ID_TYPE)
    for t in ("phone", "email", "loyalty_id"):
        out = F.when(F.col("t") == t, normalize_identifier(F.col("v"), t, STD)).otherwise(out)
    got = df.select("i", "t", "v", out.alias("out"))
    expected = spark.createDataFrame(
        [(i, t, v, o) for i, (t, v, o) in enumerate(rows)], f"i int, t string, v string, out {ID_TYPE}"
    )
    assertDataFrameEqual(got, expected)


def test_apply_placeholders_custom_config(spark):
    std = StandardizeConfig(placeholder_values={"device_id": ("UNKNOWN",)},
                            placeholder_patterns={"device_id": (r"^0+$",)})
    pairs = [
        ("UNKNOWN", ("UNKNOWN", False, "placeholder")),
        ("000000", ("000000", False, "placeholder")),
        ("dev-1", ("dev-1", True, None)),
    ]
    got = _apply(spark, [p[0] for p in pairs],
                 lambda c: apply_placeholders(normalize_generic_id(c), "device_id", std))
    assertDataFrameEqual(got, _expect(spark, pairs, ID_TYPE))


def test_fold_name_and_display_name(spark):
    rows = [
        (" Smt. LAKSHMI  Devi ", "lakshmi devi", "LAKSHMI Devi"),
        ("Dr. R. Sharma", "r sharma", "R. Sharma"),
        ("Mr.Anil Kumar", "anil kumar", "Anil Kumar"),
        ("shri  Dr Ravi D'Souza", "ravi d souza", "Ravi D'Souza"),
        ("Kumari Priya-Nair", "priya nair", "Priya-Nair"),
        ("Srinivas Rao", "srinivas rao", "Srinivas Rao"),  # 'Sri' only as a whole word
        ("Prof Meera, Iyer", "meera iyer", "Meera, Iyer"),
        ("Jose\u0301 Alvares", "jos\u00e9 alvares", "Jos\u00e9 Alvares"),  # NFC
        ("Mrs. ", None, None),
        (None, None, None),
    ]
    df = spark.createDataFrame([(i, v) for i, (v, _, _) in enumerate(rows)], "i int, v string")
    got = df.select("i", "v", fold_name(F.col("v")).alias("key"), clean_display_name(F.col("v")).alias("disp"))
    expected = spark.createDataFrame(list((i, *r) for i, r in enumerate(rows)),
                                     "i int, v string, key string, disp string")
    assertDataFrameEqual(got, expected)


def test_normalize_pincode(spark):
    pairs_in = [("560 001", "560001"), ("560001", "560001"), ("560001.0", "560001"),
                ("11001", None), ("060001", None), ("5600011", None), ("abc", None), (None, None)]
    got = _apply(spark, [p[0] for p in pairs_in], lambda c: normalize_pincode(c, "IN"))
    assertDataFrameEqual(got, _expect(spark, pairs_in, "string"))
    pairs_gb = [(" sw1a 1aa ", "SW1A1AA"), ("94105", "94105"), (" - ", None)]
    got = _apply(spark, [p[0] for p in pairs_gb], lambda c: normalize_pincode(c, "GB"))
    assertDataFrameEqual(got, _expect(spark, pairs_gb, "string"))


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_normalize_dob(spark, ansi):
    pairs = [
        ("1990-05-12", "1990-05-12"), ("12/05/1990", "1990-05-12"), ("12-05-1990", "1990-05-12"),
        ("1990/05/12", "1990-05-12"), ("12.05.1990", "1990-05-12"), ("2/5/1990", "1990-05-02"),
        (" 1990-05-12 00:00:00 ", "1990-05-12"), ("1990-05-12T00:00:00Z", "1990-05-12"),
        ("31/02/1990", None), ("1990-13-01", None), ("12/05/90", None), ("not a date", None),
        ("1850-01-01", None), ("2999-01-01", None), (None, None),
    ]
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        got = _apply(spark, [p[0] for p in pairs], normalize_dob)
        assertDataFrameEqual(got, _expect(spark, pairs, "string"))
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "false")


def test_parse_amount(spark):
    pairs = [("₹1,299.50", 1299.5), ("Rs. 450", 450.0), ("Rs 450", 450.0), ("INR 12,000", 12000.0),
             ("INR12000", 12000.0), ("  -20.5 ", -20.5), ("1e3", 1000.0), ("abc", None),
             ("NaN", None), ("", None), ("1.2.3", None), (None, None)]
    got = _apply(spark, [p[0] for p in pairs], parse_amount)
    assertDataFrameEqual(got, _expect(spark, pairs, "double"))


def _ts(*args):
    return dt.datetime(*args, tzinfo=UTC)


EVENT_TIME_CASES = [
    # (raw, fmt, timezone, expected instant)
    ("2024-03-31 23:30:00", "yyyy-MM-dd HH:mm:ss", "Asia/Kolkata", _ts(2024, 3, 31, 18, 0)),
    ("31/03/2024 23:30", "dd/MM/yyyy HH:mm", "Asia/Kolkata", _ts(2024, 3, 31, 18, 0)),
    ("2024-03-10 02:30:00", "yyyy-MM-dd HH:mm:ss", "America/New_York", _ts(2024, 3, 10, 7, 30)),
    ("2024-03-31 23:30:00 +0100", "yyyy-MM-dd HH:mm:ss Z", "Asia/Kolkata", _ts(2024, 3, 31, 22, 30)),
    ("2024-03-31T20:00:00Z", "iso8601", "Asia/Kolkata", _ts(2024, 3, 31, 20, 0)),
    ("2024-03-31T20:00:00.250Z", "iso8601", "Asia/Kolkata", _ts(2024, 3, 31, 20, 0, 0, 250000)),
    ("2024-03-31T20:00:00+05:30", "iso8601", "UTC", _ts(2024, 3, 31, 14, 30)),
    ("2024-03-31T23:30:00", "iso8601", "Asia/Kolkata", _ts(2024, 3, 31, 18, 0)),
    ("2024-04-01", "iso8601", "Asia/Kolkata", _ts(2024, 3, 31, 18, 30)),
    ("1711909800000", "epoch_ms", "Asia/Kolkata", _ts(2024, 3, 31, 18, 30)),
    ("1711909800", "epoch_s", "Asia/Kolkata", _ts(2024, 3, 31, 18, 30)),
    ("1711909800.5", "epoch_s", "Asia/Kolkata", _ts(2024, 3, 31, 18, 30, 0, 500000)),
    ("yesterday", "yyyy-MM-dd HH:mm:ss", "Asia/Kolkata", None),
    ("2024-02-30 10:00:00", "yyyy-MM-dd HH:mm:ss", "Asia/Kolkata", None),
    ("yesterday", "iso8601", "Asia/Kolkata", None),
    ("yesterday", "epoch_ms", "Asia/Kolkata", None),
    ("99999999999999999999", "epoch_s", "Asia/Kolkata", None),
    (None, "iso8601", "Asia/Kolkata", None),
]


@pytest.mark.parametrize("session_tz", ["UTC", "America/Los_Angeles"])
@pytest.mark.parametrize("ansi", ["false", "true"])
def test_parse_event_time_independent_of_session_zone(spark, session_tz, ansi):
    df = spark.createDataFrame([(i, c[0]) for i, c in enumerate(EVENT_TIME_CASES)], "i int, v string")
    cols = [
        F.when(F.col("i") == i, parse_event_time(F.col("v"), fmt, tz))
        for i, (_, fmt, tz, _) in enumerate(EVENT_TIME_CASES)
    ]
    # compare as epoch microseconds: no session-zone rendering on either side
    expected = [
        (i, None if want is None else int(want.timestamp() * 1_000_000))
        for i, (_, _, _, want) in enumerate(EVENT_TIME_CASES)
    ]
    spark.conf.set("spark.sql.session.timeZone", session_tz)
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        got = df.select("i", F.unix_micros(F.coalesce(*cols)).alias("micros"))
        assertDataFrameEqual(got, spark.createDataFrame(expected, "i int, micros bigint"))
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        spark.conf.set("spark.sql.ansi.enabled", "false")


@pytest.mark.parametrize("id_type", ["email", "phone"])
def test_normalisers_compile_within_the_generated_code_limit(spark, id_type):
    """With codegen fallback off, an expression past Janino's 64 KB method limit fails the
    query instead of logging an error and running slower code."""
    raw = F.concat(F.lit(" A.Rao"), F.col("id").cast("string"), F.lit("@Gmail.com "))  # not a local relation
    norm = normalize_identifier(null_if_token(raw, STD.null_tokens), id_type, STD)
    spark.conf.set("spark.sql.codegen.fallback", "false")
    try:
        valid = spark.range(3).select(norm.alias("n")).where("n.is_valid").select("n.value")
        expected = [("arao0@gmail.com",), ("arao1@gmail.com",), ("arao2@gmail.com",)] if id_type == "email" else []
        assert sorted(tuple(r) for r in valid.collect()) == expected
    finally:
        spark.conf.unset("spark.sql.codegen.fallback")
