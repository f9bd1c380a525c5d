# navref: two commands do everything.
#   make reproduce   create .venv, install, run the default pipeline (config.yaml) and write the report
#   make study       the same for configs/study.yaml: the claims decided, about an hour on 2 cores
#   make test        create .venv if needed, run the whole test suite (the paper DAG in miniature
#                    included) on 2 pytest-xdist workers
#   make help        every target, including one per paper table and figure
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.navref-installed
CORES  ?= all
CONFIG ?= config.yaml
# make test: pytest-xdist workers (0: one process) and extra pytest arguments, e.g.
# make test PYTEST_ARGS="-m paper" (only the paper miniature), PYTEST_ARGS="-m 'not slow'"
TEST_WORKERS ?= 2
PYTEST_ARGS  ?=
# the config's run_name: its outputs live under results/$(RUN)/
RUN    ?= $(or $(shell sed -n 's/^run_name: *\([A-Za-z0-9_.-]*\).*/\1/p' $(CONFIG)),default)
OUT    := results/$(RUN)
# the config file checked first: Snakemake's own message for an empty or broken file names
# neither the file nor the line (navref.config.check_config_file)
CHECK  := $(BIN)/python -m navref.config $(CONFIG)
SNAKE  := $(CHECK) && $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
# after a run: the run's folder, jobs and job-minutes (summed benchmark: files), one line
COST   := $(BIN)/python benchmarks/pipeline_time.py --run $(RUN) --brief || true
# the files behind named target $@ (its rule's input, rules/functions/targets.smk), one a
# line: a dry run forcing only the target's own job prints them (a second or two)
FILES  = $(BIN)/snakemake $@ --configfile $(CONFIG) -n -R $@ 2>/dev/null \
	  | sed -n '/^\(local\)\{0,1\}rule $@:/,/^ *jobid/s/^ *input: //p' | tr ',' '\n' | sed 's/^ */  /'
# one named target per paper artefact (rules/targets.smk)
ARTEFACTS := table1 table2 table3 split_times fig2 fig3 fig4 fig5 fig6 fig7 fig8 fig9 training claims

.PHONY: help reproduce study test venv lint format dryrun report report-check clean $(ARTEFACTS)

help:
	@echo "make reproduce     install (.venv) and run the whole pipeline of CONFIG=$(CONFIG), write $(OUT)/report.html"
	@echo "make study         make reproduce CONFIG=configs/study.yaml: the study that decides the claims"
	@echo "                   (about an hour on 2 CPU cores; results/study/)"
	@echo "make test          the whole test suite, the paper DAG in miniature included, on"
	@echo "                   TEST_WORKERS=$(TEST_WORKERS) pytest-xdist workers; PYTEST_ARGS=\"-m paper\": only the miniature"
	@echo "make <artefact>    only the jobs one artefact needs, e.g. make table3; prints its files and the run's job-minutes:"
	@echo "                   $(ARTEFACTS)"
	@echo "make report        $(OUT)/report.html from the finished outputs"
	@echo "make report-check  open $(OUT)/report.html in headless Chromium (installs Debian's chromium with apt if missing)"
	@echo "make dryrun        what snakemake would run (snakemake -n)"
	@echo "make lint / format ruff, snakemake --lint, snakefmt"
	@echo "make clean         remove $(OUT) and .snakemake"
	@echo "Options: CONFIG=configs/paper.yaml (its run_name picks results/<run_name>/), CORES=N"

venv: $(STAMP)

# torch/torchvision first, pinned, so pip never resolves a different (multi-GB) build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

reproduce: $(STAMP)
	$(SNAKE) --rerun-incomplete
	$(MAKE) --no-print-directory report
	@echo
	@cat $(OUT)/claims.md 2>/dev/null | sed -n '1,/^$$/p' || true
	@echo "Report: $(OUT)/report.html (open it with any browser, e.g. xdg-open $(OUT)/report.html)"
	@echo "Outputs: $(OUT)/"
	@$(COST)

# the study (issue 25): the same pipeline at the scale that decides the claims
study:
	$(MAKE) --no-print-directory reproduce CONFIG=configs/study.yaml

report: $(STAMP)
	$(SNAKE) --report $(OUT)/report.html

# Optional: the report as a person sees it (tests/pipeline/test_report_layout.py on this run's
# report). Installs Chromium with apt when it is missing (root or sudo); make test never does.
CHROMIUM ?= $(or $(shell command -v chromium || command -v chromium-browser),chromium)
report-check: $(STAMP)
	@command -v $(CHROMIUM) >/dev/null || { echo "installing chromium (apt-get)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update && apt-get install -y chromium'; }
	test -f $(OUT)/report.html || $(MAKE) --no-print-directory report
	NAVREF_REPORT=$(OUT)/report.html $(BIN)/python -m pytest -q tests/pipeline/test_report_layout.py

$(ARTEFACTS): $(STAMP)
	$(CHECK) && $(BIN)/snakemake $@ --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete
	@echo
	@echo "$@: outputs under $(OUT)/"
	@$(FILES)
	@$(COST)

# --dist loadscope: one worker per test module (tests/conftest.py puts the modules sharing the
# smoke run in one scope); no reorder: the slow pipeline modules, collected first, start first
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check navref workflow_scripts tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules

format: $(STAMP)
	$(BIN)/ruff format navref workflow_scripts tests benchmarks
	$(BIN)/snakefmt Snakefile rules

dryrun: $(STAMP)
	$(CHECK) && $(BIN)/snakemake -n --configfile $(CONFIG)

clean:
	rm -rf $(OUT) .snakemake
