"""Stable names: stages, tables, version pins and JAR coordinates live here and nowhere else."""
from __future__ import annotations

# --- version pins (setup.py reads these) -------------------------------------------------
PYSPARK_VERSION = "4.1.4"
# delta-spark 4.4.1 is on PyPI but its JAR (io.delta:delta-spark_4.1_2.13:4.4.1) is not on
# Maven Central; both sides are pinned to the newest version present on both.
DELTA_VERSION = "4.4.0"
GRAPHFRAMES_VERSION = "0.12.3"
GREAT_EXPECTATIONS_VERSION = "1.24.1"
MLFLOW_VERSION = "3.17.2"
SCALA_BINARY = "2.13"
SPARK_BINARY = "4.1"

# --- JAR coordinates (Maven Central) -----------------------------------------------------
DELTA_JAR = f"io.delta:delta-spark_{SPARK_BINARY}_{SCALA_BINARY}:{DELTA_VERSION}"
GRAPHFRAMES_JAR = f"io.graphframes:graphframes-spark4_{SCALA_BINARY}:{GRAPHFRAMES_VERSION}"
GRAPHFRAMES_CLASS = "org.graphframes.GraphFrame"

# --- stages ------------------------------------------------------------------------------
STAGE_LAND = "land"
STAGE_STANDARDIZE = "standardize"
STAGE_RESOLVE = "resolve"
STAGE_PROFILE = "profile"
STAGE_REPORT = "report"
STAGES = (STAGE_LAND, STAGE_STANDARDIZE, STAGE_RESOLVE, STAGE_PROFILE, STAGE_REPORT)
# not part of a default run: `cdp train`, or `cdp run --train` (between standardize and resolve)
STAGE_TRAIN = "train"

# --- layers and tables (paths relative to storage.root) ----------------------------------
BRONZE = "bronze"
SILVER = "silver"
GOLD = "gold"
QUARANTINE = "quarantine"
META = "meta"

SILVER_INTERACTIONS = f"{SILVER}/interactions"
SILVER_IDENTIFIERS = f"{SILVER}/identifiers"
# resolve's outputs; profile publishes them to gold together with the profile tables
SILVER_INTERACTION_RESOLVED = f"{SILVER}/interaction_resolved"  # interaction_id, customer_id
SILVER_IDENTIFIER_RESOLVED = f"{SILVER}/identifier_resolved"  # id_type, value, customer_id
SILVER_HELD_OUT_IDENTIFIERS = f"{SILVER}/held_out_identifiers"  # id_type, value, interactions, names, reason
# links of a shared identifier not taken: a household member's name on the owner's phone (cdp.identity.limits)
SILVER_GUARDED_LINKS = f"{SILVER}/guarded_links"
SILVER_LIMIT_SPLITS = f"{SILVER}/limit_splits"  # links dropped to split components over a limit (cdp.identity.limits)
SILVER_CUSTOMER_ID_CHANGES = f"{SILVER}/customer_id_changes"  # run_id, old_id, new_id, change, reason, changed_at
SILVER_MATCH_RECORDS = f"{SILVER}/match_records"  # distinct attribute tuples per deterministic customer
SILVER_MATCH_PAIRS = f"{SILVER}/match_pairs"  # every scored candidate pair of the run
GOLD_MATCH_PAIRS = f"{GOLD}/match_pairs"
GOLD_INTERACTION_CUSTOMER = f"{GOLD}/interaction_customer"
# gold/interaction_customer column: the customer id the interaction was first given (kept
# through merges, so undoing a wrong merge gives the absorbed customer its id back)
FIRST_CUSTOMER_ID = "first_customer_id"
GOLD_IDENTITY_MAP = f"{GOLD}/identity_map"
GOLD_CUSTOMER_PROFILE = f"{GOLD}/customer_profile"
GOLD_CUSTOMER_ID_HISTORY = f"{GOLD}/customer_id_history"
GOLD_RUN_METRICS = f"{GOLD}/run_metrics"
META_LANDING_STATS = f"{META}/landing_stats"
META_FILE_LEDGER = f"{META}/file_ledger"  # every file a run has seen: path, size, mtime, content hash, run_id
META_PUBLICATIONS = f"{META}/publications"  # one row per completed publication of gold: run_id, versions
META_RUNS = f"{META}/runs"  # run_id, event (started | published | unchanged | config_error), at: lets a rerun resume a killed run
META_RESOLVE_STATS = f"{META}/resolve_stats"
META_STEWARD_OVERRIDES = f"{META}/steward_overrides"  # cannot_link / must_link by `cdp unmerge` / `cdp link`
META_ERASURE_AUDIT = f"{META}/erasure_audit"  # one row per `cdp forget`: who, what, counts per table
META_SUPPRESSION = f"{META}/suppression"  # salted hashes of erased identifiers (id_type, hash, erased_at)
ERASURE_SALT_FILE = f"{META}/_erasure_salt"  # the suppression hash key when $CDP_ERASURE_SALT is unset
ERASURE_WORK_DIR = "_erasure"  # `cdp forget` writes rewritten tables here before swapping them in
META_QUALITY_RESULTS = f"{META}/quality_results"  # one row per quality check per run (cdp.quality.gates)
GX_DIR = "gx"  # the Great Expectations project under storage.root (default of quality.gx_dir)
META_TRAINING_PAIRS = f"{META}/training_pairs"  # the last training run's labelled pairs and features
META_TRAINING_RECORDS = f"{META}/training_records"  # the match records the last training run paired
MLFLOW_DB = "mlflow.db"  # default sqlite tracking store under storage.root
MLFLOW_ARTIFACTS = "mlruns"
MATCH_MODEL_NAME = "cdp_match_model"
REPORTS_DIR = "reports"
CHECKPOINT_DIR = "_checkpoints"


def bronze_table(source: str) -> str:
    return f"{BRONZE}/{source}"


def quarantine_table(source: str) -> str:
    return f"{QUARANTINE}/{source}"


# --- bronze metadata columns -------------------------------------------------------------
COL_SOURCE = "_source"
COL_RECORD_ID = "_record_id"
COL_FILE = "_file"
COL_INGESTED_AT = "_ingested_at"
COL_RUN_ID = "_run_id"
COL_ROW_HASH = "_row_hash"
COL_EVENT_TIME = "_event_time"  # parsed at landing: the latest event of a record id wins
COL_FILE_MODIFIED = "_file_modified_at"  # ties on event time: the latest file wins
BRONZE_META_COLUMNS = (COL_SOURCE, COL_RECORD_ID, COL_FILE, COL_INGESTED_AT, COL_RUN_ID, COL_ROW_HASH,
                       COL_EVENT_TIME, COL_FILE_MODIFIED)

# --- vocabularies --------------------------------------------------------------------------
KNOWN_ID_TYPES = ("email", "phone", "customer_id", "loyalty_id", "device_id", "cookie_id")
ATTRIBUTE_NAMES = (
    "first_name", "last_name", "full_name", "dob", "gender", "address", "city", "pincode", "country",
)
TIME_FORMATS_SPECIAL = ("iso8601", "epoch_s", "epoch_ms")
SOURCE_FORMATS = ("csv", "json", "jsonl", "parquet", "delta")
SUPPORT_CHANNELS = ("call_centre", "whatsapp")
PURCHASE_EVENT_TYPES = ("purchase", "order")

# Delta commit metadata (DESCRIBE HISTORY userMetadata): run id and stage, erasure id, override withdrawal
COMMIT_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
