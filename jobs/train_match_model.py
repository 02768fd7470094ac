"""spark-submit entry point: `cdp train` (usage: ./spark-submit.sh jobs/train_match_model.py --conf conf/local.yaml)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
