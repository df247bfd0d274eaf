# Everything runs from a project-local virtualenv that these targets create on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := build/demo

.PHONY: setup demo test lint bench release clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("mlops-forge needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Scaffold a demo project from this checkout (build/demo is scratch space, recreated each time)
# and show what its infrastructure would create in every environment.
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/mlops-forge new $(DEMO) --defaults
	$(BIN)/mlops-forge plan $(DEMO)/infra --env all --check

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Cut a release: bump pyproject.toml, turn CHANGELOG.md's [Unreleased] into the version's section,
# commit and tag vX.Y.Z (docs/releasing.md). Pushing the tag runs .github/workflows/release.yml.
release: $(STAMP)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z" >&2; exit 2; }
	$(BIN)/python scripts/release.py prepare $(VERSION)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
