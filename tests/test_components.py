"""Connected components: both engines give one row per vertex labelled by the component minimum."""
from __future__ import annotations

import logging

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from cdp.identity.components import (
    ConvergenceError,
    choose_engine,
    connected_components,
    connected_components_with_stats,
)
from cdp.spark import graphframes_available

CC_SCHEMA = "id string, component string"
PAIRS = [(1, 2), (2, 3), (3, 4), (4, 5), (5, 1), (6, 7), (7, 8), (8, 6)]


def _graph(spark: SparkSession, pairs, lone, fmt=str):
    ids = sorted({x for p in pairs for x in p} | set(lone))
    v = spark.createDataFrame([(fmt(i),) for i in ids], "id string")
    e = spark.createDataFrame([(fmt(a), fmt(b)) for a, b in pairs], "src string, dst string")
    return v, e


def _expected(spark: SparkSession, groups, fmt=str):
    rows = []
    for g in groups:
        labels = [fmt(i) for i in g]
        rows += [(x, min(labels)) for x in labels]
    return spark.createDataFrame(rows, CC_SCHEMA)


@pytest.mark.parametrize("aqe", ["true", "false"])
def test_spark_engine_cycles_and_lone_vertex(spark, tmp_path, aqe):
    spark.conf.set("spark.sql.adaptive.enabled", aqe)
    v, e = _graph(spark, PAIRS, [9])
    out = connected_components(spark, v, e, "spark", str(tmp_path / "ck"))
    assert out.count() == 9
    assertDataFrameEqual(out, _expected(spark, [[1, 2, 3, 4, 5], [6, 7, 8], [9]]))


@pytest.mark.parametrize("aqe", ["true", "false"])
def test_spark_engine_string_ids(spark, tmp_path, aqe):
    spark.conf.set("spark.sql.adaptive.enabled", aqe)
    fmt = lambda i: f"{'abcdefghi'[i - 1]}{i}"  # noqa: E731 - a1, b2, ...
    v, e = _graph(spark, PAIRS, [9], fmt)
    out = connected_components(spark, v, e, "spark", str(tmp_path / "ck"))
    assertDataFrameEqual(out, _expected(spark, [[1, 2, 3, 4, 5], [6, 7, 8], [9]], fmt))


def test_spark_engine_long_chain_converges(spark, tmp_path, caplog):
    # ids chosen so lexical order zig-zags along the path (harder than a sorted path)
    n = 200
    ids = [f"n{(i * 7919) % 1000:04d}" for i in range(n)]
    v = spark.createDataFrame([(i,) for i in ids], "id string")
    e = spark.createDataFrame(list(zip(ids, ids[1:])), "src string, dst string")
    with caplog.at_level(logging.INFO, logger="cdp.identity.components"):
        res = connected_components_with_stats(spark, v, e, "spark", str(tmp_path / "ck"), checkpoint_interval=1)
    assert res.engine == "spark"
    assert res.iterations is not None and 1 <= res.iterations < 30
    expected = spark.createDataFrame([(i, min(ids)) for i in ids], CC_SCHEMA)
    assertDataFrameEqual(res.components, expected)
    assert any("iteration=" in r.getMessage() and "changes=" in r.getMessage() for r in caplog.records)


def test_spark_engine_edges_only_dupes_selfloops_and_no_edges(spark, tmp_path):
    v = spark.createDataFrame([("x",), ("y",), ("z",)], "id string")
    e = spark.createDataFrame([("y", "x"), ("x", "y"), ("z", "z")], "src string, dst string")
    out = connected_components(spark, v, e, "spark", str(tmp_path / "ck"))
    assertDataFrameEqual(out, spark.createDataFrame([("x", "x"), ("y", "x"), ("z", "z")], CC_SCHEMA))
    none = connected_components(spark, v, e.limit(0), "spark", str(tmp_path / "ck"))
    assertDataFrameEqual(none, spark.createDataFrame([("x", "x"), ("y", "y"), ("z", "z")], CC_SCHEMA))


def test_spark_engine_raises_after_max_iterations(spark, tmp_path):
    ids = [f"n{(i * 7919) % 1000:04d}" for i in range(64)]
    v = spark.createDataFrame([(i,) for i in ids], "id string")
    e = spark.createDataFrame(list(zip(ids, ids[1:])), "src string, dst string")
    with pytest.raises(ConvergenceError, match="did not converge after 1 iterations"):
        connected_components(spark, v, e, "spark", str(tmp_path / "ck"), max_iterations=1)


def test_choose_engine(spark):
    assert choose_engine(spark, "spark") == "spark"
    assert choose_engine(spark, "auto") == ("graphframes" if graphframes_available(spark) else "spark")
    with pytest.raises(ValueError, match="unknown connected-components engine"):
        choose_engine(spark, "networkx")
    if not graphframes_available(spark):
        with pytest.raises(RuntimeError, match="not on the classpath"):
            choose_engine(spark, "graphframes")


def test_graphframes_engine_matches_spark_engine(spark, tmp_path):
    if not graphframes_available(spark):
        pytest.skip("GraphFrames JAR (io.graphframes:graphframes-spark4_2.13) is not on the classpath")
    v, e = _graph(spark, PAIRS, [9])
    gf = connected_components(spark, v, e, "graphframes", str(tmp_path / "ck"))
    sp = connected_components(spark, v, e, "spark", str(tmp_path / "ck2"))
    assertDataFrameEqual(gf, _expected(spark, [[1, 2, 3, 4, 5], [6, 7, 8], [9]]))
    assertDataFrameEqual(gf, sp)
