"""flask users …, flask keys …, flask usage, flask models …, flask demo."""
import re
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import governance as gov
from . import member_limits
from .errors import InvalidRequest
from .models import BUDGET_PERIODS, ROLES, utcnow
from .repositories import keys as key_repo
from .repositories import projects as project_repo
from .repositories import usage as usage_repo
from .repositories import users as user_repo

DEMO_EMAIL = "demo@example.com"
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

users_cli = AppGroup("users", help="Manage users.")
keys_cli = AppGroup("keys", help="Manage virtual API keys.")
models_cli = AppGroup("models", help="Inspect the model catalog.")


def parse_duration(value):
    """'30d', '12h', '90m', '2w' → timedelta."""
    match = _DURATION.match(value.strip()) if value else None
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration like 30d, 12h, 90m or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _user_or_fail(email):
    user = user_repo.get_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
def users_create(email, name, role):
    if "@" not in email:
        raise click.ClickException(f"{email!r} is not an email address")
    if user_repo.get_by_email(email):
        raise click.ClickException(f"a user with email {email} already exists")
    user = user_repo.create(email, name=name, role=role)
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users_cli.command("list")
def users_list():
    rows = [(u.id, u.email, u.name or "", u.role, "yes" if u.active else "no")
            for u in user_repo.list_all()]
    _table(("ID", "EMAIL", "NAME", "ROLE", "ACTIVE"), rows)


def _budget(ctx, param, value):
    if value is None:
        return None
    try:
        return gov.parse_budget(value.strip(), "budget")
    except InvalidRequest:
        raise click.BadParameter(f"{value!r} is not an amount of US dollars from 0 to "
                                 f"{gov.MAX_BUDGET}, such as 25 or 2.50") from None


def _project_or_fail(name_or_id):
    as_id = name_or_id.isdigit() and int(name_or_id) <= gov.MAX_INT
    project = project_repo.get(int(name_or_id)) if as_id else None
    if project is None:
        project = project_repo.get_by_name(name_or_id)
    if project is None:
        raise click.ClickException(f"no project named or numbered {name_or_id!r}")
    return project


_LIMIT = click.IntRange(1, gov.MAX_INT)


@keys_cli.command("create")
@click.option("--user", "email", required=True, help="Owner's email.")
@click.option("--name", default=None)
@click.option("--models", default=None, help="Comma-separated allowlist (glob patterns allowed).")
@click.option("--expires-in", default=None, help="Lifetime such as 30d, 12h, 2w.")
@click.option("--project", default=None, help="Project name or id (the owner must belong to it).")
@click.option("--rpm", type=_LIMIT, default=None, help="Requests per minute.")
@click.option("--tpm", type=_LIMIT, default=None, help="Tokens per minute.")
@click.option("--max-parallel", type=_LIMIT, default=None, help="Requests in flight at once.")
@click.option("--budget", default=None, callback=_budget, help="Budget in USD, e.g. 25 or 2.50.")
@click.option("--budget-period", type=click.Choice(BUDGET_PERIODS), default=None,
              help="Window the budget resets on; without it the budget covers the key's life.")
def keys_create(email, name, models, expires_in, project, rpm, tpm, max_parallel, budget,
                budget_period):
    """Create a key; the secret is printed once, alone on the last line."""
    if budget_period is not None and budget is None:
        raise click.UsageError("--budget-period needs --budget")
    user = _user_or_fail(email)
    expires_at = utcnow() + parse_duration(expires_in) if expires_in is not None else None
    allow = [m.strip() for m in models.split(",") if m.strip()] if models else None
    project_id = None
    if project is not None:
        found = _project_or_fail(project)
        if not project_repo.is_member(found, user.id):
            raise click.ClickException(f"{user.email} is neither a member nor the owner of "
                                       f"project {found.name!r}; add them first")
        project_id = found.id
    limits = {"models": allow, "rpm": rpm, "tpm": tpm, "max_parallel": max_parallel,
              "max_budget_usd": budget, "budget_period": budget_period}
    fixed = member_limits.admin_fixed({**limits, "expires_at": expires_at}, None, budget_period)
    key, secret = key_repo.create(user, name=name, expires_at=expires_at, project_id=project_id,
                                  admin_limits=fixed, **limits)
    click.echo(f"created key {key.id} ({key.prefix}…) for {user.email}; store it now, "
               "it is not shown again:")
    click.echo(secret)


def _budget_cell(key):
    if key.max_budget_usd is None:
        return "-"
    return f"{format(key.max_budget_usd.normalize(), 'f')}/{key.budget_period or 'total'}"


@keys_cli.command("list")
@click.option("--user", "email", default=None)
def keys_list(email):
    user = _user_or_fail(email) if email else None
    now = utcnow()

    def state(k):
        if k.revoked_at:
            return "revoked"
        return "expired" if k.expires_at and k.expires_at <= now else "active"

    def limit(value):
        return "-" if value is None else value

    rows = [(k.id, k.prefix + "…", k.name or "", k.user.email, ",".join(k.models or ["*"]),
             state(k), k.expires_at.isoformat(timespec="minutes") if k.expires_at else "",
             k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
             limit(k.rpm), limit(k.tpm), limit(k.max_parallel), _budget_cell(k))
            for k in key_repo.list_all(user)]
    _table(("ID", "PREFIX", "NAME", "USER", "MODELS", "STATE", "EXPIRES", "LAST USED", "RPM",
            "TPM", "PAR", "BUDGET"), rows)


@keys_cli.command("revoke")
@click.argument("key_id_or_prefix")
def keys_revoke(key_id_or_prefix):
    key = key_repo.find(key_id_or_prefix)
    if key is None:
        raise click.ClickException(f"no single key matches {key_id_or_prefix!r}")
    key_repo.revoke(key)
    current_app.extensions["gateway"].authenticator.invalidate(key.key_hash)
    click.echo(f"revoked key {key.id} ({key.prefix}…)")


def _report_time(value, option, *, end=False):
    try:
        return usage_repo.parse_time(value, utcnow(), end=end) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("usage")
@with_appcontext
@click.option("--by", "group_by", type=click.Choice(usage_repo.GROUPS), default="model",
              show_default=True)
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
    _table(headers, [*(line(r.group or "-", r.id if r.id is not None else "-", r) for r in rows),
                     line("TOTAL", "", usage_repo.summarize(rows))])


@models_cli.command("list")
def models_list():
    catalog = current_app.extensions["gateway"].router.catalog
    rows = [(m.name, ", ".join(f"{d.provider}/{d.model}" for d in m.deployments),
             m.price.input_per_mtok, m.price.output_per_mtok) for m in catalog.models.values()]
    _table(("MODEL", "DEPLOYMENTS", "IN $/MTOK", "OUT $/MTOK"), rows)


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


def register_cli(app):
    for command in (users_cli, keys_cli, models_cli, usage_command, demo_command):
        app.cli.add_command(command)
