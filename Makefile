# Thin wrappers around plain commands; the README and CONTRIBUTING.md say what each does.
#   make lab          set up if needed, then open the course in JupyterLab (JUPYTER_ARGS passes options)
#   make test         set up if needed, then run every test (lint, unit, notebooks, TensorBoard, browser)
#   make unit         the fast lane: unit tests that start no servers or training subprocesses
#   make lint         ruff check and ruff format --check
#   make execute NB=notebooks/03_histograms.ipynb   re-execute notebooks in place (NB: one or more)
#   make test-latest  make test in .venv-latest with the newest releases (no constraints)
#   make constraints  rewrite constraints.txt from the environment the tests just passed in
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tbviz-installed
JUPYTER_ARGS ?=
# The versions last tested; empty (CONSTRAINTS=) installs the newest releases.
CONSTRAINTS ?= constraints.txt
CONSTRAINT_FLAG := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# Where the test run writes its TensorBoard logs (the tests read them back afterwards).
TEST_RUNS ?= $(CURDIR)/.test-runs
# Notebook tests in parallel: one worker per notebook file (loadscope), one CPU thread each.
# Two workers with torch's default thread count would oversubscribe a 2-core machine, which
# slows small-model training several-fold. Notebooks are executed with the same setting.
WORKERS ?= 2
WORKER_THREADS ?= 1

# The virtual environment's tools (tensorboard, jupyter) come first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup data lab test unit lint execute board bench constraints test-latest clean-runs

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(CONSTRAINT_FLAG) -r requirements-dev.txt
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
	$(VENV)/bin/ruff format --check .

unit: setup
	OMP_NUM_THREADS=$(WORKER_THREADS) $(PY) -m pytest tests -m "not slow and not after_lessons" \
		-n $(WORKERS) -q

test: setup lint
	rm -rf $(TEST_RUNS)
	TBVIZ_LOGDIR=$(TEST_RUNS) OMP_NUM_THREADS=$(WORKER_THREADS) \
		$(PY) -m pytest -m "not after_lessons" -n $(WORKERS) --dist loadscope
	TBVIZ_LOGDIR=$(TEST_RUNS) $(PY) -m pytest -m after_lessons

execute: setup
	@test -n "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb"; exit 2; }
	OMP_NUM_THREADS=$(WORKER_THREADS) $(VENV)/bin/jupyter nbconvert --to notebook --execute \
		--inplace $(NB)

board: setup
	$(PY) -m tbviz.board

bench: setup
	$(PY) benchmarks/train_speed.py

constraints: $(STAMP)
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

test-latest:
	$(MAKE) test VENV=.venv-latest CONSTRAINTS=

clean-runs:
	rm -rf runs .test-runs
