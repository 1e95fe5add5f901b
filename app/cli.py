"""flask users …, keys …, projects …, usage, models …, responses purge, demo.

The groups of the admin API live in their own modules (cli_users.py, cli_keys.py,
cli_projects.py; shared helpers in cli_common.py) and use its repositories and validation
(app/governance.py). A command that changes nothing (revoking a revoked key, deactivating an
inactive user, adding a member twice) says so and exits 1.
"""
import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .cli_common import parse_duration, table
from .cli_config import config_cli
from .cli_keys import keys_cli
from .cli_logs import logs_cli
from .cli_projects import projects_cli
from .cli_users import users_cli
from .models import utcnow
from .repositories import keys as key_repo
from .repositories import usage as usage_repo
from .repositories import users as user_repo

__all__ = ["parse_duration", "register_cli"]

DEMO_EMAIL = "demo@example.com"

models_cli = AppGroup("models", help="Inspect the model catalog.")
responses_cli = AppGroup("responses", help="Stored responses (RESPONSES_STORE).")


def _report_time(value, option, *, end=False):
    try:
        return usage_repo.parse_time(value, utcnow(), end=end) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("usage")
@with_appcontext
@click.option("--by", "group_by", type=click.Choice(usage_repo.GROUPS), default="model",
              show_default=True, help="What each line totals.")
@click.option("--since", default="7d", show_default=True,
              help="Start: a span back from now (24h, 7d, 4w) or an ISO date/datetime (UTC).")
@click.option("--until", default=None,
              help="End (exclusive; a bare date includes that day), same forms as --since.")
def usage_command(group_by, since, until):
    """Requests, tokens and cost per key, user, project, model or UTC day, with a TOTAL line."""
    start, end = _report_time(since, "--since"), _report_time(until, "--until", end=True)
    if end is not None and start >= end:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    rows = usage_repo.totals(group_by, since=start, until=end)
    with_id = group_by in ("key", "user", "project")

    def line(label, ident, r):
        cells = [label] + ([ident] if with_id else [])
        return (*cells, r.requests, r.errors, r.input_tokens, r.output_tokens, r.cached_tokens,
                f"{r.cost_usd:.6f}")

    headers = (group_by.upper(), *(["ID"] if with_id else []), "REQUESTS", "ERRORS", "INPUT",
               "OUTPUT", "CACHED", "COST_USD")
    table(headers, [*(line(r.group or "-", r.id if r.id is not None else "-", r) for r in rows),
                     line("TOTAL", "", usage_repo.summarize(rows))])


@models_cli.command("list")
def models_list():
    """List the catalog's models, their deployments and prices per million tokens."""
    catalog = current_app.extensions["gateway"].router.catalog
    rows = [(m.name, ", ".join(f"{d.provider}/{d.model}" for d in m.deployments),
             m.price.input_per_mtok, m.price.output_per_mtok) for m in catalog.models.values()]
    table(("MODEL", "DEPLOYMENTS", "IN $/MTOK", "OUT $/MTOK"), rows)


@click.command("demo")
@with_appcontext
def demo_command():
    """Create the demo admin and print its key once; safe to run again."""
    user = user_repo.get_by_email(DEMO_EMAIL) or user_repo.create(DEMO_EMAIL, name="Demo admin",
                                                                   role="admin")
    existing = [k for k in key_repo.list_all(user) if k.name == "demo" and not k.revoked_at]
    if existing:
        click.echo(f"demo key already issued ({existing[0].prefix}…); make a new one with: "
                   f"flask keys create --user {DEMO_EMAIL}")
        return
    _, secret = key_repo.create(user, name="demo")
    click.echo("demo key (shown once; use it as the OpenAI/Anthropic API key):")
    click.echo(secret)


@responses_cli.command("purge")
def responses_purge():
    """Delete every stored response past its retention (RESPONSES_RETENTION_DAYS)."""
    store = current_app.extensions["gateway"].responses_store
    if not store.enabled:
        click.echo("stored responses are off (RESPONSES_STORE=0); purging what is left")
    count = store.purge()
    click.echo(f"purged {count} expired stored response(s)")


def register_cli(app):
    for command in (users_cli, keys_cli, projects_cli, models_cli, responses_cli, usage_command,
                    demo_command):
        app.cli.add_command(command)
    app.cli.add_command(logs_cli)  # flask logs prune (app/cli_logs.py)
    app.cli.add_command(config_cli)  # flask config check (app/cli_config.py)
