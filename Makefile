# Entry points for a fresh machine: `make demo`, `make test` and `make lab`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
OUT    ?= out/demo

.PHONY: demo test lab lint bench sample-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e ".[test]"
	touch $@

$(VENV)/.installed-notebook: $(VENV)/.installed
	$(PIP) install -e ".[notebook]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/eicgeo demo --out $(OUT)

# pytest exits 5 when it collects nothing: a suite that finds no tests is a failure here.
test: $(VENV)/.installed-test
	@$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# JupyterLab on the notebooks, with everything they need (the `notebook` extra).
# Jupyter refuses root unless told; containers and CI machines often run as root.
lab: $(VENV)/.installed-notebook
	cd notebooks && $(abspath $(BIN))/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	$(BIN)/ruff check eicgeo tests bench
	$(BIN)/ruff format --check eicgeo tests bench

# Benchmarks print a table each and write bench/results/*.json; they generate their own data.
# The bench extra adds the alternatives they compare with (pyrosm).
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install -e ".[test,bench]"
	touch $@

bench: $(VENV)/.installed-bench
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

sample-data: $(VENV)/.installed
	$(BIN)/eicgeo sample-data --out sample_data/peri_urban_demo --size S

clean:
	rm -rf $(VENV) out build *.egg-info
