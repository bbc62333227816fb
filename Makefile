# Two commands on a fresh machine: `make run` and `make test`. Each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration e2e lint typecheck schemas bench bench-classify bench-dedupe bench-insight evaluate clean tryton

# A real Tryton CRM for the integration tests (tests/support/tryton.py), in a venv of its
# own from the pinned set: the tests skip without it.
TRYTON_VENV  := var/tryton-venv
TRYTON_STAMP := $(TRYTON_VENV)/.installed

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Antenna needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(TRYTON_STAMP): tests/support/tryton-requirements.txt
	$(PYTHON) -m venv $(TRYTON_VENV)
	$(TRYTON_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

tryton: $(TRYTON_STAMP)

run: $(STAMP)
	$(BIN)/antenna up

test: $(STAMP) $(TRYTON_STAMP)
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) $(TRYTON_STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Regenerate the checked-in JSON Schema files and the AsyncAPI document (schemas/asyncapi.yaml)
# after changing a model or a topic in schemas/.
schemas: $(STAMP)
	$(BIN)/python -m schemas.generate
	$(BIN)/python -m schemas.asyncapi

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

# Issue #10's benchmarks, each against its baseline in the same run, into
# bench/results/latest.{md,json}: ingest vs a bare endpoint (wrk), the processor vs a bare
# Faust forward and vs offline, end-to-end latency at RATE/s for SECONDS, and each
# service's RSS after MEMORY_FIRST and MEMORY_LAST signals, each fed on its own input, no
# chunk started after MEMORY_MINUTES (tests/bench/bench_memory.py), and classification
# (issue #9 part 5, bench-classify). ONLY=ingest,latency runs some. About 20 minutes with
# the defaults on 2 cores, half of it the memory time box.
ONLY ?= ingest,processor,latency,memory,classify
bench: $(STAMP)
	$(BIN)/python -m tests.bench.run --only $(ONLY) \
		--processor-signals $(or $(N),2000) \
		--ingest-rounds $(or $(INGEST_ROUNDS),3) --ingest-seconds $(or $(INGEST_SECONDS),10) \
		--latency-rate $(or $(RATE),200) --latency-seconds $(or $(SECONDS),60) \
		--latency-low-rate $(or $(LOW_RATE),25) \
		--memory-first $(or $(MEMORY_FIRST),10000) --memory-last $(or $(MEMORY_LAST),100000) \
		--memory-minutes $(or $(MEMORY_MINUTES),10)

# Dedupe cost per signal as its memory fills (no broker): 1k, 10k, 100k signals.
SIZES ?= 1000,10000,100000
bench-dedupe: $(STAMP)
	$(BIN)/python -m tests.bench.bench_dedupe --sizes $(SIZES)

# What one insight summary costs at 1k, 10k and 100k reports (tests/bench/bench_insight.py).
bench-insight: $(STAMP)
	$(BIN)/python -m tests.bench.bench_insight

# Classification speed: `antenna classify` over 10,000 lines (fresh process) and the classify
# stage's CPU per signal (tests/bench/bench_classify.py).
bench-classify: $(STAMP)
	$(BIN)/python -m tests.bench.bench_classify --lines $(or $(LINES),10000) --signals $(or $(SIGNALS),1500)

# Classification accuracy / macro-F1 and dedupe precision / recall on held-out data.
evaluate: $(STAMP)
	$(BIN)/antenna evaluate --third-set
