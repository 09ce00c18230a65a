# Two commands do all set-up on a fresh machine with Python 3 and make:
#   make run    create .venv if needed, install pathdyn, run the main job on built-in defaults
#   make test   the same set-up, then the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
STAMP := $(VENV)/.pathdyn-installed

DOCS_STAMP := $(VENV)/.pathdyn-docs-installed

.PHONY: run test test-other-cpu test-slow lint bench docs notebooks clean

$(STAMP): pyproject.toml setup.py src/pathdyn/validation/network/_kernels.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,xarray,distributed]'
	# The PyTorch engine's tests run on the CPU build where this machine keeps one as a local
	# wheel (the +cpu pin: never the multi-GB CUDA download); elsewhere they are skipped.
	$(BIN)/python -m pip install --quiet 'torch==2.13.0+cpu' || echo "no local PyTorch wheel: the PyTorch engine's tests are skipped"
	touch $(STAMP)

run: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/pathdyn derive --depths 2,2 --format text
	$(BIN)/pathdyn derive --depths 2,2 --format latex -o $(OUT)/equations.tex
	$(BIN)/pathdyn figures phase-plane -o $(OUT)/phase_plane.png
	$(BIN)/pathdyn validate --quick -o $(OUT)/validate-quick.json --plot $(OUT)/validate-quick.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The behaviour lock and determinism tests as another CPU would run them (see .ci/other-cpu).
test-other-cpu: $(STAMP)
	PYTHON=$(BIN)/python .ci/other-cpu

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# API reference and guides (warnings are errors), then the docstring examples as doctests
# (also in the default test run).
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	$(BIN)/python -m pytest -q tests/test_doctests.py
	@echo "wrote docs/_build/html/index.html"

# Execute every notebook in examples/ (small CI settings; each says how to run the full version).
notebooks: $(DOCS_STAMP)
	$(BIN)/python -m pytest -q -o addopts='' --nbmake examples/ tests/test_notebooks_paired.py

# ruff (pyflakes + pycodestyle rules), the import contract (layers, no circles: import-linter)
# and the types (mypy), all configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m mypy

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) *.egg-info build src/pathdyn/validation/network/_kernels*.so docs/_build
