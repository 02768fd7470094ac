# Everything a fresh machine (Python 3.11 + Java 17) needs; each target is safe to run twice.
PY ?= python3.11
VENV := .venv
PYTHON := $(VENV)/bin/python
CDP := $(VENV)/bin/cdp
STAMP := $(VENV)/.installed-stamp
JARS_STAMP := .jars/.resolved-stamp
PERSONS ?= 2000
SEED ?= 42

.PHONY: setup demo test test-fast bench clean check-tools

check-tools:
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or run make PY=/path/to/python3.11"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found; install a Java 17 JDK (Spark 4.1 needs it)"; exit 1; }

$(STAMP): setup.py cdp/constants.py | check-tools
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e ".[dev]"
	touch $@

# Resolve the JARs once from Maven Central (Spark's resolver) into .jars/; later runs start offline.
$(JARS_STAMP): $(STAMP) cdp/constants.py
	$(PYTHON) -m cdp.jars --dest .jars
	touch $@

setup: $(STAMP) $(JARS_STAMP)

sample_data/.generated-stamp: $(JARS_STAMP) cdp/sample/generator.py
	$(CDP) generate --out sample_data --persons $(PERSONS) --seed $(SEED)
	touch $@

# --train: fit the match model on the sample (MLflow, sqlite under warehouse/), then resolve with it
demo: setup sample_data/.generated-stamp
	$(CDP) run --train --conf conf/local.yaml

test: setup
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow"

bench: setup
	$(PYTHON) bench/bench_stages.py --sizes 100000 1000000
	$(PYTHON) bench/bench_matching.py
	$(PYTHON) bench/bench_limits.py

clean:
	rm -rf warehouse sample_data .pytest_cache
