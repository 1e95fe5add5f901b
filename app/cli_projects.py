"""flask projects create/list/show/update/add-member/remove-member (the rules of
/admin/projects: the same validation, app/governance.py, and the same repository)."""
import click
from flask.cli import AppGroup

from . import governance as gov
from .cli_common import (
    NONE,
    api_errors,
    budget_cell,
    cell,
    given_limits,
    governed,
    invalidate,
    limit_options,
    nothing_changed,
    project_or_fail,
    table,
    user_or_fail,
)
from .repositories import projects as project_repo
from .repositories import users as user_repo

projects_cli = AppGroup("projects", help="Manage projects: their owner, members and limits.")

_NAME = governed(lambda v, p: gov.parse_text(v, p, required=True))
_DESCRIPTION = governed(lambda v, p: gov.parse_text(v, p, 1000, multiline=True))


def _owner(value):
    """--owner's user id; None for 'none' (resolved in the command: callbacks run before the
    app context)."""
    return None if value.strip().lower() == NONE else user_or_fail(value, "--owner").id


def _email(user_id):
    user = user_repo.get(user_id) if user_id is not None else None
    return user.email if user else "-"


def _show(project):
    click.echo(f"project {project.id} {project.name}")
    click.echo(f"  description: {project.description or '-'}")
    click.echo(f"  owner: {_email(project.owner_id)}")
    click.echo(f"  models: {','.join(project.models or ['*'])}  rpm: {cell(project.rpm)}  "
               f"tpm: {cell(project.tpm)}  max parallel: {cell(project.max_parallel)}  "
               f"budget: {budget_cell(project)}")
    members = project_repo.members_of(project)
    click.echo(f"  members ({len(members)}):")
    for user in members:
        click.echo(f"    {user.id}  {user.email}  {user.role}"
                   f"{'' if user.active else '  (inactive)'}")


@projects_cli.command("create")
@click.argument("name", callback=_NAME)
@click.option("--description", default=None, callback=_DESCRIPTION,
              help="Free text, up to 1000 characters.")
@click.option("--owner", default=None,
              help="The owning user's email or id (may create keys in it without joining).")
@limit_options
def projects_create(name, description, owner, **limits):
    """Create the project NAME (names are unique)."""
    fields = given_limits(limits)
    project = api_errors(project_repo.create, name, description=description,
                         owner_id=_owner(owner) if owner is not None else None, **fields)
    click.echo(f"created project {project.id} {project.name}")


@projects_cli.command("list")
@click.option("--search", default=None, callback=governed(lambda v, p: gov.query_text({p: v}, p)),
              help="Only projects whose name contains this text (any case).")
def projects_list(search):
    """List projects: id, name, owner, member count and limits."""
    rows, offset = [], 0
    while True:
        found, total = project_repo.page(limit=gov.MAX_PAGE, offset=offset, q=search)
        rows.extend(found)
        offset += len(found)
        if not found or offset >= total:
            break
    table(("ID", "NAME", "OWNER", "MEMBERS", "MODELS", "RPM", "TPM", "PAR", "BUDGET"),
          [(p.id, p.name, _email(p.owner_id), len(p.members), ",".join(p.models or ["*"]),
            cell(p.rpm), cell(p.tpm), cell(p.max_parallel), budget_cell(p)) for p in rows])


@projects_cli.command("show")
@click.argument("project")
def projects_show(project):
    """Show PROJECT (name or id): its settings and members."""
    _show(project_or_fail(project))


@projects_cli.command("update")
@click.argument("project")
@click.option("--name", default=None, callback=_NAME, help="A new (unique) name.")
@click.option("--description", default=None, callback=_DESCRIPTION,
              help="A new description; '' removes it.")
@click.option("--owner", default=None,
              help="The new owner's email or id; 'none': no owner.")
@limit_options
def projects_update(project, name, description, owner, **limits):
    """Change PROJECT (name or id): only the options given change; 'none' removes a limit."""
    found = project_or_fail(project)
    fields = given_limits(limits)
    ctx = click.get_current_context()
    for option, value in (("name", name), ("description", description)):
        if ctx.get_parameter_source(option).name == "COMMANDLINE":
            fields[option] = value
    if owner is not None:
        fields["owner_id"] = _owner(owner)
    if not fields:
        raise click.UsageError("give at least one option to change (see --help)")
    api_errors(project_repo.update, found, fields)
    invalidate()  # project limits are part of the cached key identity
    _show(found)


@projects_cli.command("add-member")
@click.argument("project")
@click.argument("user")
def projects_add_member(project, user):
    """Add USER (email or id) to PROJECT (name or id). Exits 1 when already a member."""
    found, member = project_or_fail(project), user_or_fail(user)
    if not project_repo.add_member(found, member):
        nothing_changed(f"{member.email} is already a member of project {found.name!r}")
    click.echo(f"added {member.email} to project {found.name!r}")


@projects_cli.command("remove-member")
@click.argument("project")
@click.argument("user")
def projects_remove_member(project, user):
    """Remove USER (email or id) from PROJECT (name or id); its keys bound to the project are
    revoked (unless it owns the project). Exits 1 when it was not a member."""
    found, member = project_or_fail(project), user_or_fail(user)
    revoked = project_repo.remove_member(found, member)
    if revoked is None:
        nothing_changed(f"{member.email} is not a member of project {found.name!r}")
    for key in revoked:
        invalidate(key.key_hash)
    ids = ", ".join(str(k.id) for k in revoked) or "none"
    click.echo(f"removed {member.email} from project {found.name!r}; revoked keys: {ids}")
