# Entry points for a fresh machine: `make demo`, `make test` and `make lab`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
OUT    ?= out/demo

.PHONY: demo test lab lint bench bench-xrspatial-tests sample-data clean

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

# xarray-spatial's `mcda`, the alternative bench_mcda.py measures, declares Python >= 3.12; its
# 0.10.20 wheel imports and passes its own mcda tests on 3.11, so it gets a venv of its own,
# beside pinned dependencies (--no-deps --ignore-requires-python). A failed build does not stop
# `make bench`: bench_mcda.py then says so and reports its numpy floors only.
XRS_VENV := bench/.xrspatial-venv
XRS_VERSION := 0.10.20
XRS_PIP  := $(XRS_VENV)/bin/python -m pip --disable-pip-version-check -q
XRS_DEPS := numpy==2.4.6 numba==0.68.1 llvmlite==0.50.0 scipy==1.17.1 xarray==2026.9.0 pandas==3.1.1 \
            urllib3==2.8.0 threadpoolctl==3.8.0
XRS_TEST_DEPS := pytest==9.2.0 "dask[array]==2026.8.0"

$(XRS_VENV)/.installed-$(XRS_VERSION):
	@($(PYTHON) -m venv $(XRS_VENV) \
	  && $(XRS_PIP) install $(XRS_DEPS) \
	  && $(XRS_PIP) install --no-deps --ignore-requires-python xarray-spatial==$(XRS_VERSION) \
	  && $(XRS_VENV)/bin/python -c "from xrspatial import mcda" \
	  && touch $@) \
	|| echo "make bench: could not build $(XRS_VENV) (xarray-spatial); bench_mcda.py reports floors only" >&2

# xarray-spatial's own mcda tests (shipped in its wheel) in that venv, with pytest and dask added
# to it; run from /tmp, away from this project's pytest settings.
bench-xrspatial-tests: $(XRS_VENV)/.installed-$(XRS_VERSION)
	$(XRS_PIP) install $(XRS_TEST_DEPS)
	cd /tmp && $(abspath $(XRS_VENV))/bin/python -m pytest --pyargs xrspatial.tests.test_mcda -q -p no:cacheprovider

bench: $(VENV)/.installed-bench $(XRS_VENV)/.installed-$(XRS_VERSION)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

sample-data: $(VENV)/.installed
	$(BIN)/eicgeo sample-data --out sample_data/peri_urban_demo --size S

clean:
	rm -rf $(VENV) $(XRS_VENV) out build *.egg-info
