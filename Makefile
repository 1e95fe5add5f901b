# make run  — set up (virtualenv, dependencies, database, demo key) and serve on 127.0.0.1:5000
# make test — set up and run the test suite
# make bench — the benchmark: upstream direct vs this gateway vs LiteLLM (README: Performance)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := FLASK_APP=wsgi $(VENV)/bin/flask

.PHONY: run serve test lint install db demo bench clean

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

db: install
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo

run: demo serve

serve: install
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: install
	$(VENV)/bin/coverage run -m pytest $(PYTEST_ARGS)
	$(VENV)/bin/coverage report

lint: install
	$(VENV)/bin/ruff check app server tests bench gunicorn.conf.py

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache .coverage
