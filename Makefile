# The two commands of the README: `make demo` and `make test`. Everything else is set-up they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml docs/package-lock.json | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml docs/package-lock.json
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Renkei needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@# the official AsyncAPI JSON schema, to validate docs/asyncapi.json
	npm ci --prefix docs --no-audit --no-fund --silent
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/renkei demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -p no:cacheprovider --cov=hub.core --cov-branch --cov-report=term $(ARGS)
	@if [ -f hub/core/decision.py ]; then \
	  $(BIN)/coverage report --include='hub/core/decision.py' --show-missing --fail-under=100; fi

unit: $(STAMP)
	$(BIN)/pytest -m "not kafka" -q $(ARGS)

# Every benchmark, then one results file (results/bench.json, bench.md) with each figure beside
# its baseline from the same run; RUNS runs of the Kafka benchmarks (min-median-max). Run it
# alone on the machine: the figures are only as quiet as the box.
RUNS ?= 3
bench: $(STAMP)
	$(BIN)/python -m benchmarks.codec
	$(BIN)/python -m benchmarks.decision
	$(BIN)/python -m benchmarks.memory --persons 1000000
	$(BIN)/python -m benchmarks.hub --runs $(RUNS)
	$(BIN)/python -m benchmarks.capacity --runs $(RUNS)
	$(BIN)/python -m benchmarks.hub --broker secured --runs $(RUNS) --rate-of-capacity 0.66 \
	  --out results/hub-within-capacity.json
	$(BIN)/python -m benchmarks.scaleout --runs $(RUNS)
	$(BIN)/python -m benchmarks.summary

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage
