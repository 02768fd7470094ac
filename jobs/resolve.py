"""spark-submit entry point: `cdp resolve` (usage: ./spark-submit.sh jobs/resolve.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["resolve", *sys.argv[1:]]))
