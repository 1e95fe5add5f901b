"""flask users …, flask keys …, flask usage, flask models …, flask demo."""
import re
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .models import ROLES, utcnow
from .repositories import keys as key_repo
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


@keys_cli.command("create")
@click.option("--user", "email", required=True, help="Owner's email.")
@click.option("--name", default=None)
@click.option("--models", default=None, help="Comma-separated allowlist (glob patterns allowed).")
@click.option("--expires-in", default=None, help="Lifetime such as 30d, 12h, 2w.")
def keys_create(email, name, models, expires_in):
    """Create a key; the secret is printed once, alone on the last line."""
    user = _user_or_fail(email)
    expires_at = utcnow() + parse_duration(expires_in) if expires_in is not None else None
    allow = [m.strip() for m in models.split(",") if m.strip()] if models else None
    key, secret = key_repo.create(user, name=name, models=allow, expires_at=expires_at)
    click.echo(f"created key {key.id} ({key.prefix}…) for {user.email}; store it now, "
               "it is not shown again:")
    click.echo(secret)


@keys_cli.command("list")
@click.option("--user", "email", default=None)
def keys_list(email):
    user = _user_or_fail(email) if email else None
    now = utcnow()

    def state(k):
        if k.revoked_at:
            return "revoked"
        return "expired" if k.expires_at and k.expires_at <= now else "active"

    rows = [(k.id, k.prefix + "…", k.name or "", k.user.email, ",".join(k.models or ["*"]),
             state(k), k.expires_at.isoformat(timespec="minutes") if k.expires_at else "",
             k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "")
            for k in key_repo.list_all(user)]
    _table(("ID", "PREFIX", "NAME", "USER", "MODELS", "STATE", "EXPIRES", "LAST USED"), rows)


@keys_cli.command("revoke")
@click.argument("key_id_or_prefix")
def keys_revoke(key_id_or_prefix):
    key = key_repo.find(key_id_or_prefix)
    if key is None:
        raise click.ClickException(f"no single key matches {key_id_or_prefix!r}")
    key_repo.revoke(key)
    current_app.extensions["gateway"].authenticator.invalidate(key.key_hash)
    click.echo(f"revoked key {key.id} ({key.prefix}…)")


@click.command("usage")
@with_appcontext
@click.option("--by", "group_by", type=click.Choice(sorted(usage_repo.GROUPS)), default="model",
              show_default=True)
@click.option("--since", default="7d", show_default=True, help="Window such as 24h, 7d, 4w.")
def usage_command(group_by, since):
    """Requests, tokens and cost per key, user or model."""
    rows = usage_repo.totals(group_by, since=utcnow() - parse_duration(since))
    _table((group_by.upper(), "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHED", "COST_USD"),
           [(r.group or "-", r.requests, r.errors, r.input_tokens, r.output_tokens,
             r.cached_tokens, f"{r.cost_usd:.6f}") for r in rows])


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
