# GAN Studio. `make run` starts the app, `make test` runs the whole suite.
# Both create .venv when it is missing and install with the pinned versions in constraints.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
INSTALL := $(PIP) install --quiet -c constraints.txt

.PHONY: run test lint bench wheel screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/ganstudio

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ganstudio tests benchmarks
	$(BIN)/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/mode_coverage.py

wheel: $(VENV)/.installed-test
	$(PIP) wheel --quiet --no-deps -w dist .

screenshot: $(VENV)/.installed-run
	../shared/tools/screenshot --out screenshot.png -- $(BIN)/ganstudio

clean:
	rm -rf $(VENV) dist build .pytest_cache .ruff_cache
