# The README's two commands: `make run` (set up, then serve the default model) and
# `make test` (set up, then lint, type-check and run the whole test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --constraint constraints.txt

.PHONY: setup setup-dev run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.setup: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[torch,hub]'
	touch $@

$(VENV)/.setup-dev: $(VENV)/.setup
	$(PIP) -e '.[dev]'
	touch $@

setup: $(VENV)/.setup

setup-dev: $(VENV)/.setup-dev

run: setup
	$(BIN)/lembed embed "Local embeddings keep your text on your machine." \
		| $(BIN)/python -c 'import json,sys; r=json.loads(sys.stdin.readline()); v=r["embedding"]; print(r["model"], "shape", (len(v),), "first", [round(x, 4) for x in v[:5]])'

lint: setup-dev
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

format: setup-dev
	$(BIN)/ruff format
	$(BIN)/ruff check --fix

test: lint
	$(BIN)/pytest

bench: setup-dev
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
