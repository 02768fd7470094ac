#!/usr/bin/env bash
# Run a job with spark-submit.
#   ./spark-submit.sh jobs/run_pipeline.py --conf conf/local.yaml              (local[*], JARs from .jars/)
#   ./spark-submit.sh --master yarn jobs/run_pipeline.py --conf conf/cluster.yaml
# With --master URL the cdp package is shipped as a zip (--py-files) and the JARs as Maven
# coordinates (--packages); the cluster's Python needs the packages in setup.py installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${CDP_VENV:-$here/.venv}"
submit="$venv/bin/spark-submit"
[ -x "$submit" ] || { echo "error: $submit not found; run 'make setup' first" >&2; exit 1; }
master=""
if [ "${1:-}" = "--master" ]; then master="$2"; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--master URL] jobs/JOB.py [job args]" >&2; exit 2; }

coords() { "$venv/bin/python" -c "from cdp.constants import DELTA_JAR, GRAPHFRAMES_JAR; print(DELTA_JAR if '${CDP_NO_GRAPHFRAMES:-}' else DELTA_JAR + ',' + GRAPHFRAMES_JAR)"; }
common=(--conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
        --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog
        --conf spark.sql.session.timeZone=UTC)

if [ -z "$master" ]; then
  jars=$(ls "$here"/.jars/*.jar 2>/dev/null | paste -sd, -)
  [ -n "$jars" ] || { echo "error: no JARs in $here/.jars; run 'make setup'" >&2; exit 1; }
  export PYSPARK_PYTHON="$venv/bin/python" SPARK_SUBMIT=1
  exec "$submit" --master "local[*]" --driver-memory "${CDP_DRIVER_MEMORY:-4g}" --jars "$jars" "${common[@]}" "$@"
fi

mkdir -p "$here/dist"
(cd "$here" && rm -f dist/cdp.zip && zip -qr dist/cdp.zip cdp -x '*__pycache__*')
export SPARK_SUBMIT=1
exec "$submit" --master "$master" --py-files "$here/dist/cdp.zip" --packages "$(coords)" "${common[@]}" "$@"
