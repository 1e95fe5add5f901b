"""flask keys create/list/revoke/rotate (the rules of /admin/keys, as an admin)."""
import click
from flask.cli import AppGroup

from . import member_limits
from .cli_common import (
    budget_cell,
    cell,
    duration_option,
    invalidate,
    limit_options,
    nothing_changed,
    project_or_fail,
    table,
    user_or_fail,
)
from .models import utcnow
from .repositories import keys as key_repo
from .repositories import projects as project_repo

keys_cli = AppGroup("keys", help="Manage virtual API keys (sk-gw-…).")


@keys_cli.command("create")
@click.option("--user", "email", required=True, help="Owner's email (or user id).")
@click.option("--name", default=None, help="A label for the key.")
@click.option("--expires-in", default=None, callback=duration_option,
              help="Lifetime such as 30d, 12h, 90m, 2w (default: never expires).")
@click.option("--project", default=None, help="Project name or id (the owner must belong to it).")
@limit_options
def keys_create(email, name, expires_in, project, **limits):
    """Create a key; the secret is printed once, alone on the last line."""
    if limits["budget_period"] is not None and limits["max_budget_usd"] is None:
        raise click.UsageError("--budget-period needs --budget")
    user = user_or_fail(email, "--user")
    expires_at = utcnow() + expires_in if expires_in is not None else None
    project_id = None
    if project is not None:
        found = project_or_fail(project, "--project")
        if not project_repo.is_member(found, user.id):
            raise click.ClickException(f"{user.email} is neither a member nor the owner of "
                                       f"project {found.name!r}; add them first")
        project_id = found.id
    fixed = member_limits.admin_fixed({**limits, "expires_at": expires_at}, None,
                                      limits["budget_period"])
    key, secret = key_repo.create(user, name=name, expires_at=expires_at, project_id=project_id,
                                  admin_limits=fixed, **limits)
    click.echo(f"created key {key.id} ({key.prefix}…) for {user.email}; store it now, "
               "it is not shown again:")
    click.echo(secret)


@keys_cli.command("list")
@click.option("--user", "email", default=None, help="Only this user's keys (email or id).")
def keys_list(email):
    """List keys (never their secrets): prefix, owner, models, state, expiry, limits."""
    user = user_or_fail(email, "--user") if email else None
    now = utcnow()

    def state(k):
        if k.revoked_at:
            return "revoked"
        return "expired" if k.expires_at and k.expires_at <= now else "active"

    rows = [(k.id, k.prefix + "…", k.name or "", k.user.email, ",".join(k.models or ["*"]),
             state(k), k.expires_at.isoformat(timespec="minutes") if k.expires_at else "",
             k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
             cell(k.rpm), cell(k.tpm), cell(k.max_parallel), budget_cell(k))
            for k in key_repo.list_all(user)]
    table(("ID", "PREFIX", "NAME", "USER", "MODELS", "STATE", "EXPIRES", "LAST USED", "RPM",
           "TPM", "PAR", "BUDGET"), rows)


def _key_or_fail(ref):
    key = key_repo.find(ref)
    if key is None:
        raise click.ClickException(f"no single key matches {ref!r}")
    return key


@keys_cli.command("revoke")
@click.argument("key_id_or_prefix")
def keys_revoke(key_id_or_prefix):
    """Revoke the key KEY_ID_OR_PREFIX (its id, or its prefix sk-gw-…) at once.
    Exits 1 when it was already revoked."""
    key = _key_or_fail(key_id_or_prefix)
    if key.revoked_at is not None:
        nothing_changed(f"key {key.id} ({key.prefix}…) was already revoked at "
                        f"{key.revoked_at.isoformat(timespec='seconds')}Z")
    key_repo.revoke(key)
    invalidate(key.key_hash)
    click.echo(f"revoked key {key.id} ({key.prefix}…)")


@keys_cli.command("rotate")
@click.argument("key_id_or_prefix")
@click.option("--expires-in", default=None, callback=duration_option,
              help="The new key's lifetime (30d, 12h…); default: the old key's expiry.")
def keys_rotate(key_id_or_prefix, expires_in):
    """Replace the key KEY_ID_OR_PREFIX: the old one is revoked and a new one with the same
    owner, name, project and limits is created; its secret is printed once, on the last line."""
    key = _key_or_fail(key_id_or_prefix)
    if key.revoked_at is not None:
        raise click.ClickException(f"key {key.id} ({key.prefix}…) is already revoked; "
                                   "create a new one instead")
    now = utcnow()
    if expires_in is None:
        expires_at = key.expires_at
        if expires_at is not None and expires_at <= now:
            raise click.BadParameter(f"key {key.id} has expired; give the new key a lifetime",
                                     param_hint="--expires-in")
    else:
        expires_at = now + expires_in
        key.admin_limits = member_limits.admin_fixed({"expires_at": expires_at},
                                                     key.admin_limits, key.budget_period)
    new, secret = key_repo.rotate(key, expires_at=expires_at)
    invalidate(key.key_hash)
    click.echo(f"revoked key {key.id} ({key.prefix}…); created key {new.id} ({new.prefix}…) "
               "in its place; store it now, it is not shown again:")
    click.echo(secret)
