# kefu — `make run` starts the platform, `make test` runs every test. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# `make test` first installs the system packages the tests need (tests/system-packages.sh).
.PHONY: install system run test test-unit test-integration test-e2e test-slow lint docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,test]'
	touch $(STAMP)

run: install
	$(BIN)/kefu up

system:
	@bash tests/system-packages.sh

# a file's tests on one worker (its fixtures start once); three workers on two cores, as the
# tests mostly wait on their services: 10.5 min against 13.7 with two, every test passing
test: install system
	$(BIN)/pytest -n 3 --dist loadfile

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install system
	$(BIN)/pytest tests/integration

test-e2e: install system
	$(BIN)/pytest tests/e2e

test-slow: install system
	$(BIN)/pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/kefu bench --runs 3

docs: install
	$(BIN)/kefu docs --out docs/asyncapi.yaml

clean:
	rm -rf $(VENV) .kefu .pytest_cache .ruff_cache
