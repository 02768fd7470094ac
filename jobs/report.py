"""spark-submit entry point: `cdp report` (usage: ./spark-submit.sh jobs/report.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
