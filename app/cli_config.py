"""flask config check: the environment (.env included) and GATEWAY_CONFIG, one line per problem."""
import os

import click
from flask.cli import AppGroup

from .gateway.catalog.fields import ConfigError
from .gateway.catalog.loader import load_catalog
from .settings_env import default_workers, gunicorn_problems, per_worker_limits_warning
from .startup import config_error_line

config_cli = AppGroup("config", help="Check the configuration.")
# Settings that take one of a few words: name → (default, allowed).
CHOICES = {
    "LOG_FORMAT": ("text", ("text", "json")),
    "REDIS_DOWN_RATE_LIMITS": ("local", ("local", "closed")),
    "REDIS_DOWN_BUDGETS": ("closed", ("local", "closed")),
}


def environment_problems(env=None):
    from .config import PROBLEMS

    env = os.environ if env is None else env
    problems = list(PROBLEMS) + gunicorn_problems(env)
    for name, (default, allowed) in CHOICES.items():
        value = env.get(name, "").strip().lower() or default
        if value not in allowed:
            problems.append(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return problems


def catalog_problems(env=None):
    """The GATEWAY_CONFIG problem (the catalog stops at its first), and the catalog when fine."""
    from .vendors.manager import VendorManager

    env = os.environ if env is None else env
    source = env.get("GATEWAY_CONFIG") or None
    try:
        return [], load_catalog(source, VendorManager.vendors(), env=env)
    except ConfigError as exc:
        return [config_error_line(exc, source)], None


@config_cli.command("check")
def config_check():
    """Exit 1 after one line per problem on stderr; 0 with a summary line when all is well."""
    problems = environment_problems()
    found, catalog = catalog_problems()
    problems += found
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    workers = default_workers(os.cpu_count() or 1)
    warning = per_worker_limits_warning(workers)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    source = os.environ.get("GATEWAY_CONFIG") or "built-in default"
    click.echo(f"config ok: GATEWAY_CONFIG {source}: {len(catalog.providers)} providers, "
               f"{len(catalog.models)} models; gunicorn: {workers} worker(s)"
               f"{'' if os.environ.get('REDIS_URL', '').strip() else ', no REDIS_URL'}")
