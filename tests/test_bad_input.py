"""The bad-input matrix (issue 4): every case gives a clear error or a quarantine row with a reason,
never a silent loss, and for every source input rows = landed + quarantined."""
from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable

from cdp.config import ConfigError, ResolveConfig
from cdp.constants import KNOWN_ID_TYPES, META_RUNS, SILVER_IDENTIFIERS, SILVER_INTERACTIONS, bronze_table, quarantine_table
from cdp.identity.resolve import linkable_identifiers
from cdp.landing.land import LandingStats, run_land
from cdp.pipeline import run_pipeline
from cdp.publication import RUN_CONFIG_ERROR, RUN_STARTED, interrupted_run_id
from cdp.reporting.report import event_time_problems
from cdp.standardize.stage import run_standardize
from cdp.tables import read_table, table_exists

HEADER = b"TxnNo,CustMobile,Pin\n"


def _pos(path: str = "in/pos/*.csv", **extra) -> dict:
    return {"name": "pos", "channel": "store", "format": "csv", "path": path, "record_id": "TxnNo",
            "identifiers": {"phone": "CustMobile"}, "attributes": {"pincode": "Pin"}} | extra


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _counts(stats: LandingStats, input_rows: int, landed: int, quarantined: int) -> None:
    """The exact counts, and the identity every landing must keep."""
    assert (stats.input_rows, stats.landed_rows, stats.quarantined_rows) == (input_rows, landed, quarantined)
    assert stats.input_rows == stats.landed_rows + stats.quarantined_rows


def _quarantine(spark, conf, source: str = "pos") -> list[tuple[str, str]]:
    if not table_exists(spark, conf, quarantine_table(source)):
        return []
    return sorted((r._raw, r.reason) for r in read_table(spark, conf, quarantine_table(source)).collect())


def _bronze_version(spark, conf, source: str = "pos") -> int:
    return DeltaTable.forPath(spark, conf.table_path(bronze_table(source))).history(1).first()["version"]


# --- 1. empty files ----------------------------------------------------------------------

def test_empty_file_beside_a_good_file_lands_the_good_rows(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"")
    _write(tmp_path / "in/pos/b.csv", HEADER + b"T1,9812345678,110001\nT2,9812345679,110002\n")
    conf = make_conf(sources=[_pos()])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 2, 0)
    assert (stats.files, stats.empty_files) == (1, 1)  # the empty file is counted, not silently skipped
    assert sorted(r.TxnNo for r in read_table(spark, conf, bronze_table("pos")).collect()) == ["T1", "T2"]
    assert _quarantine(spark, conf) == []


def test_a_source_whose_only_file_is_empty_is_an_error_before_any_write(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"")
    with pytest.raises(ConfigError, match=r"source 'pos': .*empty.*a\.csv|source 'pos': .*a\.csv.*empty"):
        run_land(spark, make_conf(sources=[_pos()]), "r1")
    assert not (tmp_path / "warehouse").exists()


# --- 2. header only ----------------------------------------------------------------------

def test_header_only_file_lands_zero_rows_and_creates_the_table(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", HEADER)
    conf = make_conf(sources=[_pos()])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 0, 0, 0)
    bronze = read_table(spark, conf, bronze_table("pos"))
    assert bronze.count() == 0
    assert {"TxnNo", "CustMobile", "Pin"} <= set(bronze.columns)
    assert _quarantine(spark, conf) == []


# --- 3. wrong delimiter ------------------------------------------------------------------

@pytest.mark.parametrize("sep, yaml", [(";", '";"'), ("|", '"|"'), ("\t", '"\\t"')])
def test_wrong_delimiter_names_the_columns_and_hints_at_options_sep(spark, make_conf, tmp_path, sep, yaml):
    _write(tmp_path / "in/pos/a.csv", sep.join(["TxnNo", "CustMobile", "Pin"]).encode() + b"\n"
           + sep.join(["T1", "9812345678", "110001"]).encode() + b"\n")
    with pytest.raises(ConfigError) as err:
        run_land(spark, make_conf(sources=[_pos()]), "r1")
    msg = str(err.value)
    assert msg.startswith("source 'pos': ")
    assert "record_id maps to column 'TxnNo', which is not in the data" in msg
    assert "identifiers.phone -> 'CustMobile', attributes.pincode -> 'Pin'" in msg
    header = sep.join(["TxnNo", "CustMobile", "Pin"])
    assert f"the header was read as one column {header!r}, which contains {sep!r}" in msg
    assert f"set `options: {{sep: {yaml}}}` on the source" in msg
    assert not (tmp_path / "warehouse").exists()


