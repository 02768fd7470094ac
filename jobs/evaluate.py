"""spark-submit entry point: `cdp evaluate` (usage: ./spark-submit.sh jobs/evaluate.py --conf conf/local.yaml --truth FILE)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
