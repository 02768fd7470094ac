# Databricks notebook source
# MAGIC %md
# MAGIC # CDP quickstart
# MAGIC Generates the seeded sample data (eight channels), runs land -> standardize -> train (the match model,
# MAGIC tracked in MLflow) -> resolve -> profile -> report and shows the unified profiles and some fuzzy links. On Databricks the cluster's `spark` is used (install this repo's wheel and
# MAGIC attach the Delta/GraphFrames libraries); locally run `.venv/bin/python notebooks/01_quickstart.py`.

# COMMAND ----------

import os
from pathlib import Path

from cdp import configure_logging
from cdp.config import load_config

configure_logging()
try:
    REPO = Path(__file__).resolve().parent.parent
except NameError:  # Databricks: notebooks have no __file__
    REPO = Path(os.getcwd()).parent
CONF_PATH = os.environ.get("CDP_CONF", str(REPO / "conf" / "local.yaml"))
conf = load_config(CONF_PATH)

# COMMAND ----------

if "spark" not in globals():
    from cdp.spark import build_spark_session

    spark = build_spark_session("cdp-notebook", conf.spark)

# COMMAND ----------

from cdp.sample.generator import generate_sample

sample_dir = REPO / "sample_data"
if not (sample_dir / "truth").exists():
    generate_sample(spark, str(sample_dir), persons=2000, seed=42)

# COMMAND ----------

from cdp.pipeline import run_pipeline, stages_with_training
from cdp.reporting.report import format_report

results = run_pipeline(spark, conf, stages=stages_with_training())
print(format_report(results["report"]))

# COMMAND ----------

from cdp.constants import GOLD_CUSTOMER_PROFILE, GOLD_INTERACTION_CUSTOMER
from cdp.tables import read_table

profiles = read_table(spark, conf, GOLD_CUSTOMER_PROFILE)
profiles.orderBy(profiles.interactions.desc()).select(
    "customer_id", "name", "primary_email", "primary_phone", "city", "channels", "interactions").show(10, truncate=False)
read_table(spark, conf, GOLD_INTERACTION_CUSTOMER).groupBy("channel").count().orderBy("channel").show()

# COMMAND ----------

# Every scored candidate pair, with the features and model version behind its decision
from cdp.constants import GOLD_MATCH_PAIRS

pairs = read_table(spark, conf, GOLD_MATCH_PAIRS)
pairs.where("decision = 'match'").orderBy("score").select(
    "left_interaction_id", "right_interaction_id", "blocking_rule", "score", "model_version").show(10, truncate=False)
