# locornn: `make train` and `make test` work on a fresh clone; each creates .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXP    ?= hamiltonian
PRESET ?= cpu
SEED   ?= 0
ARGS   ?=
SYSTEM ?=
MODEL  ?=
# SYSTEM=pendulum and MODEL=lstm are shorthands for the config fields data.system / model.kind.
FIELDS := $(if $(SYSTEM),--config.data.system=$(SYSTEM)) $(if $(MODEL),--config.model.kind=$(MODEL))

.PHONY: setup train test bench lint clean table ablation budget orientation figure1 figure2

# The virtualenv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

train: setup
	$(BIN)/locornn train --config $(EXP):$(PRESET) --config.seed=$(SEED) $(FIELDS) $(ARGS)

# Table 1 (VPT of every Hamiltonian system x model x seed): make table PRESET=smoke|cpu|paper
table: setup
	$(BIN)/locornn table --preset $(PRESET) $(ARGS)

# Which change moves LocoRNN's VPT (spring, seed 0 by default): make ablation PRESET=cpu
ablation: setup
	$(BIN)/locornn ablation --preset $(PRESET) $(if $(filter-out hamiltonian,$(EXP)),--experiment $(EXP)) $(if $(SYSTEM),--system $(SYSTEM)) $(ARGS)

# VPT against training steps (one run per seed, read at each budget): make budget PRESET=cpu
budget: setup
	$(BIN)/locornn budget --preset $(PRESET) $(ARGS)

# Orientation maps of a trained run and of its untrained network: make orientation RUN=runs/...
orientation: setup
	$(BIN)/locornn analyze orientation $(RUN) $(ARGS)
	$(BIN)/locornn analyze orientation $(RUN) --untrained $(ARGS)

# Figure 1 (four quadrants from existing runs, training the missing ones) and results/waves.md
figure1: setup
	$(BIN)/locornn figures figure1 --preset $(PRESET) --seed $(SEED)
	$(BIN)/locornn figures waves-table --preset $(PRESET) --seed $(SEED)

# Figure 2 (orientation maps waves/noise/untrained + domain-size sweep), training missing runs
figure2: setup
	$(BIN)/locornn figures figure2 --preset $(PRESET) --seed $(SEED) $(ARGS)

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/locornn bench

lint: setup
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) src/*.egg-info .pytest_cache .ruff_cache
