# locornn: `make train` and `make test` work on a fresh clone; each creates .venv when missing.
# `make help` lists the targets; VAR=value sets the knobs below (make train EXP=waves PRESET=smoke).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXP    ?= hamiltonian
PRESET ?= cpu
SEED   ?= 0
ARGS   ?=
SYSTEM ?=
MODEL  ?=
JOBS   ?= 2
# SYSTEM=pendulum and MODEL=lstm are shorthands for the config fields data.system / model.kind.
FIELDS := $(if $(SYSTEM),--config.data.system=$(SYSTEM)) $(if $(MODEL),--config.model.kind=$(MODEL))

.PHONY: help setup train test bench lint docs clean table ablation budget orientation figure1 figure2

help: ## this list
	@grep -E '^[a-z0-9]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14
	@echo "knobs: EXP=$(EXP) PRESET=$(PRESET) SEED=$(SEED) SYSTEM= MODEL= RUN= ARGS= JOBS=$(JOBS)"

# The virtualenv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed ## create .venv with locornn and its test tools

train: setup ## train EXP at PRESET (default hamiltonian:cpu, seed SEED) into runs/
	$(BIN)/locornn train --config $(EXP):$(PRESET) --config.seed=$(SEED) $(FIELDS) $(ARGS)

test: setup ## the test suite on JOBS pytest-xdist workers (CPU only; compiled programs kept in ~/.cache/locornn/xla; JOBS=1: one process)
	$(BIN)/python -m pytest -q $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist loadfile)

table: setup ## Table 1: VPT of every Hamiltonian system x model x seed at PRESET
	$(BIN)/locornn reproduce table1 --config hamiltonian:$(PRESET) $(ARGS)

ablation: setup ## which change moves VPT (EXP, SYSTEM, MODEL) at PRESET
	$(BIN)/locornn reproduce ablation --config $(EXP):$(PRESET) $(if $(SYSTEM),--systems $(SYSTEM)) $(if $(MODEL),--models $(MODEL)) $(ARGS)

budget: setup ## VPT against training steps at PRESET
	$(BIN)/locornn reproduce budget --config hamiltonian:$(PRESET) $(ARGS)

orientation: setup ## orientation maps of RUN=runs/... and of its untrained network
	$(BIN)/locornn analyze orientation $(RUN) $(ARGS)
	$(BIN)/locornn analyze orientation $(RUN) --untrained $(ARGS)

figure1: setup ## Figure 1 and results/waves.md at PRESET (trains missing runs)
	$(BIN)/locornn reproduce figure1 --preset $(PRESET) --seed $(SEED)
	$(BIN)/locornn reproduce waves-table --preset $(PRESET) --seed $(SEED)

figure2: setup ## Figure 2: orientation maps and the domain-size sweep at PRESET
	$(BIN)/locornn reproduce figure2 --preset $(PRESET) --seed $(SEED) $(ARGS)

bench: setup ## the timing benchmarks in benchmarks/
	$(BIN)/locornn bench

lint: setup ## ruff
	$(BIN)/ruff check src tests benchmarks

$(VENV)/.docs: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $@

docs: $(VENV)/.docs ## build the documentation into site/ (warnings are errors)
	$(BIN)/mkdocs build --strict

clean: ## remove .venv and caches
	rm -rf $(VENV) src/*.egg-info .pytest_cache .ruff_cache site
