# Two commands on a fresh machine: `make run` and `make test`. Each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration e2e lint typecheck schemas bench bench-dedupe evaluate clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Antenna needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/antenna up

test: $(STAMP)
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Regenerate the checked-in JSON Schema files after changing a model in schemas/.
schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

# Processor throughput against a bare Faust forwarder on the same embedded broker.
bench: $(STAMP)
	$(BIN)/python -m tests.bench.bench_processor -n $(or $(N),2000)

# Dedupe cost per signal as its memory fills (no broker): 1k, 10k, 100k signals.
SIZES ?= 1000,10000,100000
bench-dedupe: $(STAMP)
	$(BIN)/python -m tests.bench.bench_dedupe --sizes $(SIZES)

# Classification accuracy / macro-F1 and dedupe precision / recall on held-out data.
evaluate: $(STAMP)
	$(BIN)/antenna evaluate