def test_a_single_column_header_without_a_separator_gets_no_sep_hint(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"Txn\nT1\n")
    with pytest.raises(ConfigError) as err:
        run_land(spark, make_conf(sources=[_pos()]), "r1")
    assert "options.sep" not in str(err.value) and "sep:" not in str(err.value)


# --- 4. truncated JSON line --------------------------------------------------------------

def test_truncated_last_json_line_is_quarantined_and_the_rest_lands(spark, make_conf, tmp_path):
    broken = '{"id": "W3", "login": {"mob'
    _write(tmp_path / "in/web/a.jsonl", b'{"id": "W1", "login": {"mobile": "09812345678"}}\n'
           b'{"id": "W2", "login": {"mobile": "09812345679"}}\n' + broken.encode())  # no final newline
    conf = make_conf(sources=[{"name": "web", "channel": "web", "format": "jsonl", "path": "in/web/*.jsonl",
                               "record_id": "id", "identifiers": {"phone": "login.mobile"}}])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 3, 2, 1)
    assert sorted(r.id for r in read_table(spark, conf, bronze_table("web")).collect()) == ["W1", "W2"]
    assert _quarantine(spark, conf, "web") == [(broken, "malformed_json")]


# --- 5. UTF-8 byte order mark ------------------------------------------------------------

def test_bom_at_the_start_of_a_csv_file_does_not_rename_the_first_column(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"\xef\xbb\xbf" + HEADER + b"T1,9812345678,110001\n")
    conf = make_conf(sources=[_pos()])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 1, 1, 0)
    bronze = read_table(spark, conf, bronze_table("pos"))
    assert not [c for c in bronze.columns if "\ufeff" in c]
    assert [(r.TxnNo, r._record_id, r.CustMobile) for r in bronze.collect()] == [("T1", "T1", "9812345678")]


def test_bom_at_the_start_of_a_jsonl_file_keeps_the_first_record(spark, make_conf, tmp_path):
    _write(tmp_path / "in/web/a.jsonl", b'\xef\xbb\xbf{"id": "W1", "mobile": "09812345678"}\n'
           b'{"id": "W2", "mobile": "09812345679"}\n')
    conf = make_conf(sources=[{"name": "web", "channel": "web", "format": "jsonl", "path": "in/web/*.jsonl",
                               "record_id": "id", "identifiers": {"phone": "mobile"}}])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 2, 0)
    bronze = read_table(spark, conf, bronze_table("web"))
    assert not [c for c in bronze.columns if "\ufeff" in c]
    assert sorted((r.id, r.mobile) for r in bronze.collect()) == [("W1", "09812345678"), ("W2", "09812345679")]


# --- 6. latin-1 bytes ----------------------------------------------------------------------

LATIN1 = b"TxnNo,CustMobile,Name\nT1,9812345678,Zo\xeb D\xedaz\nT2,9812345679,Asha\n"


def _named(path: str, **extra) -> dict:
    return _pos(path, attributes={"full_name": "Name"}, **extra)


def test_latin1_bytes_are_quarantined_with_a_reason_naming_the_column(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", LATIN1)
    conf = make_conf(sources=[_named("in/pos/*.csv")])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 1, 1)
    assert [r.TxnNo for r in read_table(spark, conf, bronze_table("pos")).collect()] == ["T2"]
    [(raw, reason)] = _quarantine(spark, conf)
    assert reason == "undecodable_bytes: column Name (the file is not UTF-8; set options.encoding, e.g. ISO-8859-1)"
    assert '"TxnNo":"T1"' in raw


def test_latin1_file_lands_with_the_right_characters_given_its_encoding(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", LATIN1)
    conf = make_conf(sources=[_named("in/pos/*.csv", options={"encoding": "ISO-8859-1"})])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 2, 0)
    names = {r.TxnNo: r.Name for r in read_table(spark, conf, bronze_table("pos")).collect()}
    assert names == {"T1": "Zoë Díaz", "T2": "Asha"}


