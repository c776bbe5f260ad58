# `make help` lists the targets; `make test` sets up .venv and runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test notebook-test bench bench-scale bench-folders bench-figures bench-distributed clean

help:  ## this list
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml setup.py constraints.txt src/linnet/models/_kernel.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## set up .venv and train on the bundled digits dataset (offline)
	$(BIN)/linnet train --dataset digits

test: $(STAMP)  ## set up .venv and run the test suite
	$(BIN)/python -m pytest

notebook-test: $(STAMP)  ## install Jupyter's kernel and nbclient into .venv and run a real notebook
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,notebook]'
	$(BIN)/python -m pytest tests/test_notebook.py -rs

bench: $(STAMP)  ## timings against the book's reference recipe (README Performance)
	$(BIN)/python benchmarks/bench_train.py

bench-scale: $(STAMP)  ## seconds per epoch and memory for 10k to 1M samples, resident and mmap
	$(BIN)/python benchmarks/bench_scale.py

bench-folders: $(STAMP)  ## image folders: the decode-once cache against per-item PIL
	$(BIN)/python benchmarks/bench_folders.py

bench-figures: $(STAMP)  ## the figure phase of a 60k run: each figure, and linnet train with and without --no-plots
	$(BIN)/python benchmarks/bench_figures.py

bench-distributed: $(STAMP)  ## data-parallel training: processes against one (benchmarks/bench_distributed.py)
	$(BIN)/python benchmarks/bench_distributed.py

clean:  ## remove .venv, runs and build outputs
	rm -rf $(VENV) runs build src/*.egg-info src/linnet/models/*.so
