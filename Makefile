# The two commands of the quick start: `make demo` and `make test`.
# Each bootstraps .venv (Python from .python-version via pyenv, else python3) first.
#
# Another interpreter gets a virtualenv of its own, so the same checks run on
# every supported Python side by side:
#   make test PYTHON=/path/to/python3.13 VENV=.venv-3.13
# or, for the versions CI tests, `make test-3.13`.

PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The newest installed Python of minor version $(1) (such as 3.13): pyenv's when
# it has one, else python$(1) on the PATH, else nothing.
python_of = $(or $(addsuffix /bin/python,$(shell pyenv prefix $(1) 2>/dev/null)),$(shell command -v python$(1) 2>/dev/null))
PYTHON_3_13 ?= $(call python_of,3.13)

.PHONY: demo test test-browser screenshots test-3.13 test-postgres coverage bench soak soak-postgres clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12+ is needed (see .python-version), found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# BOARD=1: also serve the live board (the admin page) and print its URL.
demo: $(STAMP)
	$(BIN)/python -m demo $(if $(BOARD),--board)

# mypy checks the package as the venv's Python sees it (version-dependent code
# and stubs), whatever the lowest version pyproject.toml names.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --python-version "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
	$(BIN)/python -m pytest

# The tests marked `database`, on PostgreSQL: scripts/postgres installs Debian's
# postgresql package if it is missing (as root), runs a throwaway server in a
# temporary folder, and stops it and removes the folder however the tests end.
test-postgres: $(STAMP)
	scripts/postgres run env DJANGO_SETTINGS_MODULE=tests.settings_postgres \
		$(BIN)/python -m pytest -m "database and not browser"

# The tests marked `browser` (pytest leaves them out otherwise): headless
# Chromium, driven by Selenium, against a live test server. scripts/chromium
# installs Debian's chromium and chromium-driver packages if they are missing
# (as root).
test-browser: $(STAMP)
	scripts/chromium
	$(BIN)/python -m pytest -m browser

# docs/board.png and docs/detail.png, taken from the demo's board by the
# browser test that follows it.
screenshots: $(STAMP)
	scripts/chromium
	SCREENSHOTS_DIR=docs $(BIN)/python -m pytest -m browser tests/test_browser_demo.py

# `make test` on Python 3.13, in .venv-3.13.
test-3.13:
	@test -n "$(PYTHON_3_13)" || { echo "Python 3.13 not found: 'pyenv install 3.13', or pass PYTHON_3_13=/path/to/python3.13" >&2; exit 1; }
	@$(PYTHON_3_13) -c 'import sys; assert sys.version_info[:2] == (3, 13), "$(PYTHON_3_13) is not Python 3.13 but " + sys.version'
	$(MAKE) test PYTHON=$(PYTHON_3_13) VENV=.venv-3.13

# The test suite under coverage (about twice as slow): which lines of the
# package no test reaches, worker processes included.
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

bench: $(STAMP)
	$(BIN)/python -m bench

# Worker processes killed with SIGKILL while they run 10,000 tasks, replaced,
# and every task counted (soak/runner.py); not part of `make test`.
soak: $(STAMP)
	$(BIN)/python -m soak

soak-postgres: $(STAMP)
	scripts/postgres run $(BIN)/python -m soak --database postgres

clean:
	rm -rf .venv .venv-* .pytest_cache .ruff_cache .mypy_cache build *.egg-info .coverage .coverage.*
