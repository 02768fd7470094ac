"""Landing: strings only, quarantine with reasons, counts add up, relanding adds nothing."""
from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from cdp.config import ConfigError
from cdp.constants import bronze_table, quarantine_table
from cdp.landing.land import run_land, validate_sources
from cdp.tables import read_table


def _pos_source(path: str) -> dict:
    return {
        "name": "pos", "channel": "store", "format": "csv", "path": path, "record_id": "TxnNo",
        "identifiers": {"phone": "CustMobile"}, "attributes": {"pincode": "Pin"},
    }


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_csv_lands_strings_and_quarantines_bad_rows(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv",
           b"TxnNo,CustMobile,Pin\n"
           b"T1,09812345678,011001\n"
           b"T2,9812345678\n"            # too few columns
           b"T3,1,2,extra\n"              # too many columns
           b"T4,98\xe9,560001\n"          # latin-1 byte in a UTF-8 file
           b",9812345670,560001\n"        # no record id
           b"T6,9812345671,560002\n")
    conf = make_conf(sources=[_pos_source("in/pos/*.csv")])
    [stats] = run_land(spark, conf, "r1")

    bronze = read_table(spark, conf, bronze_table("pos"))
    assert {(r.TxnNo, r.CustMobile, r.Pin) for r in bronze.collect()} == {
        ("T1", "09812345678", "011001"), ("T6", "9812345671", "560002")}
    assert dict(bronze.dtypes)["CustMobile"] == "string"
    reasons = sorted(r.reason for r in read_table(spark, conf, quarantine_table("pos")).collect())
    assert reasons == ["malformed_row: expected 3 columns, got 2", "malformed_row: expected 3 columns, got 4",
                       "missing_record_id:TxnNo",
                       "undecodable_bytes: column CustMobile (the file is not UTF-8; set options.encoding, e.g. ISO-8859-1)"]
    assert (stats.input_rows, stats.landed_rows, stats.quarantined_rows) == (6, 2, 4)
    assert stats.input_rows == stats.landed_rows + stats.quarantined_rows


def test_relanding_the_same_files_adds_nothing(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"TxnNo,CustMobile,Pin\nT1,1,110001\nT2,2,110002\nT2,2,110002\nbad\n")
    conf = make_conf(sources=[_pos_source("in/pos/*.csv")])
    [first] = run_land(spark, conf, "r1")
    assert first.duplicate_record_ids == 1
    before = read_table(spark, conf, bronze_table("pos")).drop("_ingested_at", "_run_id").collect()
    q_before = read_table(spark, conf, quarantine_table("pos")).count()
    version = DeltaTable.forPath(spark, conf.table_path(bronze_table("pos"))).history(1).first()["version"]
    [stats] = run_land(spark, conf, "r2")
    after = read_table(spark, conf, bronze_table("pos")).drop("_ingested_at", "_run_id").collect()
    assert sorted(map(tuple, before)) == sorted(map(tuple, after))
    assert len(after) == 2
    # the ledger knows the file: nothing is read and no table gets a new version
    assert (stats.input_rows, stats.files, stats.new_files, stats.unchanged_files) == (0, 0, 0, 1)
    assert DeltaTable.forPath(spark, conf.table_path(bronze_table("pos"))).history(1).first()["version"] == version
    assert read_table(spark, conf, quarantine_table("pos")).count() == q_before == 1


def test_json_nested_paths_and_broken_line(spark, make_conf, tmp_path):
    _write(tmp_path / "in/web/a.jsonl",
           b'{"id": "W1", "login": {"mobile": "09812345678"}, "n": 1.50}\n'
           b'{"id": "W2", "login": {"mobile": null}}\n'
           b'{"id": "W3", "login": {"mob\n')
    conf = make_conf(sources=[{"name": "web", "channel": "web", "format": "jsonl", "path": "in/web/*.jsonl",
                               "record_id": "id", "identifiers": {"phone": "login.mobile"}}])
    [stats] = run_land(spark, conf, "r1")
    bronze = read_table(spark, conf, bronze_table("web"))
    rows = {r.id: (r.login.mobile if r.login else None, r.n) for r in bronze.collect()}
    assert rows == {"W1": ("09812345678", "1.50"), "W2": (None, None)}
    assert (stats.input_rows, stats.landed_rows, stats.quarantined_rows) == (3, 2, 1)


def test_missing_path_and_missing_column_fail_before_any_write(spark, make_conf, tmp_path):
    conf = make_conf(sources=[_pos_source("in/nothing/*.csv")])
    with pytest.raises(ConfigError, match=r"source 'pos': path 'in/nothing/\*.csv'.*matches no file"):
        validate_sources(spark, conf)

    _write(tmp_path / "in/pos/a.csv", b"TxnNo,Mobile,Pin\nT1,1,110001\n")
    conf = make_conf(sources=[_pos_source("in/pos/*.csv")])
    with pytest.raises(ConfigError, match=r"source 'pos': .*identifiers.phone -> 'CustMobile'; available columns: \['TxnNo', 'Mobile', 'Pin'\]"):
        run_land(spark, conf, "r1")
    assert not (tmp_path / "warehouse").exists()


def test_parquet_values_become_strings(spark, make_conf, tmp_path):
    df = spark.createDataFrame([("O1", 9812345678, 12.5)], "OrderID string, phone long, amount double")
    df.write.parquet(str(tmp_path / "in/orders"))
    conf = make_conf(sources=[{"name": "orders", "channel": "ecommerce", "format": "parquet",
                               "path": "in/orders", "record_id": "OrderID", "identifiers": {"phone": "phone"}}])
    run_land(spark, conf, "r1")
    bronze = read_table(spark, conf, bronze_table("orders"))
    assert dict(bronze.dtypes)["phone"] == "string"
    assert bronze.select(F.col("phone"), F.col("amount")).first() == ("9812345678", "12.5")


def test_column_names_with_spaces_land_and_standardize(spark, make_conf, tmp_path):
    from cdp.standardize.stage import run_standardize

    _write(tmp_path / "in/pos/a.csv", b"TxnNo,Cust Mobile,Pin\nT1,09812345678,411001\n")
    source = _pos_source("in/pos/*.csv") | {"identifiers": {"phone": "Cust Mobile"}}
    conf = make_conf(sources=[source])
    [stats] = run_land(spark, conf, "r1")
    assert stats.landed_rows == 1
    run_standardize(spark, conf, "r1")
    ids = read_table(spark, conf, "silver/identifiers").select("id_type", "value").collect()
    assert [tuple(r) for r in ids] == [("phone", "+919812345678")]


def test_bad_event_time_pattern_and_empty_source_fail_before_any_write(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"TxnNo,CustMobile,Pin,When\nT1,1,110001,x\n")
    source = _pos_source("in/pos/*.csv") | {"event_time": {"column": "When", "format": "qqqq-ZZ-bogus%%"}}
    with pytest.raises(ConfigError, match=r"source 'pos': event_time.format 'qqqq-ZZ-bogus%%' is not a valid"):
        run_land(spark, make_conf(sources=[source]), "r1")

    _write(tmp_path / "in/empty/a.csv", b"")
    with pytest.raises(ConfigError, match=r"source 'pos': every file matching 'in/empty/\*\.csv' is empty"):
        run_land(spark, make_conf(sources=[_pos_source("in/empty/*.csv")]), "r1")
    assert not (tmp_path / "warehouse").exists()
