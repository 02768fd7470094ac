"""`cdp forget`: after an erasure no file of any table (older Delta versions and _delta_log included)
holds the person's values; audit and suppression hold only hashes; re-landed old rows of the person
are suppressed while a later interaction lands; an unknown id writes nothing; the next run with no
new input is still a no-op."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

import cdp.cli
from cdp.config import ConfigError, SourceConfig, StandardizeConfig, load_config
from cdp.constants import META_ERASURE_AUDIT, META_SUPPRESSION
from cdp.erasure.forget import ForgetRequest, run_forget
from cdp.identity.overrides import MUST_LINK, add_override
from cdp.erasure.suppression import SUPPRESSED_COL, Suppression, hash_value, mark_suppressed
from cdp.pipeline import run_pipeline
from cdp.publication import read_as_published_by
from cdp.tables import read_table

pytestmark = pytest.mark.slow

CRM_HEADER = "CustomerID,Name,Mobile,Email,Created\n"
ASHA_CRM = "C1,Asha Verma,9876501234,asha.verma@rediffmail.com,2024-01-05T10:00:00\n"
ASHA_WEB = ('{"session_id":"W1","ts":"2024-02-01T10:00:00Z","email":"Asha.Verma@Rediffmail.com",'
            '"mobile":"+91 98765 01234"}\n')
# the erased person's values, lower-cased, as any file might hold them
ERASED = ("asha.verma@rediffmail.com", "9876501234", "98765 01234", "asha verma")
CONF = """storage:
  root: {root}
spark: {{spark.sql.shuffle.partitions: 2, spark.default.parallelism: 2}}
sources:
  - {{name: crm, channel: crm, format: csv, path: ../in/crm/*.csv, options: {{header: "true"}}, record_id: CustomerID,
     event_time: {{column: Created, format: iso8601, timezone: UTC}}, identifiers: {{phone: Mobile, email: Email}},
     attributes: {{full_name: Name}}}}
  - {{name: web, channel: web, format: jsonl, path: ../in/web/*.json, record_id: session_id,
     event_time: {{column: ts, format: iso8601, timezone: UTC}}, identifiers: {{email: email, phone: mobile}}}}
matching: {{enabled: false}}
quality: {{enabled: false}}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """Two pipeline runs over two sources, so older table versions hold the person too."""
    env = pytest.MonkeyPatch()
    env.delenv("CDP_ERASURE_SALT", raising=False)  # the key file under storage.root is used and tested
    base = tmp_path_factory.mktemp("erasure")
    _write(base / "in/crm/1.csv", CRM_HEADER + ASHA_CRM
           + "C2,Ravi Kumar,9812300001,ravi.kumar@yahoo.co.in,2024-01-06T10:00:00\n"
           "C3,Meena Iyer,9822200002,meena.iyer@outlook.com,2024-01-07T10:00:00\n"
           ",Meena Iyer,9822200002,meena.iyer@outlook.com,2024-01-08T10:00:00\n")  # quarantined: no record id
    _write(base / "in/web/1.json", ASHA_WEB
           + '{"session_id":"W2","ts":"2024-02-02T10:00:00Z","email":"asha.verma@rediffmail.com","mobile":null}\n'
           '{"session_id":"W3","ts":"2024-02-03T10:00:00Z","email":"ravi.kumar@yahoo.co.in","mobile":"9812300001"}\n'
           '{"session_id":"W4","ts":"2024-02-04T10:00:00Z","email":"asha.verma@rediffmail.com","mobile":\n'  # broken
           '{"session_id":"W5","ts":"2024-02-05T10:00:00Z","email":"ravi.kumar@yahoo.co.in"\n')  # broken
    _write(base / "conf/cdp.yaml", CONF.format(root=base / "warehouse"))
    conf = load_config(base / "conf/cdp.yaml")
    run_pipeline(spark, conf, "R1")
    # a steward's override naming her, applied by R2: forget deletes it, and the next run stays a no-op
    # (two overrides, so the table's version changes when forget rewrites it with one row left)
    add_override(spark, conf, MUST_LINK, "email:Asha.Verma@Rediffmail.com", "phone:9876501234", "same person")
    add_override(spark, conf, MUST_LINK, "email:ravi.kumar@yahoo.co.in", "phone:9812300001", "same person")
    # her CRM row updated (a newer event), and a new customer
    _write(base / "in/crm/2.csv", CRM_HEADER + "C1,Smt. Asha Verma,9876501234,asha.verma@rediffmail.com,"
           "2024-03-05T10:00:00\nC4,Kiran Rao,9833300003,kiran.rao@proton.me,2024-03-06T10:00:00\n")
    run_pipeline(spark, conf, "R2")
    # GX output quotes unexpected values: stand-ins for a real gate's validation results and Data Docs
    _write(Path(conf.root) / "gx/uncommitted/validations/s/r.json", '{"partial_unexpected_list": ["9876501234"]}')
    _write(Path(conf.root) / "gx/uncommitted/data_docs/local_site/index.html", "asha.verma@rediffmail.com")
    yield base, conf
    env.undo()


def _table_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("**/_delta_log") if "_erasure" not in p.parts)


def _files_holding(spark, root: Path, needles=ERASED) -> list[str]:
    """Every file of every table dir that holds a needle: data files read one by one with
    spark.read.parquet (files of older versions too), _delta_log files as text."""
    hits = []
    for table in _table_dirs(root):
        for f in sorted(table.rglob("*")):
            if not f.is_file():
                continue
            if "_delta_log" in f.parts and not f.name.endswith(".parquet"):
                text = f.read_bytes().decode("utf-8", errors="replace").lower()
            elif f.name.endswith(".parquet"):
                df = spark.read.parquet(str(f))
                text = "\n".join(r[0] for r in df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns]))
                                                         ).collect()).lower()
            else:
                continue
            hits += [f"{f.relative_to(root)}: {n}" for n in needles if n in text]
    return hits


