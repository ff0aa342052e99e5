# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
# make test and make lint also need the type checker and its stubs (requirements-dev.txt).
DEV_STAMP := $(VENV)/.dev-installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install install-dev run test lint migrate release web worker beat loadtest

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.dev-installed-* && touch $(DEV_STAMP)

install-dev: $(DEV_STAMP)

# On PostgreSQL migrations run as the owner (DATABASE_OWNER_URL, DATABASE_URL by default).
MIGRATE_DATABASE := $(if $(DATABASE_URL),owner,default)

migrate: install
	$(BIN)/python manage.py migrate --database $(MIGRATE_DATABASE) --noinput

## Install, migrate, load demo data, print an admin login, serve on 127.0.0.1:8000.
run: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py ensure_admin --reset-password
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## Install and run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: install-dev
	$(BIN)/pytest

## Formatting, lint rules, the layers' import contracts (.importlinter) and types (mypy,
## configured in pyproject.toml); CI runs it before the tests.
lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Production (see README "Operating Chronicle"): DJANGO_ENV=production, DATABASE_URL (the app
## role), REDIS_URL, SECRET_KEY, EVENT_SIGNING_KEY, SEAL_SIGNING_KEY, SEAL_SIGNING_KEY_ID,
## ALLOWED_HOSTS must be set.
## The release step, before web and workers (re)start, with DATABASE_OWNER_URL set as well:
## migrate as the owner, create or update the app role's grants, collect static files.
release: install
	$(BIN)/python manage.py migrate --database owner --noinput
	$(BIN)/python manage.py setup_database_roles
	$(BIN)/python manage.py collectstatic --noinput

## Web and workers connect as the app role; in production they refuse to start with
## DATABASE_OWNER_URL in their environment.
web: install
	$(BIN)/gunicorn config.wsgi -c gunicorn.conf.py

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO --schedule=/tmp/celerybeat-schedule

## Not part of CI: the whole stack under load for DURATION seconds (default 60) from USERS
## simulated API clients (default 20), on a throwaway PostgreSQL database (README "Load test").
## Needs DATABASE_URL (and DATABASE_OWNER_URL), REDIS_URL; installs Locust (requirements-load.txt).
DURATION ?= 60
USERS ?= 20
LOAD_STAMP := $(VENV)/.load-installed-$(shell cat requirements.txt requirements-load.txt | cksum | cut -d' ' -f1)

$(LOAD_STAMP): $(STAMP) requirements-load.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-load.txt
	rm -f $(VENV)/.load-installed-* && touch $(LOAD_STAMP)

loadtest: $(LOAD_STAMP)
	$(BIN)/python manage.py loadtest --duration $(DURATION) --users $(USERS)
