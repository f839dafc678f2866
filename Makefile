# qgen: `make papers` sets everything up on a fresh Debian machine and writes the PDFs;
# `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXAM   ?= exams/cs60010-ct2
ARGS   ?=           # e.g. make papers ARGS="--seed 7 --force"

.PHONY: papers test setup tex bench clean

papers: setup
	$(BIN)/qgen papers $(EXAM) $(ARGS)

test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

bench: setup
	$(BIN)/python bench/bench.py

setup: $(VENV)/.installed tex

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

tex:
	@sh scripts/ensure-tex.sh

clean:
	rm -rf output
