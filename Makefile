# newsbote: `make demo` to watch it work, `make test` to prove it does.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SYNAPSE ?= .synapse
MISAGO ?= .misago
PORT ?= 8080
FEED_PORT ?= 8081

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("newsbote needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# A real Matrix homeserver for the tests, in its own environment (its pins are its own).
$(SYNAPSE)/.installed:
	$(PYTHON) -m venv $(SYNAPSE)
	$(SYNAPSE)/bin/python -m pip install --quiet --upgrade pip
	$(SYNAPSE)/bin/python -m pip install --quiet 'matrix-synapse>=1.100'
	touch $@

# A real Misago forum for the tests (it runs on the PostgreSQL the tests use).
$(MISAGO)/.installed:
	$(PYTHON) -m venv $(MISAGO)
	$(MISAGO)/bin/python -m pip install --quiet --upgrade pip
	$(MISAGO)/bin/python -m pip install --quiet 'misago>=0.39,<0.40'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/newsbote demo --port $(PORT) --feed-port $(FEED_PORT)

test: $(VENV)/.installed-test $(SYNAPSE)/.installed $(MISAGO)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/poll.py

clean:
	rm -rf $(VENV) $(SYNAPSE) $(MISAGO) .demo .pytest_cache .mypy_cache .ruff_cache
