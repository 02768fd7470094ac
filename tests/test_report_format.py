"""The CLI report text and the run_metrics rows, from a hand-made report (no Spark)."""
from __future__ import annotations

from typing import Any

from cdp.reporting.report import format_report, report_metrics_rows


def _report() -> dict[str, Any]:
    return {
        "run_id": "r2",
        "match_rate": {"match_rate": 0.5, "interactions": 4},
        "customers": 3, "known_customers": 1,
        "match_rate_by_source": [{"source": "pos", "match_rate": 0.5, "interactions": 4}],
        "match_rate_by_channel": [{"channel": "store", "match_rate": 0.5, "interactions": 4}],
        "landing": [{"run_id": "r2", "source": "pos", "input_rows": 7, "landed_rows": 4, "quarantined_rows": 1,
                     "suppressed_rows": 2, "duplicate_record_ids": 0}],
        "quarantine_tables": "quarantine/<source>",
        "event_time_problems": [],
        "held_out_identifiers": {"count": 1, "top": [{"id_type": "phone", "value": "+919999999999",
                                                       "interactions": 12, "reason": "seen with 12 distinct names > 8"}]},
        "blocklisted_identifiers": {},
        "limit_splits": {"components_split": 1, "links_dropped": 1, "by_limit": {"customer_id": 1},
                         "dropped_links": [{"component": "c1", "limits": "customer_id: 2 values > 1",
                                            "link_type": "phone", "src": "i|pos:a", "dst": "v|phone:+9198",
                                            "dropped_because": "customer_id"}]},
        "customer_sizes": [{"interactions": "1", "customers": 2}, {"interactions": "2", "customers": 1}],
        "largest_customers": [],
        "resolve": {"guarded_links": 3},
        "storage_root": "/w",
    }


def test_report_text_accounts_for_suppressed_rows() -> None:
    text = format_report(_report())
    assert "input = landed + quarantined + suppressed (erased persons)" in text
    assert "pos                    7 = 4 + 1 + 2  (duplicate record ids: 0)" in text
    assert "phone:+919999999999: seen with 12 distinct names > 8" in text
    assert ("limit splits: 1 customer(s) split, 1 link(s) dropped; customers per limit broken: "
            "{'customer_id': 1}; first 1 dropped links (all in silver/limit_splits):") in text
    assert "c1: customer_id: 2 values > 1: dropped phone interaction:pos:a -- phone:+9198 (customer_id)" in text
    assert "customer sizes (interactions: customers): 1: 2, 2: 1" in text
    assert "household guard: 3 link(s) not taken" in text


def test_metrics_rows_carry_suppressed_rows_and_splits() -> None:
    rows = {(r["metric"], r["dimension"]): r["value"] for r in report_metrics_rows(_report())}
    assert rows[("suppressed_rows", "source=pos")] == 2.0
    assert rows[("input_rows", "source=pos")] == 7.0
    assert rows[("customers_split_by_limits", "overall")] == 1.0
    assert rows[("held_out_identifiers", "overall")] == 1.0
    assert rows[("guarded_links", "overall")] == 3.0


def test_landing_of_a_resumed_run_adds_up_its_attempts(spark) -> None:
    from pyspark.testing import assertDataFrameEqual

    from cdp.reporting.report import landing_per_source

    schema = ("source string, input_rows long, landed_rows long, quarantined_rows long, duplicate_record_ids long, "
              "files long, new_files long, duplicate_files long, unchanged_files long, empty_files long, "
              "suppressed_rows long, run_id string")
    # attempt 1 landed pos's first file, then was killed; attempt 2 landed the second one
    landing = spark.createDataFrame([("pos", 5, 4, 1, 0, 1, 1, 0, 0, 0, 0, "R1"),
                                     ("pos", 3, 2, 0, 0, 2, 1, 0, 1, 0, 1, "R1"),
                                     ("web", 2, 2, 0, 0, 1, 1, 0, 0, 0, 0, "R1")], schema)
    expected = spark.createDataFrame(
        [("R1", "pos", 8, 6, 1, 1, 0, 2, 0, 2, 1, 0, 2), ("R1", "web", 2, 2, 0, 0, 0, 1, 0, 1, 0, 0, 1)],
        "run_id string, source string, input_rows long, landed_rows long, quarantined_rows long, "
        "suppressed_rows long, duplicate_record_ids long, new_files long, duplicate_files long, files long, "
        "unchanged_files long, empty_files long, attempts long")
    assertDataFrameEqual(landing_per_source(landing), expected)
