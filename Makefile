# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-embedded deps dev-deps migrate seed train serve bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-deps: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-deps

deps: $(VENV)/.runtime-deps
dev-deps: $(VENV)/.dev-deps

## make run: fresh clone -> the app on http://$(HOST):$(PORT) with demo data and trained models.
run: deps
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py train_models --if-needed
	$(PY) manage.py train_workflow_models --if-needed
	$(PY) manage.py demo_info --url http://$(HOST):$(PORT)
	EMBEDDED_SCHEDULER=1 $(PY) -m daphne --no-server-name -b $(HOST) -p $(PORT) mlanalytics.asgi:application

## make test: the whole suite (PostgreSQL + Redis when they answer, SQLite + local memory otherwise).
test: dev-deps
	scripts/test.sh

## make test-embedded: the whole suite on SQLite and local memory only.
test-embedded: dev-deps
	TEST_BACKEND=embedded scripts/test.sh

bench: deps
	$(PY) manage.py bench

clean:
	rm -rf $(VENV) var
