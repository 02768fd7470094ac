"""The seeded sample generator: deterministic, complete truth, and the promised noise."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from cdp.config import config_from_dict
from cdp.sample.generator import SOURCE_FORMAT, SOURCES, NoiseConfig, build_sources, generate_sample

PERSONS = 200
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    summary = generate_sample(spark, str(out), persons=PERSONS, seed=42)
    return out, summary


def _read(spark, out: Path, source: str):
    path = str(out / "landing" / source)
    fmt = SOURCE_FORMAT[source]
    if fmt == "csv":
        return spark.read.option("header", True).csv(path)
    if fmt == "json":
        return spark.read.json(path)
    return spark.read.parquet(path)


def _sorted_rows(df):
    return sorted(tuple(str(v) for v in r) for r in df.collect())


def test_summary_has_every_source(sample):
    _, summary = sample
    assert set(summary) == set(SOURCES)
    assert all(summary[s] > 0 for s in SOURCES)
    # ~14 rows per person
    assert 8 * PERSONS < sum(summary.values()) < 20 * PERSONS


def test_same_seed_same_output_regardless_of_partitioning(spark, sample, tmp_path):
    out, summary = sample
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        again = generate_sample(spark, str(tmp_path / "again"), persons=PERSONS, seed=42, partitions=3)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert again == summary
    for source in ("pos", "web", "orders"):
        a = _read(spark, out, source)
        b = _read(spark, tmp_path / "again", source).select(*a.columns)
        assert _sorted_rows(a) == _sorted_rows(b), source
    t1 = spark.read.option("header", True).csv(str(out / "truth" / "truth.csv"))
    t2 = spark.read.option("header", True).csv(str(tmp_path / "again" / "truth" / "truth.csv"))
    assert _sorted_rows(t1) == _sorted_rows(t2)


def test_repartitioned_frame_is_identical(spark):
    a = build_sources(spark, persons=PERSONS, seed=42)["pos"]
    b = build_sources(spark, persons=PERSONS, seed=42, partitions=5)["pos"].repartition(3)
    assert _sorted_rows(a) == _sorted_rows(b)


def test_different_seed_different_output(spark, sample):
    out, _ = sample
    a = _read(spark, out, "pos")
    b = build_sources(spark, persons=PERSONS, seed=7)["pos"].select(*a.columns)
    assert _sorted_rows(a) != _sorted_rows(b)


def test_truth_covers_every_row_once(spark, sample):
    out, summary = sample
    truth = spark.read.option("header", True).csv(str(out / "truth" / "truth.csv"))
    assert truth.columns == ["source", "record_id", "person_id"]
    assert (out / "truth" / "truth.csv").is_file()
    assert truth.count() == sum(summary.values())
    assert truth.select("source", "record_id").distinct().count() == truth.count()
    assert {r[0] for r in truth.select("source").distinct().collect()} == set(SOURCES)
    for source in SOURCES:
        assert _read(spark, out, source).count() == summary[source], source
    assert truth.filter(~F.col("person_id").rlike(r"^P\d{6}$")).count() == 0


def test_identifiers_are_unique_per_person(spark, sample):
    out, _ = sample
    persons = spark.read.option("header", True).csv(str(out / "truth" / "persons"))
    assert persons.count() == PERSONS
    for col in ("mobile", "email", "loyalty_card", "crm_customer_id"):
        vals = persons.filter(F.col(col).isNotNull())
        assert vals.count() == vals.select(col).distinct().count(), col
    assert persons.filter(~F.col("mobile").rlike(r"^[6-9]\d{9}$")).count() == 0
    assert persons.filter(~F.col("pincode").rlike(r"^\d{6}$")).count() == 0


def test_noise_is_present(spark, sample):
    out, _ = sample
    pos = _read(spark, out, "pos")
    assert pos.filter(F.col("CustMobile").isin("9999999999", "0000000000", "1234567890")).count() > 0
    assert pos.filter(F.col("CustName").rlike(r"^(Mr|Mrs|Smt|Shri|Sri|Ms|Kumari)\.? ")).count() > 0
    wa = _read(spark, out, "whatsapp")
    assert wa.filter(F.col("sender_id").rlike(r"^91[6-9]\d{9}$")).count() == wa.count() > 0
    web = _read(spark, out, "web")
    anon = web.filter(F.col("login").isNull()).count() / web.count()
    assert 0.25 < anon < 0.55
    # phone / pincode columns stay strings with leading zeros intact
    cc = _read(spark, out, "call_centre")
    assert cc.filter(F.col("CallerNumber").startswith("0")).count() > 0
    assert dict(_read(spark, out, "orders").dtypes)["ShippingPincode"] == "string"


def test_noise_knobs_take_effect(spark):
    quiet = NoiseConfig(placeholder_phone_rate=0.0, honorific_rate=0.0)
    pos = build_sources(spark, persons=PERSONS, seed=42, noise=quiet)["pos"]
    assert pos.filter(F.col("CustMobile").isin("9999999999", "0000000000", "1234567890")).count() == 0
    assert pos.filter(F.col("CustName").rlike(r"^(Mr|Mrs|Smt|Shri|Sri|Ms|Kumari)\.? ")).count() == 0


def test_sample_yaml_loads_and_matches_generator():
    raw = yaml.safe_load((REPO / "conf" / "sources" / "sample.yaml").read_text())
    cfg = config_from_dict({"sources": raw}, base_dir=str(REPO / "conf"))
    assert [s.name for s in cfg.sources] == list(SOURCES)
    for s in cfg.sources:
        assert s.path.startswith(f"../sample_data/landing/{s.name}/*.")
