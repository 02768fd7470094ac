"""spark-submit entry point: `cdp generate` (usage: ./spark-submit.sh jobs/generate_sample_data.py --out DIR)."""
import sys

from cdp.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))
