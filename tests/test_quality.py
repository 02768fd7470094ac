"""Great Expectations quality gates: bronze, silver and gold suites, severities, results, report, CLI."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from cdp.config import ConfigError, config_from_dict
from cdp.constants import (
    GOLD_CUSTOMER_ID_HISTORY, GOLD_CUSTOMER_PROFILE, GOLD_IDENTITY_MAP, GOLD_INTERACTION_CUSTOMER,
    GOLD_RUN_METRICS, META_QUALITY_RESULTS, SILVER_IDENTIFIER_RESOLVED, SILVER_IDENTIFIERS,
    SILVER_INTERACTION_RESOLVED, SILVER_INTERACTIONS, bronze_table,
)
from cdp.quality import QualityGateError
from cdp.quality import frames
from cdp.quality.gates import data_docs_index, layer_suites, open_context, run_layer_checks, validate_suite
from cdp.quality.suites import silver_identifier_suite, to_expectation
from cdp.reporting.report import _quality_lines, quality_section
from cdp.tables import overwrite_table, read_table

REPO = Path(__file__).resolve().parent.parent
UTC = timezone.utc


def _source(name: str, event_time: bool = True, identifiers: dict[str, str] | None = None) -> dict:
    src = {"name": name, "channel": "store", "format": "csv", "path": f"in/{name}/*.csv", "record_id": "Id",
           "identifiers": identifiers or {}}
    if event_time:
        src["event_time"] = {"column": "BillDate", "format": "yyyy-MM-dd", "timezone": "UTC"}
    return src


def _results(spark, conf, layer: str, run_id: str = "r1") -> dict[tuple[str, str], object]:
    """Every check's result of a layer, keyed by (suite, check); never raises."""
    context = open_context(conf)
    out = {}
    for suite, df in layer_suites(spark, conf, run_id, layer):
        for r in validate_suite(context, suite, df, run_id):
            out[(suite.name, r.check)] = r
    return out


def _bronze(spark, conf, name: str, rows: list[tuple], with_date: bool = True) -> None:
    schema = "_record_id string, BillDate string" if with_date else "_record_id string"
    overwrite_table(spark.createDataFrame(rows, schema), conf, bronze_table(name))


# --- bronze -------------------------------------------------------------------------------

def test_bronze_checks_pass_and_fail_with_observed_values(spark, make_conf):
    conf = make_conf(sources=[_source("good"), _source("bad"), _source("empty"), _source("nodate", event_time=False)],
                     quality={"bronze": {"event_time_parseable_by_source": {"bad": 0.5}}})
    _bronze(spark, conf, "good", [("a", "2024-01-01"), ("b", "2024-01-02"), ("c", "2024-02-03"), ("d", "2024-03-04")])
    _bronze(spark, conf, "bad", [("a", "2024-01-01"), (None, "garbage"), ("c", None), (None, "2024-13-45")])
    _bronze(spark, conf, "empty", [])
    _bronze(spark, conf, "nodate", [("x",)], with_date=False)
    res = _results(spark, conf, "bronze")

    good = {c: res[("bronze_good", c)] for c in ("record_id_present", "row_count_nonzero", "event_time_parseable")}
    assert all(r.success for r in good.values())
    assert good["row_count_nonzero"].observed == "4 rows"
    assert good["event_time_parseable"].observed == "parseable share 1 (0 of 4 missing or unparseable)"

    rid = res[("bronze_bad", "record_id_present")]
    assert not rid.success and rid.severity == "critical" and rid.target == "bronze/bad"
    assert rid.observed == "non-null share 0.5 (2 of 4 null)" and rid.observed_value == 0.5
    assert rid.threshold == "non-null share >= 1"
    parse = res[("bronze_bad", "event_time_parseable")]
    assert not parse.success and parse.severity == "warning"
    assert parse.observed == "parseable share 0.25 (3 of 4 missing or unparseable)"
    assert parse.threshold == "parseable share >= 0.5"  # the per-source override

    empty = res[("bronze_empty", "row_count_nonzero")]
    assert not empty.success and empty.observed == "0 rows" and empty.observed_value == 0.0
    assert res[("bronze_empty", "record_id_present")].success  # nothing to be null
    assert ("bronze_nodate", "event_time_parseable") not in res  # no event_time mapped: no check
    assert res[("bronze_nodate", "row_count_nonzero")].success


# --- silver -------------------------------------------------------------------------------

