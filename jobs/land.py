"""spark-submit entry point: `cdp land` (usage: ./spark-submit.sh jobs/land.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["land", *sys.argv[1:]]))
