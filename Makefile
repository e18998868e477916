# trending-tv: `make demo` runs the whole pipeline on the sample lake; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export TRENDING_TV_LAKE ?= $(CURDIR)/lake

.PHONY: install lock demo test test-fast ui lint format bench sample-lake clean spark-server prereqs-demo prereqs-test prereqs-test-fast

# Every package at the version of requirements/lock.txt (`make lock` rewrites it from the venv).
$(BIN)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements/lock.txt -e '.[dev]'
	touch $@

# Then, once per environment, the archive of Spark's classes that makes each cold local run ~4 s faster
# (trending_tv/resources/spark_classes.py); without it runs are only slower.
install: $(BIN)/.installed
	@$(BIN)/python -m trending_tv.resources.spark_classes || echo "make: continuing without a Spark class archive" >&2

# After `.venv/bin/pip install -U <name>` or a new dependency in pyproject.toml: pin what is installed.
lock: install
	$(BIN)/python requirements/lock.py

# In seconds, before anything is installed: what the machine lacks, and the command that installs it.
prereqs-demo prereqs-test prereqs-test-fast: prereqs-%:
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/check_prereqs.sh $*

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: prereqs-demo install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m trending_tv_sample.demo

# Writes the sample (raw files, tracked lists, sample_truth/) again over an existing lake; other data stays.
sample-lake: install
	$(BIN)/trending-tv-sample-lake write --lake $(TRENDING_TV_LAKE) --force

# Two workers, one test file each at a time (module fixtures stay in one process): much of the suite
# waits on servers, subprocesses and pollers, so the wall time drops on 2 cores.
PYTEST_WORKERS ?= 2

# Tests make their own lakes and Dagster homes: the demo's settings exported above are not theirs.
TEST_ENV := env -u DAGSTER_HOME -u TRENDING_TV_LAKE

test: prereqs-test install
	$(TEST_ENV) $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test-fast: prereqs-test-fast install
	$(TEST_ENV) $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# A warm Spark on 127.0.0.1:15002 (or TRENDING_TV_SPARK_REMOTE's port) in the foreground; Ctrl-C stops it.
# Runs started with TRENDING_TV_SPARK_REMOTE=sc://127.0.0.1:15002 use it instead of starting a JVM each.
spark-server: install
	$(BIN)/python -m trending_tv.resources.spark_connect

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every benchmark; `make bench BENCH="tweet_stat --only matcher"` runs a part. tweet_stat's first run generates
# its full-size days into .bench_cache/ (~5 GB, ~15 min), later runs reuse them.
BENCH ?=
bench: install
	$(BIN)/python -m trending_tv_tests.bench $(BENCH)

clean:
	rm -rf $(VENV) .dagster_home lake .demo .pytest_cache