def _silver(spark, conf, interactions: list[tuple], identifiers: list[tuple]) -> None:
    overwrite_table(spark.createDataFrame(interactions, "interaction_id string, source string, event_time timestamp"),
                    conf, SILVER_INTERACTIONS)
    overwrite_table(spark.createDataFrame(
        identifiers, "interaction_id string, source string, id_type string, value string, is_valid boolean"),
        conf, SILVER_IDENTIFIERS)


SILVER_SOURCES = [_source("pos", identifiers={"phone": "Mobile"}), _source("web", identifiers={"email": "Email"})]


def test_silver_checks_pass(spark, make_conf, tmp_path):
    conf = make_conf(storage={"root": str(tmp_path / "wh_good")}, sources=SILVER_SOURCES)
    t = datetime(2024, 5, 1, tzinfo=UTC)
    _silver(spark, conf, [("pos:1", "pos", t), ("pos:2", "pos", t), ("web:1", "web", t), ("web:2", "web", None)],
            [("pos:1", "pos", "phone", "+919812345678", True), ("pos:2", "pos", "phone", "+14155550123", True),
             ("web:1", "web", "email", "a.b@example.co.in", True), ("web:2", "web", "email", "x@y.com", True),
             ("web:2", "web", "cookie_id", "ck1", True)])
    res = _results(spark, conf, "silver")
    assert {k: r.success for k, r in res.items()} == {
        ("silver_interactions", "interaction_id_unique"): True,
        ("silver_interactions", "event_time_window"): True,
        ("silver_identifiers_phone", "phone_present"): True,
        ("silver_identifiers_phone", "phone_e164"): True,
        ("silver_identifiers_email", "email_present"): True,
        ("silver_identifiers_email", "email_format"): True,
        ("silver_valid_identifier_share", "valid_identifier_share"): True,
    }
    assert res[("silver_interactions", "interaction_id_unique")].observed.startswith("0 row(s) with a repeated")
    assert res[("silver_valid_identifier_share", "valid_identifier_share")].observed == "lowest: pos 1"


def test_silver_checks_fail_with_observed_values(spark, make_conf, tmp_path):
    conf = make_conf(storage={"root": str(tmp_path / "wh_bad")}, sources=SILVER_SOURCES,
                     quality={"silver": {"valid_identifier_share_by_source": {"web": 0.9}}})
    t = datetime(2024, 5, 1, tzinfo=UTC)
    _silver(spark, conf,
            [("pos:1", "pos", t), ("pos:1", "pos", t), ("pos:2", "pos", datetime(1970, 1, 1, tzinfo=UTC)),
             ("web:1", "web", datetime(2999, 1, 1, tzinfo=UTC))],
            [("pos:1", "pos", "phone", "12345", True), ("pos:2", "pos", "phone", "+919812345678", True),
             ("pos:2", "pos", "phone", "98", False), ("pos:2", "pos", "phone", "99", False),
             ("pos:2", "pos", "phone", "97", False),
             ("web:1", "web", "email", "not-an-email", True), ("web:1", "web", "email", "x@y.com", True)])
    res = _results(spark, conf, "silver")

    dup = res[("silver_interactions", "interaction_id_unique")]
    assert not dup.success and dup.severity == "critical"
    assert dup.observed == "2 row(s) with a repeated interaction_id, e.g. ['pos:1', 'pos:1']"
    window = res[("silver_interactions", "event_time_window")]
    assert not window.success and window.severity == "warning"
    assert window.observed == "plausible share 0.5 (2 of 4 outside the event-time window)"
    phone = res[("silver_identifiers_phone", "phone_e164")]
    assert not phone.success and phone.observed.startswith("share matching 0.5 (1 of 2 non-null values do not match")
    assert "'12345'" in phone.observed
    assert res[("silver_identifiers_phone", "phone_present")].success
    email = res[("silver_identifiers_email", "email_format")]
    assert not email.success and "'not-an-email'" in email.observed
    share = res[("silver_valid_identifier_share", "valid_identifier_share")]
    assert not share.success and share.severity == "warning"
    assert share.observed == "below the minimum: pos 0.4 < 0.5 (2 of 5)" and share.observed_value == 0.4
    assert share.threshold == "valid share >= 0.5, web: 0.9"


