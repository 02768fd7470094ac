"""Incremental landing: the file ledger, new files add only their rows, the latest event wins."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdp.config import ConfigError
from cdp.constants import META_FILE_LEDGER, bronze_table
from cdp.landing.land import run_land
from cdp.landing.ledger import ledger_fingerprint
from cdp.tables import read_table


def _source(path: str) -> dict:
    return {"name": "pos", "channel": "store", "format": "csv", "path": path, "record_id": "TxnNo",
            "identifiers": {"phone": "Mobile"}, "event_time": {"column": "When", "format": "iso8601"}}


def _write(path: Path, text: str, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _bronze(spark, conf) -> set[tuple]:
    return {(r.TxnNo, r.Mobile, r.When, Path(r._file.removeprefix("file:")).name)
            for r in read_table(spark, conf, bronze_table("pos")).collect()}


def _ledger(spark, conf) -> list[tuple]:
    return sorted((Path(r.path.removeprefix("file:")).name, r.status, r.rows, r.run_id,
                   Path(r.duplicate_of.removeprefix("file:")).name if r.duplicate_of else None)
                  for r in read_table(spark, conf, META_FILE_LEDGER).collect())


HEADER = "TxnNo,Mobile,When\n"


def test_new_files_add_only_their_rows_and_copies_land_nothing(spark, make_conf, tmp_path):
    _write(tmp_path / "in/a.csv", HEADER + "T1,9812345678,2024-01-01T10:00:00\nT2,9812345679,2024-01-01T11:00:00\n",
           mtime=1_700_000_000)
    conf = make_conf(sources=[_source("in/*.csv")])
    [s1] = run_land(spark, conf, "r1")
    assert (s1.input_rows, s1.landed_rows, s1.new_files) == (2, 2, 1)

    # a new file, a byte-identical copy of a.csv under another name, and a.csv touched (same bytes)
    _write(tmp_path / "in/b.csv", HEADER + "T3,9812345670,2024-01-02T10:00:00\n", mtime=1_700_000_100)
    _write(tmp_path / "in/a_copy.csv", (tmp_path / "in/a.csv").read_text(), mtime=1_700_000_200)
    os.utime(tmp_path / "in/a.csv", (1_700_000_300, 1_700_000_300))
    [s2] = run_land(spark, conf, "r2")
    assert (s2.input_rows, s2.landed_rows, s2.files) == (1, 1, 1)
    assert (s2.new_files, s2.duplicate_files, s2.unchanged_files) == (3, 2, 0)
    assert _bronze(spark, conf) == {("T1", "9812345678", "2024-01-01T10:00:00", "a.csv"),
                                    ("T2", "9812345679", "2024-01-01T11:00:00", "a.csv"),
                                    ("T3", "9812345670", "2024-01-02T10:00:00", "b.csv")}
    assert _ledger(spark, conf) == [("a.csv", "duplicate", 0, "r2", "a.csv"), ("a.csv", "landed", 2, "r1", None),
                                    ("a_copy.csv", "duplicate", 0, "r2", "a.csv"), ("b.csv", "landed", 1, "r2", None)]

    [s3] = run_land(spark, conf, "r3")  # nothing new at all
    assert (s3.input_rows, s3.new_files, s3.unchanged_files) == (0, 0, 3)

    # a delivery of only a copy of landed content leaves the input fingerprint as it was
    before = ledger_fingerprint(spark, conf)
    _write(tmp_path / "in/b_again.csv", (tmp_path / "in/b.csv").read_text(), mtime=1_700_000_400)
    [s4] = run_land(spark, conf, "r4")
    assert (s4.input_rows, s4.duplicate_files) == (0, 1)
    assert ledger_fingerprint(spark, conf) == before
    _write(tmp_path / "in/c.csv", HEADER + "T4,9812345671,2024-01-03T10:00:00\n", mtime=1_700_000_500)
    run_land(spark, conf, "r5")
    assert ledger_fingerprint(spark, conf) != before


def test_latest_event_time_wins_within_a_batch_and_across_batches(spark, make_conf, tmp_path):
    _write(tmp_path / "in/1.csv", HEADER + "T1,9800000001,2024-03-01T10:00:00\n"   # later event, older file
           "T2,9800000002,2024-01-01T10:00:00\n", mtime=1_700_000_000)
    _write(tmp_path / "in/2.csv", HEADER + "T1,9800000009,2024-02-01T10:00:00\n"   # earlier event, newer file
           "T2,9800000003,2024-01-01T10:00:00\n", mtime=1_700_000_100)             # tie: the newer file wins
    conf = make_conf(sources=[_source("in/*.csv")])
    [s1] = run_land(spark, conf, "r1")
    assert (s1.input_rows, s1.landed_rows, s1.duplicate_record_ids) == (4, 4, 2)
    assert _bronze(spark, conf) == {("T1", "9800000001", "2024-03-01T10:00:00", "1.csv"),
                                    ("T2", "9800000003", "2024-01-01T10:00:00", "2.csv")}

    # a late-arriving older export does not replace newer rows; a newer event does
    _write(tmp_path / "in/3.csv", HEADER + "T1,9800000007,2023-12-31T10:00:00\n"
           "T2,9800000004,2024-01-05T10:00:00\n", mtime=1_700_000_200)
    run_land(spark, conf, "r2")
    assert _bronze(spark, conf) == {("T1", "9800000001", "2024-03-01T10:00:00", "1.csv"),
                                    ("T2", "9800000004", "2024-01-05T10:00:00", "3.csv")}
    runs = {r.TxnNo: r._run_id for r in read_table(spark, conf, bronze_table("pos")).collect()}
    assert runs == {"T1": "r1", "T2": "r2"}


def test_an_empty_file_is_recorded_once_and_lands_nothing(spark, make_conf, tmp_path):
    _write(tmp_path / "in/a.csv", HEADER + "T1,9812345678,2024-01-01T10:00:00\n", mtime=1_700_000_000)
    _write(tmp_path / "in/empty.csv", "", mtime=1_700_000_050)
    conf = make_conf(sources=[_source("in/*.csv")])
    [s1] = run_land(spark, conf, "r1")
    assert (s1.input_rows, s1.landed_rows, s1.new_files, s1.empty_files) == (1, 1, 2, 1)
    assert _ledger(spark, conf) == [("a.csv", "landed", 1, "r1", None), ("empty.csv", "empty", 0, "r1", None)]
    [s2] = run_land(spark, conf, "r2")
    assert (s2.new_files, s2.empty_files, s2.unchanged_files) == (0, 0, 2)
    assert len(_ledger(spark, conf)) == 2


def test_files_with_different_headers_in_one_batch_are_each_read_by_their_own_header(spark, make_conf, tmp_path):
    _write(tmp_path / "in/a.csv", HEADER + "T1,9812345678,2024-01-01T10:00:00\n", mtime=1_700_000_000)
    _write(tmp_path / "in/b.csv", "When,Extra,TxnNo,Mobile\n2024-01-02T10:00:00,x,T2,9812345679\n",
           mtime=1_700_000_100)
    conf = make_conf(sources=[_source("in/*.csv")])
    [stats] = run_land(spark, conf, "r1")
    assert (stats.input_rows, stats.landed_rows, stats.quarantined_rows) == (2, 2, 0)
    bronze = read_table(spark, conf, bronze_table("pos"))
    assert {(r.TxnNo, r.Mobile, r.When, r.Extra) for r in bronze.collect()} == {
        ("T1", "9812345678", "2024-01-01T10:00:00", None), ("T2", "9812345679", "2024-01-02T10:00:00", "x")}

    _write(tmp_path / "in/c.csv", HEADER + "T3,9812345670,2024-01-03T10:00:00\n", mtime=1_700_000_200)
    _write(tmp_path / "in/d.csv", "TxnNo,When\nT4,2024-01-04T10:00:00\n", mtime=1_700_000_300)
    with pytest.raises(ConfigError, match=r"identifiers\.phone -> 'Mobile'.*\(in file\(s\) \['file:.*/in/d\.csv'\]\)"):
        run_land(spark, conf, "r2")
    assert {r.TxnNo for r in read_table(spark, conf, bronze_table("pos")).collect()} == {"T1", "T2"}
