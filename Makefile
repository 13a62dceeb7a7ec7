# Everything installs into .venv in the checkout; nothing is downloaded at run time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := build/demo.db

.PHONY: install demo test reliability lint format train bench clean

$(BIN)/monitor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/monitor

demo: install
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@echo "\$$ monitor once --feeds examples/feeds.txt --db $(DEMO_DB)"
	@$(BIN)/monitor once --feeds examples/feeds.txt --db $(DEMO_DB)
	@echo; echo "\$$ monitor once ...   # again: nothing new"
	@$(BIN)/monitor once --feeds examples/feeds.txt --db $(DEMO_DB)
	@echo; echo "\$$ monitor search relapse --db $(DEMO_DB) --limit 3"
	@$(BIN)/monitor search relapse --db $(DEMO_DB) --limit 3
	@echo; echo "\$$ monitor export --format csv --db $(DEMO_DB) | cut -c1-120 | head -6"
	@$(BIN)/monitor export --format csv --db $(DEMO_DB) | cut -c1-120 | head -6
	@echo; echo "\$$ monitor classify 'Infusions cost about \$$500 each and insurers rarely pay.'"
	@$(BIN)/monitor classify 'Infusions cost about $$500 each and insurers rarely pay.'

test: install lint
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

reliability: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check monitor tests benchmarks scripts
	$(BIN)/ruff format --check monitor tests benchmarks scripts

format: install
	$(BIN)/ruff check --fix monitor tests
	$(BIN)/ruff format monitor tests

train: install
	$(BIN)/monitor train

$(VENV)/.bench: pyproject.toml $(BIN)/monitor
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

# Every benchmark, then one table of figures and targets, benchmarks/results.json and the
# README's performance table (benchmarks/run.py; about 15 minutes).
bench: install $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