def test_pattern_check_is_paired_with_completeness(spark, make_conf):
    """GX's regex check skips nulls: a 90 % null phone column passes it, and fails completeness."""
    conf = make_conf(sources=SILVER_SOURCES)
    rows = [("pos:0", "pos", "phone", "+919812345678", True)] + [
        (f"pos:{i}", "pos", "phone", None, True) for i in range(1, 10)]
    identifiers = spark.createDataFrame(
        rows, "interaction_id string, source string, id_type string, value string, is_valid boolean")
    suite = silver_identifier_suite("phone", conf.quality.silver)
    res = {r.check: r for r in validate_suite(open_context(conf), suite,
                                              frames.valid_identifier_values(identifiers, "phone"), "r1")}
    assert res["phone_e164"].success
    assert res["phone_e164"].observed == "share matching 1 (0 of 1 non-null values do not match)"
    assert not res["phone_present"].success
    assert res["phone_present"].observed == "non-null share 0.1 (9 of 10 null)"
    assert res["phone_present"].observed_value == 0.1


# --- gold ---------------------------------------------------------------------------------

def _gold_inputs(spark, conf, resolved: list[tuple], id_resolved: list[tuple], metrics: list[tuple] | None) -> None:
    t = datetime(2024, 5, 1, tzinfo=UTC)
    overwrite_table(spark.createDataFrame([(f"i{i}", "pos", t) for i in range(1, 5)],
                                          "interaction_id string, source string, event_time timestamp"),
                    conf, SILVER_INTERACTIONS)
    overwrite_table(spark.createDataFrame(resolved, "interaction_id string, customer_id string"),
                    conf, SILVER_INTERACTION_RESOLVED)
    overwrite_table(spark.createDataFrame(id_resolved, "id_type string, value string, customer_id string"),
                    conf, SILVER_IDENTIFIER_RESOLVED)
    if metrics is not None:
        overwrite_table(spark.createDataFrame(
            metrics, "run_id string, metric string, dimension string, value double, reported_at timestamp"),
            conf, GOLD_RUN_METRICS)


def test_gold_checks_pass(spark, make_conf, tmp_path):
    conf = make_conf(storage={"root": str(tmp_path / "wh_good")})
    _gold_inputs(spark, conf, [("i1", "c1"), ("i2", "c1"), ("i3", "c2"), ("i4", "c3")],
                 [("phone", "+919812345678", "c1"), ("cookie_id", "k1", "c2")], None)
    res = _results(spark, conf, "gold")
    assert all(r.success for r in res.values()), res
    assert set(res) == {("gold_candidate_interaction_customer", c) for c in
                        ("interaction_id_unique", "row_count_matches_interactions", "customer_id_not_null")} | {
        ("gold_largest_customer", "max_customer_interactions"), ("gold_match_rate", "match_rate_drop")}
    assert res[("gold_largest_customer", "max_customer_interactions")].observed == \
        "largest customer c1 has 2 interactions"
    drop = res[("gold_match_rate", "match_rate_drop")]
    assert drop.observed == "match rate 0.5000; no previous run" and drop.observed_value is None

    # a previous run within the allowed drop (2 points <= 5)
    overwrite_table(spark.createDataFrame([("r0", "match_rate", "overall", 0.52, datetime(2024, 6, 1))],
                                          "run_id string, metric string, dimension string, value double, "
                                          "reported_at timestamp"), conf, GOLD_RUN_METRICS)
    drop = _results(spark, conf, "gold")[("gold_match_rate", "match_rate_drop")]
    assert drop.success and drop.observed_value == 2.0
    assert drop.observed == "match rate 0.5000 vs 0.5200 published by run r0: a drop of 2.00 points"


def test_gold_checks_fail_with_observed_values(spark, make_conf, tmp_path):
    conf = make_conf(storage={"root": str(tmp_path / "wh_bad")}, quality={"gold": {"max_customer_interactions": 1}})
    _gold_inputs(spark, conf, [("i1", "c1"), ("i1", "c1"), ("i2", None)],
                 [("phone", "+919812345678", "c1")],
                 [("r_old", "match_rate", "overall", 0.4, datetime(2024, 1, 1)),
                  ("r_new", "match_rate", "overall", 0.9, datetime(2024, 2, 1)),
                  ("r_new", "match_rate", "source=pos", 0.1, datetime(2024, 2, 1))])
    res = _results(spark, conf, "gold", run_id="r_now")
    assert not any(r.success for r in res.values())
    dup = res[("gold_candidate_interaction_customer", "interaction_id_unique")]
    assert dup.observed == "2 row(s) with a repeated interaction_id, e.g. ['i1', 'i1']"
    count = res[("gold_candidate_interaction_customer", "row_count_matches_interactions")]
    assert count.observed == "3 rows" and count.threshold == "== 4 rows (silver/interactions)"
    null = res[("gold_candidate_interaction_customer", "customer_id_not_null")]
    assert null.observed == "non-null share 0.6667 (1 of 3 null)"
    largest = res[("gold_largest_customer", "max_customer_interactions")]
    assert largest.observed == "largest customer c1 has 2 interactions" and largest.observed_value == 2.0
    assert largest.threshold == "<= 1 interactions per customer"
    drop = res[("gold_match_rate", "match_rate_drop")]
    # i1 twice (known c1), i2 null, i3 and i4 missing: 2 of 5 candidate rows known; latest run r_new
    assert drop.observed == "match rate 0.4000 vs 0.9000 published by run r_new: a drop of 50.00 points"
    assert all(r.severity == "critical" for r in res.values())


