# `make run`: set up .venv and run the main job on the embedded dataset (offline).
# `make test`: set up .venv and run the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-scale bench-folders bench-distributed clean

$(STAMP): pyproject.toml setup.py constraints.txt src/linnet/models/_kernel.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/linnet train --dataset digits

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

bench-folders: $(STAMP)
	$(BIN)/python benchmarks/bench_folders.py

bench-distributed: $(STAMP)
	$(BIN)/python benchmarks/bench_distributed.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info src/linnet/models/*.so
