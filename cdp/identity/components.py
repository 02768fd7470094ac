"""Connected components over string vertex ids, with two interchangeable engines.

* ``spark``: a built-in DataFrame implementation of the two-phase large-star / small-star
  algorithm (Kiveris et al. 2014, "Connected Components in MapReduce and Beyond"), the same
  algorithm GraphFrames runs for ``algorithm="two_phase"``.
* ``graphframes``: ``GraphFrame.connectedComponents`` (needs the GraphFrames JAR).

Both return one row per vertex, ``(id, component)``, where ``component`` is the smallest vertex
id of the component, so the two engines give identical output.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cdp.constants import GRAPHFRAMES_JAR
from cdp.spark import graphframes_available

log = logging.getLogger(__name__)

ENGINES = ("auto", "graphframes", "spark")
_LEVEL = StorageLevel.MEMORY_AND_DISK


class ConvergenceError(RuntimeError):
    """The spark engine did not converge within max_iterations."""


@dataclass(frozen=True)
class ComponentsResult:
    """Components plus which engine ran and how many iterations it took (None for graphframes)."""

    components: DataFrame  # id string, component string
    engine: str
    iterations: int | None


def choose_engine(spark: SparkSession, requested: str) -> str:
    """Resolve ``auto`` to ``graphframes`` when its JVM classes load, else ``spark``."""
    if requested not in ENGINES:
        raise ValueError(f"unknown connected-components engine {requested!r}; choose one of {ENGINES}")
    if requested == "auto":
        return "graphframes" if graphframes_available(spark) else "spark"
    if requested == "graphframes" and not graphframes_available(spark):
        raise RuntimeError(
            f"resolve.engine is 'graphframes' but the JAR {GRAPHFRAMES_JAR} is not on the classpath; "
            "set resolve.engine to 'spark' or 'auto', or add the JAR (make setup)"
        )
    return requested


# --- pure building blocks of the spark engine ----------------------------------------------

def canonical_edges(edges: DataFrame) -> DataFrame:
    """Undirected edges as distinct ``(src, dst)`` with ``src < dst``; nulls and self-loops dropped."""
    s, d = F.col("src").cast("string"), F.col("dst").cast("string")
    return (
        edges.select(F.least(s, d).alias("src"), F.greatest(s, d).alias("dst"))
        .where(F.col("src").isNotNull() & F.col("dst").isNotNull() & (F.col("src") != F.col("dst")))
        .distinct()
    )


def large_star(edges: DataFrame) -> DataFrame:
    """Large-star on edges with ``src < dst``: link every larger neighbour of u to min(N(u) + u).

    Returns distinct edges with ``src > dst``.
    """
    both = edges.select("src", "dst").unionByName(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
    min_nbr = both.groupBy("src").agg(F.min("dst").alias("m")).select(
        "src", F.least(F.col("src"), F.col("m")).alias("m")
    )
    # each edge (u, v) with u < v is u's larger neighbour v
    return edges.join(min_nbr, "src").select(F.col("dst").alias("src"), F.col("m").alias("dst")).distinct()


def small_star(edges: DataFrame) -> DataFrame:
    """Small-star on edges with ``src > dst``: link u and its smaller neighbours to the smallest of them.

    Returns distinct edges with ``src < dst``.
    """
    min_nbr = edges.groupBy("src").agg(F.min("dst").alias("m"))
    others = (
        edges.join(min_nbr, "src")
        .select(F.col("m").alias("src"), "dst")
        .where(F.col("src") != F.col("dst"))
    )
    selves = min_nbr.select(F.col("m").alias("src"), F.col("src").alias("dst"))
    return others.unionByName(selves).distinct()


def star_violations(edges: DataFrame) -> DataFrame:
    """One row ``(edges, changes)`` for distinct edges with ``src < dst`` (a single shuffle).

    ``changes`` counts vertices not yet settled as leaves: a dst with more than one src, or a dst
    that is itself some edge's src. Zero means every component is a star around its minimum.
    """
    as_src = edges.select(F.col("src").alias("node"), F.lit(0).alias("parents"), F.lit(1).alias("is_src"))
    as_dst = edges.select(F.col("dst").alias("node"), F.lit(1).alias("parents"), F.lit(0).alias("is_src"))
    per_node = as_src.unionByName(as_dst).groupBy("node").agg(
        F.sum("parents").alias("parents"), F.max("is_src").alias("is_src")
    )
    bad = (F.col("parents") > 1) | ((F.col("parents") >= 1) & (F.col("is_src") == 1))
    return per_node.agg(
        F.coalesce(F.sum("parents"), F.lit(0)).cast("long").alias("edges"),
        F.coalesce(F.sum(F.when(bad, 1).otherwise(0)), F.lit(0)).cast("long").alias("changes"),
    )


def components_from_stars(vertices: DataFrame, stars: DataFrame) -> DataFrame:
    """Map every vertex to its star centre; vertices outside any edge are their own component."""
    ids = vertices.select(F.col("id").cast("string").alias("id")).where(F.col("id").isNotNull()).distinct()
    leaf = stars.select(F.col("dst").alias("id"), F.col("src").alias("root"))
    return ids.join(leaf, "id", "left").select("id", F.coalesce("root", "id").alias("component"))


def min_id_labels(components: DataFrame) -> DataFrame:
    """Relabel components (any label) so each one is named by its smallest vertex id."""
    mins = components.groupBy("component").agg(F.min("id").alias("min_id"))
    return components.join(mins, "component").select("id", F.col("min_id").alias("component"))


# --- engines -------------------------------------------------------------------------------

def _spark_two_phase(
    vertices: DataFrame, edges: DataFrame, checkpoint_interval: int, max_iterations: int
) -> tuple[DataFrame, int]:
    """Iterate large-star then small-star until every component is a star (spark engine)."""
    current = canonical_edges(edges).persist(_LEVEL)
    cached = current  # the persisted frame behind `current` (unpersisted once superseded)
    stats = star_violations(current).first()
    n_edges = stats["edges"]
    log.info("connected components (spark two_phase): start edges=%d", n_edges)
    iteration = 0
    while n_edges > 0:
        if iteration >= max_iterations:
            cached.unpersist()
            raise ConvergenceError(
                f"connected components did not converge after {max_iterations} iterations "
                f"(edges={n_edges}, unsettled={stats['changes']}); raise resolve.max_iterations"
            )
        iteration += 1
        ls = large_star(current).persist(_LEVEL)
        nxt = small_star(ls).persist(_LEVEL)
        nxt_cached = nxt
        if iteration % checkpoint_interval == 0:
            nxt = nxt.checkpoint(eager=True)  # reliable checkpoint: cuts the lineage
        stats = star_violations(nxt).first()
        ls.unpersist()
        cached.unpersist()
        if nxt is not nxt_cached:
            nxt_cached.unpersist()  # the checkpoint files now back `nxt`
        cached, current = nxt_cached, nxt
        n_edges = stats["edges"]
        log.info("connected components iteration=%d edges=%d changes=%d", iteration, n_edges, stats["changes"])
        if stats["changes"] == 0:
            break
    return components_from_stars(vertices, current), iteration


def _graphframes(vertices: DataFrame, edges: DataFrame, algorithm: str, checkpoint_interval: int,
                 max_iterations: int) -> DataFrame:
    """GraphFrames connectedComponents, relabelled to min vertex id."""
    from graphframes import GraphFrame  # imported lazily: only usable with the JAR

    v = vertices.select(F.col("id").cast("string").alias("id")).where(F.col("id").isNotNull()).distinct()
    e = edges.select(F.col("src").cast("string").alias("src"), F.col("dst").cast("string").alias("dst")).where(
        F.col("src").isNotNull() & F.col("dst").isNotNull()
    )
    cc = GraphFrame(v, e).connectedComponents(
        algorithm=algorithm,
        checkpointInterval=checkpoint_interval,
        broadcastThreshold=-1,
        useLabelsAsComponents=True,
        max_iter=max_iterations,
    )
    return min_id_labels(cc.select(F.col("id"), F.col("component").cast("string").alias("component")))


def connected_components_with_stats(
    spark: SparkSession,
    vertices: DataFrame,
    edges: DataFrame,
    engine: str,
    checkpoint_dir: str,
    algorithm: str = "two_phase",
    checkpoint_interval: int = 2,
    max_iterations: int = 100,
) -> ComponentsResult:
    """Connected components plus the engine that ran and the iteration count."""
    chosen = choose_engine(spark, engine)
    spark.sparkContext.setCheckpointDir(checkpoint_dir)
    log.info("connected components: engine requested=%s running=%s", engine, chosen)
    if chosen == "graphframes":
        cc = _graphframes(vertices, edges, algorithm, checkpoint_interval, max_iterations)
        return ComponentsResult(cc, chosen, None)
    if algorithm != "two_phase":
        log.warning("spark engine implements two_phase only; ignoring algorithm=%s", algorithm)
    cc, iterations = _spark_two_phase(vertices, edges, checkpoint_interval, max_iterations)
    return ComponentsResult(cc, chosen, iterations)


def connected_components(spark: SparkSession, vertices: DataFrame, edges: DataFrame, engine: str,
                         checkpoint_dir: str, **options: object) -> DataFrame:
    """``(id, component)`` per vertex; component = smallest vertex id in it.

    ``options`` are those of connected_components_with_stats (algorithm, checkpoint_interval, max_iterations).
    """
    return connected_components_with_stats(spark, vertices, edges, engine, checkpoint_dir, **options).components