# --- severity, persisted results, report ----------------------------------------------------

def test_warning_does_not_raise_critical_raises_and_results_are_reported(spark, make_conf):
    sources = [_source("pos", event_time=False)]
    warn = make_conf(sources=sources, quality={"bronze": {"severity": {"record_id_present": "warning"}}})
    _bronze(spark, warn, "pos", [("a",), (None,)], with_date=False)

    summary = run_layer_checks(spark, warn, "r1", "bronze")
    assert (summary["checks"], summary["passed"], summary["failed"]) == (2, 1, 1)
    assert summary["critical_failures"] == []
    [w] = summary["warnings"]
    assert (w["check"], w["severity"], w["observed"]) == ("record_id_present", "warning",
                                                          "non-null share 0.5 (1 of 2 null)")
    assert Path(summary["data_docs"]).is_file() and summary["data_docs"] == data_docs_index(warn)

    critical = make_conf(sources=sources)  # the same warehouse, default severities
    with pytest.raises(QualityGateError) as err:
        run_layer_checks(spark, critical, "r2", "bronze")
    msg = str(err.value)
    assert "bronze layer" in msg and "record_id_present on bronze/pos" in msg
    assert "observed non-null share 0.5 (1 of 2 null) vs threshold non-null share >= 1" in msg
    assert err.value.layer == "bronze" and [f["check"] for f in err.value.failures] == ["record_id_present"]

    stored = read_table(spark, critical, META_QUALITY_RESULTS)
    rows = {(r.run_id, r.check): r for r in stored.collect()}
    assert len(rows) == 4
    assert rows[("r2", "record_id_present")].severity == "critical" and not rows[("r2", "record_id_present")].success
    assert rows[("r1", "record_id_present")].severity == "warning"
    assert rows[("r2", "row_count_nonzero")].success and rows[("r2", "row_count_nonzero")].observed == "2 rows"
    assert json.loads(rows[("r2", "record_id_present")].details)["unexpected_count"] == 1

    # severity is in each expectation's meta, in the stored GX suite too
    suite_file = Path(data_docs_index(critical)).parents[3] / "expectations" / "bronze_pos.json"
    stored_suite = json.loads(suite_file.read_text())
    assert {e["meta"]["check"]: e["meta"]["severity"] for e in stored_suite["expectations"]} == {
        "record_id_present": "critical", "row_count_nonzero": "critical"}

    section = quality_section(spark, critical, "r2")
    assert section["run_id"] == "r2" and (section["passed"], section["failed"]) == (1, 1)
    assert section["data_docs"] == data_docs_index(critical)
    [suite] = section["suites"]
    assert (suite["suite"], suite["passed"], suite["failed"], suite["warnings"]) == ("bronze_pos", 1, 1, [])
    assert suite["failing"][0]["observed"] == "non-null share 0.5 (1 of 2 null)"
    text = "\n".join(_quality_lines(section))
    assert "FAILED record_id_present on bronze/pos: observed non-null share 0.5 (1 of 2 null)" in text
    assert f"Data Docs: {data_docs_index(critical)}" in text
    warned = quality_section(spark, warn, "r1")["suites"][0]
    assert warned["failing"] == [] and warned["warnings"][0]["check"] == "record_id_present"


