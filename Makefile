# navref: two commands do everything.
#   make reproduce   create .venv, install, run the default pipeline (config.yaml) and write the report
#   make test        create .venv if needed, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.navref-installed
CORES  ?= all
CONFIG ?= config.yaml

.PHONY: reproduce test venv lint format dryrun report clean

venv: $(STAMP)

# torch/torchvision first, pinned, so pip never resolves a different (multi-GB) build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check navref workflow_scripts tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules

format: $(STAMP)
	$(BIN)/ruff format navref workflow_scripts tests benchmarks
	$(BIN)/snakefmt Snakefile rules

dryrun: $(STAMP)
	$(BIN)/snakemake -n --configfile $(CONFIG)

clean:
	rm -rf results .snakemake