def test_latin1_bytes_in_a_json_line_are_quarantined_as_undecodable(spark, make_conf, tmp_path):
    _write(tmp_path / "in/web/a.jsonl", b'{"id": "W1", "name": "Asha"}\n{"id": "W2", "name": "Zo\xeb"}\n')
    conf = make_conf(sources=[{"name": "web", "channel": "web", "format": "jsonl", "path": "in/web/*.jsonl",
                               "record_id": "id", "attributes": {"full_name": "name"}}])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 1, 1)
    assert [r.id for r in read_table(spark, conf, bronze_table("web")).collect()] == ["W1"]
    assert _quarantine(spark, conf, "web") == [
        ('{"id": "W2", "name": "Zo\ufffd"}',
         "undecodable_bytes: the JSON line is not UTF-8; set options.encoding, e.g. ISO-8859-1")]


# --- 7. wrong column counts, quoted delimiters -------------------------------------------------

def test_extra_and_missing_columns_are_quarantined_and_quoted_delimiters_are_not(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", HEADER
           + b'T1,"98123,45678",110001\n'   # a quoted field holding the delimiter: 3 columns, lands
           + b"T2,9812345678\n"              # missing a column
           + b"T3,9812345678,110001,extra\n"  # an extra column
           + b'T4,"98123,45678"\n'           # missing, with a quoted delimiter (a naive split says 3)
           + b'T5,"a,b",1,"c,d"\n'           # extra, with quoted delimiters (a naive split says 6)
           + b'T6,"x"y,1,2\n'                # a stray quote: Spark splits it its own way, so no count
           + b"T7,9812345670,110003\n")
    conf = make_conf(sources=[_pos()])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 7, 2, 5)
    bronze = {r.TxnNo: r.CustMobile for r in read_table(spark, conf, bronze_table("pos")).collect()}
    assert bronze == {"T1": "98123,45678", "T7": "9812345670"}
    assert _quarantine(spark, conf) == [
        ("T2,9812345678", "malformed_row: expected 3 columns, got 2"),
        ("T3,9812345678,110001,extra", "malformed_row: expected 3 columns, got 4"),
        ('T4,"98123,45678"', "malformed_row: expected 3 columns, got 2"),
        ('T5,"a,b",1,"c,d"', "malformed_row: expected 3 columns, got 4"),
        ('T6,"x"y,1,2', "malformed_row: expected 3 columns (the count is unclear: a quote inside a field)"),
    ]


# --- 8. very long values -----------------------------------------------------------------------

def test_a_10000_character_name_lands_intact_and_standardizes(spark, make_conf, tmp_path):
    long_name = ("Ananya " * 1429)[:9999] + "X"
    assert len(long_name) == 10_000
    _write(tmp_path / "in/pos/a.csv", b"TxnNo,CustMobile,Name\n"
           + f"T1,9812345678,{long_name}\nT2,{'9' * 10_000},Asha\n".encode())
    conf = make_conf(sources=[_named("in/pos/*.csv")])
    [stats] = run_land(spark, conf, "r1")
    _counts(stats, 2, 2, 0)
    bronze = {r.TxnNo: (r.Name, r.CustMobile) for r in read_table(spark, conf, bronze_table("pos")).collect()}
    assert bronze["T1"] == (long_name, "9812345678") and len(bronze["T2"][1]) == 10_000
    run_standardize(spark, conf, "r1")
    names = {r.record_id: r.attributes.full_name for r in read_table(spark, conf, SILVER_INTERACTIONS).collect()}
    assert len(names["T1"]) == 10_000 and names["T2"] == "Asha"
    phones = {r.interaction_id: (r.is_valid, r.reason) for r in read_table(spark, conf, SILVER_IDENTIFIERS).collect()}
    assert phones == {"pos:T1": (True, None), "pos:T2": (False, "invalid_phone")}


# --- 9. implausible and unparseable timestamps -----------------------------------------------------