def _customer_of(spark, conf, email: str) -> str:
    return read_table(spark, conf, "gold/identity_map").where(F.col("id_value") == email).first()["customer_id"]


def _listing(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def test_unknown_customer_id_is_an_error_and_writes_nothing(built, capsys):
    base, conf = built
    before = _listing(Path(conf.root))
    assert cdp.cli.main(["forget", "--conf", str(base / "conf/cdp.yaml"), "--customer-id", "C_nobody"]) == 2
    assert "unknown customer id 'C_nobody'" in capsys.readouterr().err
    assert cdp.cli.main(["forget", "--conf", str(base / "conf/cdp.yaml"), "--id-type", "email"]) == 2
    assert _listing(Path(conf.root)) == before


def test_an_invalid_value_is_an_error_naming_it(spark, built):
    _base, conf = built
    with pytest.raises(ConfigError, match=r"--value 'not-an-email' is not a valid email \(invalid_email\)"):
        run_forget(spark, conf, ForgetRequest(id_type="email", value="not-an-email"))


@pytest.fixture(scope="module")
def forgotten(spark, built):
    """Asha forgotten through the CLI; the counts of every table before."""
    base, conf = built
    root = Path(conf.root)
    assert _files_holding(spark, root)  # the scan finds her before the erasure
    cid = _customer_of(spark, conf, "asha.verma@rediffmail.com")
    before = {t: read_table(spark, conf, t).count() for t in
              ("bronze/crm", "bronze/web", "quarantine/crm", "quarantine/web", "silver/interactions",
               "silver/identifiers", "gold/interaction_customer", "gold/identity_map", "gold/customer_profile")}
    others = {r["interaction_id"] for r in read_table(spark, conf, "gold/interaction_customer")
              .where(F.col("customer_id") != cid).collect()}
    assert cdp.cli.main(["forget", "--conf", str(base / "conf/cdp.yaml"), "--customer-id", cid,
                         "--by", "dpo", "--reason", "DPDP request 7"]) == 0
    return conf, cid, before, others


def test_no_file_of_any_table_holds_the_erased_values(spark, forgotten, capsys):
    conf, cid, before, others = forgotten
    root = Path(conf.root)
    assert _files_holding(spark, root) == []
    for t in _table_dirs(root):  # the readable tables hold none of her values either
        rows = spark.read.format("delta").load(str(t)).toJSON().collect()
        assert not [n for n in ERASED for r in rows if n in r.lower()], t
    # other people's rows are intact (C1, W1, W2 and the broken W4 line were hers)
    after = {t: read_table(spark, conf, t).count() for t in before}
    assert {t: before[t] - after[t] for t in before} == {
        "bronze/crm": 1, "bronze/web": 2, "quarantine/crm": 0, "quarantine/web": 1, "silver/interactions": 3,
        "silver/identifiers": 5, "gold/interaction_customer": 3, "gold/identity_map": 2, "gold/customer_profile": 1}
    assert {r["interaction_id"] for r in read_table(spark, conf, "gold/interaction_customer").collect()} == others
    assert read_table(spark, conf, "gold/customer_profile").where(F.col("customer_id") == cid).count() == 0
    assert {r["name"] for r in read_table(spark, conf, "gold/customer_profile").collect()} == {
        "Ravi Kumar", "Meena Iyer", "Kiran Rao"}
    # a rewritten table has no history; column mapping (bronze keeps source column names) is kept
    bronze = DeltaTable.forPath(spark, conf.table_path("bronze/crm"))
    assert bronze.history().count() == 1
    assert bronze.detail().first()["properties"]["delta.columnMapping.mode"] == "name"
    # reports scrubbed, GX validation results and Data Docs deleted
    for f in (root / "reports").glob("*.json"):
        assert not [n for n in ERASED if n in f.read_text().lower()], f
    assert not (root / "gx/uncommitted/validations").exists() and not (root / "gx/uncommitted/data_docs").exists()
    assert not list(root.glob("_erasure/*/*"))


def test_audit_and_suppression_hold_no_raw_value(spark, forgotten):
    conf, cid, _before, _others = forgotten
    [audit] = read_table(spark, conf, META_ERASURE_AUDIT).collect()
    assert (audit["request"], audit["requested_by"], audit["reason"]) == (f"customer_id={cid}", "dpo", "DPDP request 7")
    assert (audit["customers_erased"], audit["interactions_erased"], audit["identifiers_suppressed"]) == (1, 3, 2)
    assert audit["rows_deleted"]["bronze/web"] == 2 and audit["rows_deleted"]["gold/customer_profile"] == 1
    assert "gold/interaction_customer" in audit["tables_rewritten"]
    key = (Path(conf.root) / "meta/_erasure_salt").read_text().strip()
    suppression = read_table(spark, conf, META_SUPPRESSION)
    assert {(r["id_type"], r["value_hash"], r["audit_id"]) for r in suppression.collect()} == {
        ("email", hash_value(key, "email", "asha.verma@rediffmail.com"), audit["audit_id"]),
        ("phone", hash_value(key, "phone", "+919876501234"), audit["audit_id"])}
    for table in (META_ERASURE_AUDIT, META_SUPPRESSION):
        text = "\n".join(read_table(spark, conf, table).toJSON().collect()).lower()
        assert not [n for n in ERASED + ("+919876501234",) if n in text]


def test_the_next_run_without_new_input_is_a_no_op(spark, forgotten):
    conf = forgotten[0]
    versions = {t: DeltaTable.forPath(spark, str(t)).history(1).first()["version"]
                for t in _table_dirs(Path(conf.root)) if "meta" not in t.parts}
    assert read_table(spark, conf, "meta/steward_overrides").count() == 1  # the one naming her is gone
    results = run_pipeline(spark, conf)
    assert results["unchanged"]["published_run_id"] == "R2"
    assert {t: DeltaTable.forPath(spark, str(t)).history(1).first()["version"] for t in versions} == versions
    # R2 was re-published at the rewritten versions; R1's versions are gone, and saying so beats time travel
    assert read_as_published_by(spark, conf, "gold/interaction_customer", "R2").count() == 4
    with pytest.raises(FileNotFoundError, match="cdp forget"):
        read_as_published_by(spark, conf, "gold/interaction_customer", "R1")


def test_relanded_old_rows_are_suppressed_and_a_later_interaction_lands(spark, built, forgotten):
    base, conf = built
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write(base / "in/crm/3.csv", CRM_HEADER + ASHA_CRM)  # the old export again, under a new name
    _write(base / "in/web/2.json", ASHA_WEB
           + f'{{"session_id":"W6","ts":"{later}","email":"asha.verma@rediffmail.com","mobile":null}}\n'
           '{"session_id":"W7","ts":"2024-02-07T10:00:00Z","email":"ravi.kumar@yahoo.co.in","mobile":null}\n')
    results = run_pipeline(spark, conf, "R3")
    landing = {r["source"]: r for r in results["land"]}
    assert {s: (r["input_rows"], r["landed_rows"], r["quarantined_rows"], r["suppressed_rows"])
            for s, r in landing.items()} == {"crm": (1, 0, 0, 1), "web": (3, 2, 0, 1)}
    assert {r["session_id"] for r in read_table(spark, conf, "bronze/web").collect()} == {"W3", "W6", "W7"}
    assert {r["CustomerID"] for r in read_table(spark, conf, "bronze/crm").collect()} == {"C2", "C3", "C4"}
    assert not read_table(spark, conf, "quarantine/crm").where(F.col("_raw").contains("Asha")).head(1)
    gold = {r["interaction_id"]: r["customer_id"]
            for r in read_table(spark, conf, "gold/interaction_customer").collect()}
    assert "web:W1" not in gold and "crm:C1" not in gold and gold["web:W6"] is not None
    assert gold["web:W7"] == gold["web:W3"]  # Ravi's new session joins his customer
    stats = read_table(spark, conf, "meta/landing_stats").where(F.col("run_id") == "R3").collect()
    assert all(r["input_rows"] == r["landed_rows"] + r["quarantined_rows"] + r["suppressed_rows"] for r in stats)
    assert [r["suppressed_rows"] for r in results["report"]["landing"]] == [1, 1]


def test_mark_suppressed_lets_a_later_interaction_through_only_when_allowed(spark):
    source = SourceConfig(name="pos", channel="store", format="csv", path="x", record_id="Txn",
                          identifiers={"phone": "Mobile", "email": "Email"})
    erased_at = datetime(2024, 6, 1, tzinfo=timezone.utc)
    hashes = spark.createDataFrame([("phone", hash_value("k", "phone", "+919876501234"), erased_at)],
                                   "id_type string, value_hash string, erased_at timestamp")
    rows = spark.createDataFrame([("T1", " 98765-01234 ", None, "2024-01-01 00:00:00"),  # before: suppressed
                                  ("T2", "9876501234", "x@y.in", "2024-07-01 00:00:00"),  # after the erasure
                                  ("T3", "9812300001", "x@y.in", "2024-01-01 00:00:00"),  # someone else
                                  ("T4", "+91 9876501234", None, None)],  # no event time: suppressed
                                 "Txn string, Mobile string, Email string, ts string")
    for allow, expected in ((True, {"T1", "T4"}), (False, {"T1", "T2", "T4"})):
        marked = mark_suppressed(rows, source, StandardizeConfig(), Suppression(hashes, "k"),
                                 F.col("ts").cast("timestamp"), allow)
        assert marked.columns == rows.columns + [SUPPRESSED_COL]
        assert {r["Txn"] for r in marked.where(SUPPRESSED_COL).collect()} == expected


def test_forget_by_value_erases_every_interaction_carrying_it(spark, built, forgotten):
    _base, conf = built
    meena = ("meena.iyer@outlook.com", "9822200002", "meena iyer")
    cid = _customer_of(spark, conf, "meena.iyer@outlook.com")
    audit = run_forget(spark, conf, ForgetRequest(id_type="phone", value="098222 00002", reason="by phone"))
    assert audit["request"].startswith("phone:sha256=") and "9822200002" not in audit["request"]
    # her CRM row, and the quarantined row (no record id) quoting her phone
    assert (audit["customers_erased"], audit["interactions_erased"]) == (1, 1)
    assert audit["rows_deleted"]["quarantine/crm"] == 1 and audit["rows_deleted"]["bronze/crm"] == 1
    assert _files_holding(spark, Path(conf.root), meena) == []
    assert read_table(spark, conf, "gold/customer_profile").where(F.col("customer_id") == cid).count() == 0
    assert {r["CustomerID"] for r in read_table(spark, conf, "bronze/crm").collect()} == {"C2", "C4"}
    with pytest.raises(ConfigError, match="found in no table"):  # nothing left to erase
        run_forget(spark, conf, ForgetRequest(id_type="email", value="meena.iyer@outlook.com"))
