"""The one loader of `.env` for gunicorn.conf.py and the app, and checks of numeric settings.

Imports nothing of the app, Flask or gevent: gunicorn.conf.py loads this file by its path in the
master, which must not import the app (a worker imports it after gevent's monkey-patching).
`.env` is read from the current directory, then the project's own `.env` and `.flaskenv`; a
variable already in the environment is never overridden (the real environment wins), and of two
files the first that sets a variable wins.
"""
import os
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
# Numeric settings read by gunicorn.conf.py: name → int or float (checked by `flask config check`).
GUNICORN_NUMBERS = {
    "WEB_CONCURRENCY": int, "GUNICORN_WORKER_CONNECTIONS": int, "GUNICORN_TIMEOUT": int,
    "GUNICORN_GRACEFUL_TIMEOUT": int, "GUNICORN_KEEPALIVE": int,
    "GUNICORN_HEADER_TIMEOUT": float, "GUNICORN_BODY_TIMEOUT": float,
    "GUNICORN_BODY_MIN_RATE": float, "GUNICORN_SEND_TIMEOUT": float,
}
_loaded = []


class SettingError(ValueError):
    """A setting of the environment that cannot be used; its message is one line."""


def env_files(cwd=None):
    cwd = Path(cwd or os.getcwd()).resolve()
    files = [cwd / ".env", ROOT / ".env", ROOT / ".flaskenv"]
    unique = []
    for path in files:
        if path not in unique and path.is_file():
            unique.append(path)
    return unique


def load_env(cwd=None):
    """Put the variables of the `.env` files into os.environ (once per process; real environment
    variables win). Returns the files read."""
    if _loaded:
        return _loaded[0]
    files = env_files(cwd)
    for path in files:
        for name, value in dotenv_values(path).items():
            if value is not None and name not in os.environ:
                os.environ[name] = value
    _loaded.append(files)
    return files


def number(name, default, kind=int, minimum=None, env=None):
    """The setting `name` as an int or float; `default` when unset or empty; SettingError when
    it is not a number (or is below `minimum`)."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise SettingError(f"{name}: must be {wanted}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingError(f"{name}: must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise SettingError(f"{name}: must be at least {minimum}, got {raw!r}")
    return value


def gunicorn_problems(env=None):
    """One line per numeric gunicorn setting that cannot be used."""
    problems = []
    for name, kind in GUNICORN_NUMBERS.items():
        try:
            number(name, None, kind, minimum=1 if name == "WEB_CONCURRENCY" else 0, env=env)
        except SettingError as exc:
            problems.append(str(exc))
    return problems


def default_workers(cpu_count, env=None):
    """WEB_CONCURRENCY, else one worker per core with REDIS_URL and ONE without it: limits and
    budgets are counted per process without Redis, so several workers would multiply them."""
    env = os.environ if env is None else env
    workers = number("WEB_CONCURRENCY", None, int, minimum=1, env=env)
    if workers is None:
        workers = cpu_count if env.get("REDIS_URL", "").strip() else 1
    return workers


def per_worker_limits_warning(workers, env=None):
    """The warning to log when several workers count limits without Redis, else None."""
    env = os.environ if env is None else env
    if workers > 1 and not env.get("REDIS_URL", "").strip():
        return (f"WEB_CONCURRENCY={workers} without REDIS_URL: every worker counts rpm, tpm, "
                f"parallel requests and budgets alone, so each limit is allowed up to {workers} "
                "times; set REDIS_URL (or WEB_CONCURRENCY=1)")
    return None
