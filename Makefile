# Thin wrappers around plain commands; the README says what each does.
#   make lab    set up if needed, then open the course in JupyterLab (JUPYTER_ARGS passes options)
#   make test   set up if needed, then run every test (lint, unit, notebooks, TensorBoard, browser)
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tbviz-installed
JUPYTER_ARGS ?=
# Where the test run writes its TensorBoard logs (the tests read them back afterwards).
TEST_RUNS ?= $(CURDIR)/.test-runs
# Notebook tests in parallel: one worker per notebook file (loadscope), one CPU thread each.
# Two workers with torch's default thread count would oversubscribe a 2-core machine, which
# slows small-model training several-fold.
WORKERS ?= 2
WORKER_THREADS ?= 1

# The virtual environment's tools (tensorboard, jupyter) come first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup data lab test lint unit notebooks after-lessons board execute bench clean-runs

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -c "import torch, torchvision, tbviz; print('torch', torch.__version__, '| torchvision', torchvision.__version__)"
	@touch $(STAMP)

setup: $(STAMP) data

data: $(STAMP)
	$(PY) -m tbviz.data

# JupyterLab refuses to run as root (containers, CI machines) unless told --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	$(VENV)/bin/jupyter lab notebooks $(ROOT_FLAG) $(JUPYTER_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	rm -rf $(TEST_RUNS)
	TBVIZ_LOGDIR=$(TEST_RUNS) OMP_NUM_THREADS=$(WORKER_THREADS) \
		$(PY) -m pytest -m "not after_lessons" -n $(WORKERS) --dist loadscope
	TBVIZ_LOGDIR=$(TEST_RUNS) $(PY) -m pytest -m after_lessons

board: setup
	$(PY) -m tbviz.board

execute: setup
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace $(NB)

bench: setup
	$(PY) benchmarks/train_speed.py

clean-runs:
	rm -rf runs .test-runs