def test_expectation_meta_and_config_strictness(make_conf):
    from cdp.quality.suites import bronze_suite

    conf = make_conf(sources=[_source("pos")], quality={"bronze": {"severity": {"event_time_parseable": "critical"}}})
    suite = bronze_suite(conf.sources[0], conf.quality.bronze)
    metas = [to_expectation(c, suite).meta for c in suite.checks]
    assert [(m["check"], m["severity"]) for m in metas] == [
        ("record_id_present", "critical"), ("row_count_nonzero", "critical"), ("event_time_parseable", "critical")]

    bad = [({"quality": {"bronze": {"mostly": 0.9}}}, "quality.bronze.mostly: unknown key"),
           ({"quality": {"gold": {"severity": {"largest": "critical"}}}}, "unknown gold check(s) ['largest']"),
           ({"quality": {"gold": {"severity": {"match_rate_drop": "fatal"}}}}, "'critical' or 'warning'"),
           ({"quality": {"silver": {"valid_identifier_share_by_source": {"nope": 0.3}}}}, "unknown source(s) ['nope']"),
           ({"quality": {"silver": {"phone_pattern": "(["}}}, "not a valid regular expression"),
           ({"storage": {"root": "s3a://bucket/wh"}}, "set quality.gx_dir")]
    for data, expected in bad:
        with pytest.raises(ConfigError) as err:
            config_from_dict(data)
        assert expected in str(err.value), (data, str(err.value))
    assert config_from_dict({"storage": {"root": "s3a://b/wh"}, "quality": {"gx_dir": "/tmp/gx"}}).quality.gx_dir
    assert not config_from_dict({"storage": {"root": "s3a://b/wh"}, "quality": {"enabled": False}}).quality.enabled


def test_cli_exits_3_on_quality_gate_error(monkeypatch, capsys):
    import cdp.cli

    def fail(_args):
        raise QualityGateError("gold", [{"check": "max_customer_interactions", "target": "silver/interaction_resolved",
                                         "observed": "largest customer c1 has 9 interactions",
                                         "threshold": "<= 1 interactions per customer"}])

    monkeypatch.setattr(cdp.cli, "_dispatch", fail)
    assert cdp.cli.main(["profile", "--conf", "unused.yaml"]) == 3
    err = capsys.readouterr().err
    assert "max_customer_interactions on silver/interaction_resolved" in err
    assert "observed largest customer c1 has 9 interactions vs threshold <= 1 interactions per customer" in err


# --- done when: a failing gold gate leaves the published gold tables as they were ---------

GOLD_TABLES = (GOLD_INTERACTION_CUSTOMER, GOLD_IDENTITY_MAP, GOLD_CUSTOMER_PROFILE, GOLD_CUSTOMER_ID_HISTORY,
               GOLD_RUN_METRICS)


def _gold_state(spark, conf) -> dict[str, tuple[int, list[str]]]:
    state = {}
    for table in GOLD_TABLES:
        version = DeltaTable.forPath(spark, conf.table_path(table)).history(1).select("version").first()[0]
        state[table] = (version, sorted(read_table(spark, conf, table).toJSON().collect()))
    return state


@pytest.mark.slow
def test_failing_gold_gate_keeps_previous_gold_tables(spark, tmp_path):
    from cdp.config import load_config
    from cdp.pipeline import run_pipeline
    from cdp.sample.generator import generate_sample

    generate_sample(spark, str(tmp_path / "sample_data"), persons=40, seed=1)
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    path = conf_dir / "run.yaml"
    path.write_text(f"storage:\n  root: ../warehouse\nsources_file: {REPO / 'conf/sources/sample.yaml'}\n"
                    "matching:\n  enabled: false\n")
    conf = load_config(path)
    first = run_pipeline(spark, conf, "run-1")
    quality = first["report"]["quality"]
    assert quality["run_id"] == "run-1" and quality["failed"] == 0 and quality["passed"] > 20, quality
    assert {s["layer"] for s in quality["suites"]} == {"bronze", "silver", "gold"}
    before = _gold_state(spark, conf)

    capped = load_config(path, overrides={"quality": {"gold": {"max_customer_interactions": 1}}})
    with pytest.raises(QualityGateError) as err:
        run_pipeline(spark, capped, "run-2")
    assert "max_customer_interactions" in str(err.value) and "vs threshold <= 1 interactions per customer" in str(
        err.value)
    assert _gold_state(spark, conf) == before  # same Delta versions, same content
    assert Path(data_docs_index(conf)).is_file()
    failing = (read_table(spark, conf, META_QUALITY_RESULTS)
               .where("run_id = 'run-2' AND check = 'max_customer_interactions'").collect())
    assert len(failing) == 1 and not failing[0].success and failing[0].severity == "critical"
    assert failing[0].observed_value > 1
