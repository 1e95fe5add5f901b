"""flask users create/list/deactivate/activate (the rules of /admin/users)."""
import click
from flask.cli import AppGroup

from . import governance as gov
from .cli_common import api_errors, governed, invalidate, nothing_changed, table, user_or_fail
from .models import ROLES
from .repositories import users as user_repo

users_cli = AppGroup("users", help="Manage users (who owns keys and belongs to projects).")


@users_cli.command("create")
@click.argument("email", callback=governed(gov.parse_email))
@click.option("--name", default=None, callback=governed(gov.parse_text),
              help="Display name.")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="admin: may manage everything; member: only its own keys.")
def users_create(email, name, role):
    """Create an active user with the address EMAIL (stored lower-case)."""
    if user_repo.get_by_email(email):
        raise click.ClickException(f"a user with email {email} already exists")
    user = api_errors(user_repo.create, email, name=name, role=role)
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users_cli.command("list")
def users_list():
    """List every user: id, email, name, role and whether it is active."""
    rows = [(u.id, u.email, u.name or "", u.role, "yes" if u.active else "no")
            for u in user_repo.list_all()]
    table(("ID", "EMAIL", "NAME", "ROLE", "ACTIVE"), rows)


@users_cli.command("deactivate")
@click.argument("user")
def users_deactivate(user):
    """Deactivate USER (email or id): its keys stop working at once; nothing is deleted.
    Exits 1 when the user is already inactive."""
    found = user_or_fail(user)
    if not found.active:
        nothing_changed(f"user {found.email} is already inactive")
    user_repo.deactivate(found)
    invalidate()
    click.echo(f"deactivated user {found.id} {found.email}; its keys no longer authenticate")


@users_cli.command("activate")
@click.argument("user")
def users_activate(user):
    """Activate USER (email or id) again: its unrevoked, unexpired keys work again.
    Exits 1 when the user is already active."""
    found = user_or_fail(user)
    if found.active:
        nothing_changed(f"user {found.email} is already active")
    user_repo.update(found, {"active": True})
    invalidate()
    click.echo(f"activated user {found.id} {found.email}")
