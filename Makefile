# make run  — set up (virtualenv, dependencies, database, demo key) and serve on 127.0.0.1:5000
# make test — set up and run the test suite (with the real clients of tests/clients/: Python ones
#             in .venv, Node.js ones by `npm ci` from tests/clients/package-lock.json)
# make bench — the benchmark: upstream direct vs this gateway vs LiteLLM (README: Performance)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := FLASK_APP=wsgi $(VENV)/bin/flask
CLIENTS := tests/clients

.PHONY: run serve test lint install clients db demo bench clean

$(VENV)/.installed: requirements.txt $(CLIENTS)/requirements.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt -r $(CLIENTS)/requirements.txt
	touch $@

install: $(VENV)/.installed

# Claude Code, Codex CLI and the TypeScript SDKs (openai, anthropic, the Vercel AI SDK), exactly as
# locked; again only when the lock file changes.
$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "make: the client tests (tests/clients/) need Node.js and npm on PATH;" \
	       "install them (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(CLIENTS) --no-audit --no-fund --loglevel=error
	touch $@

clients: $(CLIENTS)/node_modules/.installed

db: install
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo

run: demo serve

serve: install
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

test: install clients
	$(VENV)/bin/coverage run -m pytest $(PYTEST_ARGS)
	$(VENV)/bin/coverage report

lint: install
	$(VENV)/bin/ruff check app server tests bench gunicorn.conf.py

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache .coverage $(CLIENTS)/node_modules