def test_far_future_epoch_zero_and_unparseable_times_are_flagged_not_used(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"TxnNo,CustMobile,When\n"
           b"E1,9812345678,2999-01-01T00:00:00Z\n"
           b"E2,9812345678,1970-01-01T00:00:00Z\n"
           b"E3,9812345678,not a date\n"
           b"E4,9812345678,2024-03-01T10:00:00Z\n"
           b"E5,9812345678,\n")  # no time at all: not a problem
    _write(tmp_path / "in/app/a.csv", b"Id,Phone,Ts\nA1,9812345678,0\nA2,9812345678,1709287200\n")
    app = {"name": "app", "channel": "app", "format": "csv", "path": "in/app/*.csv", "record_id": "Id",
           "identifiers": {"phone": "Phone"}, "event_time": {"column": "Ts", "format": "epoch_s"}}
    conf = make_conf(sources=[_pos(attributes={}, event_time={"column": "When", "format": "iso8601"}), app])
    for stats in run_land(spark, conf, "r1"):
        _counts(stats, {"pos": 5, "app": 2}[stats.source], {"pos": 5, "app": 2}[stats.source], 0)
    run_standardize(spark, conf, "r1")
    interactions = read_table(spark, conf, SILVER_INTERACTIONS)
    rows = {r.interaction_id: (r.event_time is None, r.event_time_raw, r.event_time_issue)
            for r in interactions.collect()}
    assert rows == {
        "pos:E1": (True, "2999-01-01T00:00:00Z", "future"),
        "pos:E2": (True, "1970-01-01T00:00:00Z", "before_min"),
        "pos:E3": (True, "not a date", "unparseable"),
        "pos:E4": (False, "2024-03-01T10:00:00Z", None),
        "pos:E5": (True, None, None),
        "app:A1": (True, "0", "before_min"),
        "app:A2": (False, "1709287200", None),
    }
    # the interactions are kept and their identifiers still link
    links, _ = linkable_identifiers(read_table(spark, conf, SILVER_IDENTIFIERS), ResolveConfig())
    assert {(r.interaction_id, r.value) for r in links.collect()} == {
        (i, "+919812345678") for i in ("pos:E1", "pos:E2", "pos:E3", "pos:E4", "pos:E5", "app:A1", "app:A2")}
    # ... and the report counts the problems per source and issue
    assert event_time_problems(interactions) == [
        {"source": "app", "unparseable": 0, "before_min": 1, "future": 0},
        {"source": "pos", "unparseable": 1, "before_min": 1, "future": 1},
    ]


def test_event_time_bounds_are_configurable_and_can_be_switched_off(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", b"TxnNo,CustMobile,When\nE1,9812345678,2999-01-01T00:00:00Z\n"
           b"E2,9812345678,1970-01-01T00:00:00Z\n")
    source = _pos(attributes={}, event_time={"column": "When", "format": "iso8601"})
    conf = make_conf(sources=[source], standardize={"event_time_min": None, "event_time_max_days_in_future": None})
    run_land(spark, conf, "r1")
    run_standardize(spark, conf, "r1")
    rows = {r.record_id: (r.event_time.year, r.event_time_issue)
            for r in read_table(spark, conf, SILVER_INTERACTIONS).collect()}
    assert rows == {"E1": (2999, None), "E2": (1970, None)}
    with pytest.raises(ConfigError, match=r"standardize.event_time_min: Input should be a valid date"):
        make_conf(sources=[source], standardize={"event_time_min": "1st Jan"})


# --- 10. a new column appears ----------------------------------------------------------------------

