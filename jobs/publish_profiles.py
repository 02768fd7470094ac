"""spark-submit entry point: `cdp profile` (usage: ./spark-submit.sh jobs/publish_profiles.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["profile", *sys.argv[1:]]))
