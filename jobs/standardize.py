"""spark-submit entry point: `cdp standardize` (usage: ./spark-submit.sh jobs/standardize.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["standardize", *sys.argv[1:]]))