def test_a_new_column_in_a_later_file_is_kept_in_bronze(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", HEADER + b"T1,9812345678,110001\n")
    conf = make_conf(sources=[_pos()])
    [first] = run_land(spark, conf, "r1")
    _counts(first, 1, 1, 0)
    _write(tmp_path / "in/pos/b.csv", b"TxnNo,CustMobile,Pin,Email\nT2,9812345679,110002,a@b.in\n")
    [second] = run_land(spark, conf, "r2")
    _counts(second, 1, 1, 0)
    bronze = read_table(spark, conf, bronze_table("pos"))
    assert "Email" in bronze.columns
    assert sorted((r.TxnNo, r.Pin, r.Email) for r in bronze.collect()) == [
        ("T1", "110001", None), ("T2", "110002", "a@b.in")]
    run_standardize(spark, conf, "r2")  # the extra, unmapped column does not disturb standardize
    assert read_table(spark, conf, SILVER_INTERACTIONS).count() == 2


# --- 11. a mapped column disappears ----------------------------------------------------------------

def test_a_mapped_column_missing_from_a_later_file_fails_before_any_write(spark, make_conf, tmp_path):
    _write(tmp_path / "in/pos/a.csv", HEADER + b"T1,9812345678,110001\n")
    conf = make_conf(sources=[_pos()])
    [first] = run_land(spark, conf, "r1")
    _counts(first, 1, 1, 0)
    version = _bronze_version(spark, conf)
    _write(tmp_path / "in/pos/b.csv", b"TxnNo,Pin\nT2,110002\n")
    with pytest.raises(ConfigError, match=r"source 'pos': .*identifiers\.phone -> 'CustMobile'.*"
                                          r"available columns: \['TxnNo', 'Pin'\]"):
        run_land(spark, conf, "r2")
    assert [r.TxnNo for r in read_table(spark, conf, bronze_table("pos")).collect()] == ["T1"]
    assert _bronze_version(spark, conf) == version
    assert not table_exists(spark, conf, quarantine_table("pos"))


# --- 12. config errors before any write --------------------------------------------------------------

def test_unknown_identifier_type_lists_the_allowed_types(make_conf, tmp_path):
    with pytest.raises(ConfigError) as err:
        make_conf(sources=[_pos(identifiers={"pan_card": "PAN"})])
    msg = str(err.value)
    assert "sources.0(pos).identifiers.pan_card: unknown identifier type 'pan_card'" in msg
    assert f"allowed: {list(KNOWN_ID_TYPES)}" in msg and "resolve.custom_id_types" in msg
    with pytest.raises(ConfigError, match=r"unknown identifier type 'emial'; did you mean 'email'\?"):
        make_conf(sources=[_pos(identifiers={"emial": "Email"})])
    # a custom type is accepted once declared
    conf = make_conf(sources=[_pos(identifiers={"pan_card": "PAN"})], resolve={"custom_id_types": ["pan_card"]})
    assert conf.sources[0].identifiers == {"pan_card": "PAN"}
    with pytest.raises(ConfigError, match=r"resolve.known_id_types: unknown identifier type 'phon'"):
        make_conf(sources=[_pos()], resolve={"known_id_types": ["email", "phon"]})
    assert not (tmp_path / "warehouse").exists()


def test_a_source_without_record_id_names_the_source_and_key(make_conf):
    source = _pos()
    del source["record_id"]
    with pytest.raises(ConfigError, match=r"sources\.0\(pos\)\.record_id: Field required"):
        make_conf(sources=[source])


def test_a_path_matching_no_file_fails_and_writes_no_table(spark, make_conf, tmp_path):
    _write(tmp_path / "in/web/a.jsonl", b'{"id": "W1"}\n')
    web = {"name": "web", "channel": "web", "format": "jsonl", "path": "in/web/*.jsonl", "record_id": "id"}
    conf = make_conf(sources=[web, _pos("in/nothing/*.csv")])  # the good source first: still nothing written
    with pytest.raises(ConfigError,
                       match=r"source 'pos': path 'in/nothing/\*\.csv' \(resolved to .*\) matches no file"):
        run_land(spark, conf, "r1")
    assert not (tmp_path / "warehouse").exists()


def test_a_run_stopped_by_a_config_error_is_recorded_and_a_new_run_does_not_resume_it(spark, make_conf):
    conf = make_conf(sources=[_pos("in/nothing/*.csv")])
    with pytest.raises(ConfigError, match="matches no file"):
        run_pipeline(spark, conf, "R1")
    events = [(r.run_id, r.event) for r in read_table(spark, conf, META_RUNS).orderBy("at").collect()]
    assert events == [("R1", RUN_STARTED), ("R1", RUN_CONFIG_ERROR)]
    assert interrupted_run_id(spark, conf) is None


def test_a_missing_sources_file_names_the_key_and_where_it_was_looked_for(tmp_path):
    from cdp.config import load_config

    conf_file = tmp_path / "copied" / "local.yaml"
    conf_file.parent.mkdir()
    conf_file.write_text("storage: {root: ../warehouse}\nsources_file: sources/sample.yaml\n")
    with pytest.raises(ConfigError, match=r"local\.yaml: sources_file 'sources/sample\.yaml' \(resolved to "
                                          r".*copied/sources/sample\.yaml\) does not exist; a relative sources_file is "
                                          r"relative to the config file's folder"):
        load_config(conf_file)
