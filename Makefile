# Anomaly Detector: the two commands people need are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR := jupyter/data
MODEL_DIR := models
TRAIN_CSV := $(DATA_DIR)/train.csv
TEST_CSV := $(DATA_DIR)/test.csv
ALERTS_CSV := $(DATA_DIR)/alerts.csv
ACCESS_LOG_CSV := $(DATA_DIR)/access_log.csv
MODEL := $(MODEL_DIR)/model.joblib
PORT ?= 8000
TRAFFIC_RATE ?= 50
TRAFFIC_DURATION ?= 300

.PHONY: help run serve test test-fast lint format bench bench-quality bench-timeseries bench-compare reliability traffic jupyter lock clean clean-notebooks system-deps system-deps-test data model

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed-run

system-deps: ## Install Prometheus and Alertmanager with apt-get when missing (needs root)
	@bash .ci/system-deps.sh run

system-deps-test: ## Install what the tests need from Debian (Prometheus, Alertmanager, docker-compose, wrk, chromium)
	@bash .ci/system-deps.sh test

$(TRAIN_CSV) $(TEST_CSV) $(ALERTS_CSV) $(ACCESS_LOG_CSV): | $(VENV)/.installed-run
	$(BIN)/anomaly-detector generate-data --out $(DATA_DIR)

data: $(TRAIN_CSV) $(ALERTS_CSV) $(ACCESS_LOG_CSV) ## Generate the datasets (jupyter/data/: train.csv, test.csv; alerts.csv, alerts_test.csv; access_log.csv, access_log_incidents.csv)

# `init` is also what the compose model-init service runs: one way to the default model.
$(MODEL): | $(VENV)/.installed-run
	$(BIN)/anomaly-detector init --data-dir $(DATA_DIR) --out $(MODEL_DIR)

model: $(MODEL) ## Train the default model when missing (models/model.joblib)

run: $(VENV)/.installed-run $(MODEL) system-deps ## Set everything up and start the stack (Ctrl-C stops it)
	$(BIN)/anomaly-detector stack --port $(PORT)

serve: $(VENV)/.installed-run $(MODEL) ## Start only the API on :$(PORT)
	$(BIN)/anomaly-detector serve --port $(PORT)

traffic: $(VENV)/.installed-run ## Send realistic traffic with attack bursts to the running service
	$(BIN)/anomaly-detector simulate --url http://127.0.0.1:$(PORT) \
		--rate $(TRAFFIC_RATE) --duration $(TRAFFIC_DURATION)

# Unit tests use both cores; tests with real processes run one at a time, since
# several of them measure timing (alerts firing, deadlines, backpressure).
test: $(VENV)/.installed-test system-deps-test ## Install what tests need and run the whole suite
	$(BIN)/ruff check service tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not integration" -n 2
	$(BIN)/pytest -m integration --durations=15

test-fast: $(VENV)/.installed-test ## Unit tests only (no real processes)
	$(BIN)/pytest -m "not integration" -n 2

lint: $(VENV)/.installed-test ## Ruff lint, format check and the import-layer contracts
	$(BIN)/ruff check service tests bench
	$(BIN)/lint-imports
	$(BIN)/ruff format --check service tests bench

format: $(VENV)/.installed-test ## Apply ruff formatting
	$(BIN)/ruff format service tests bench
	$(BIN)/ruff check --fix service tests bench

bench: $(VENV)/.installed-test ## HTTP vs baseline vs ceiling, scorer, batch/training/memory, profile; writes bench/results.md
	@bash .ci/system-deps.sh bench
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/scoring.py | tee -a bench/results.md
	$(BIN)/python bench/batch.py | tee -a bench/results.md
	$(BIN)/python bench/profile_requests.py | tee -a bench/results.md
	$(BIN)/python bench/detector_speed.py | tee -a bench/results.md
	$(BIN)/python bench/explain_speed.py | tee -a bench/results.md
	$(BIN)/python bench/timeseries_speed.py | tee -a bench/results.md

bench-timeseries: $(VENV)/.installed-test ## NAB scores, event precision/recall and forecast MASE of every series detector on generated access logs; writes bench/results-timeseries.md
	$(BIN)/python bench/timeseries.py

bench-quality: $(VENV)/.installed-test ## ROC-AUC/PR-AUC of every detector, the ensemble and auto on a suite of datasets, PyOD side by side; writes bench/results-quality.md
	$(BIN)/python bench/quality.py --seeds $(QUALITY_SEEDS)

REF ?= HEAD~1
QUALITY_SEEDS ?= 3
bench-compare: $(VENV)/.installed-test ## requests/s of the service at commit REF against this tree, side by side
	@bash .ci/system-deps.sh bench
	$(BIN)/python bench/compare_refs.py $(REF)

reliability: $(VENV)/.installed-test ## Load-with-faults scenarios and long API fuzzing, printed as figures
	$(BIN)/python bench/reliability.py --swaps 24
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/pytest tests/serving/api/test_fuzz.py -q -p no:cacheprovider

lock: $(VENV)/.installed-run ## Rewrite service/ and jupyter/requirements.lock, the images' pinned dependencies
	$(BIN)/python .ci/lock.py

clean-notebooks: $(VENV)/.installed-test ## Strip outputs and execution counts from the notebooks
	$(BIN)/python -m anomaly_detector.devtools.notebook_hygiene jupyter/*.ipynb

JUPYTER_PORT ?= 8888
# Root is the normal case in containers and CI; JupyterLab refuses it without the flag.
JUPYTER_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

$(VENV)/.installed-jupyter: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[jupyter]"
	@touch $@ $(VENV)/.installed-run

jupyter: $(VENV)/.installed-jupyter $(MODEL) ## JupyterLab on :$(JUPYTER_PORT) for the notebooks (token from JUPYTER_TOKEN, else generated)
	cd jupyter && MODEL_PATH=$(CURDIR)/$(MODEL) SERVICE_URL=http://127.0.0.1:$(PORT) \
		$(CURDIR)/$(BIN)/jupyter lab --no-browser --port $(JUPYTER_PORT) $(JUPYTER_ROOT_FLAG)

clean: ## Remove generated data, models, caches (keeps .venv)
	find $(MODEL_DIR) -mindepth 1 ! -name .gitkeep -delete 2>/dev/null || true
	rm -rf $(DATA_DIR)/*.csv .pytest_cache .ruff_cache .hypothesis .run
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
