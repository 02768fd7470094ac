"""spark-submit entry point: `cdp run` (usage: ./spark-submit.sh jobs/run_pipeline.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
