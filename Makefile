# The two commands of the quick start: `make demo` and `make test`.
# Each bootstraps .venv (Python from .python-version via pyenv, else python3) first.

PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres coverage bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12+ is needed (see .python-version), found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The tests marked `database`, on PostgreSQL: scripts/postgres installs Debian's
# postgresql package if it is missing (as root), runs a throwaway server in a
# temporary folder, and stops it and removes the folder however the tests end.
test-postgres: $(STAMP)
	scripts/postgres run env DJANGO_SETTINGS_MODULE=tests.settings_postgres \
		$(BIN)/python -m pytest -m database

# The test suite under coverage (about twice as slow): which lines of the
# package no test reaches, worker processes included.
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info .coverage .coverage.*
