"""flask projects …, users deactivate/activate, keys rotate, the no-op rule (exit 1, said so),
errors that name the option, help on every command and option, and no Alembic chatter outside
`flask db`. (tests/test_cli.py has the rest of the CLI; this file keeps both under ~300 lines.)"""
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app.errors import AuthenticationFailed
from app.models import ApiKey, Project
from app.repositories import projects as project_repo
from app.repositories import users as user_repo
from tests.conftest import DATABASE_URL
from tests.test_cli import count, create_key_cli, failed, invoke, key_row, last_line, ok, table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def people(runner):
    ok(runner, "users", "create", "dev@example.com", "--name", "Dev")
    ok(runner, "users", "create", "ops@example.com", "--role", "admin")
    return "dev@example.com", "ops@example.com"


def authenticates(app, secret):
    with app.app_context():
        try:
            return app.extensions["gateway"].authenticate(secret).key_id
        except AuthenticationFailed as exc:
            return exc.code


def the_project(app, name):
    with app.app_context():
        project = project_repo.get_by_name(name)
        members = [u.email for u in project_repo.members_of(project)] if project else None
        owner = user_repo.get(project.owner_id).email if project and project.owner_id else None
        return project, members, owner


# --- projects ----------------------------------------------------------------------------------

def test_projects_create_list_show_update(app, runner, people):
    result = ok(runner, "projects", "create", "apollo", "--description", "Moon", "--owner",
                "ops@example.com", "--rpm", "60", "--budget", "12.5", "--budget-period",
                "monthly", "--models", "gpt-*, mock-echo")
    assert "created project" in result.output and "apollo" in result.output
    project, members, owner = the_project(app, "apollo")
    assert (project.description, owner, members) == ("Moon", "ops@example.com", [])
    assert (project.rpm, project.tpm, project.models) == (60, None, ["gpt-*", "mock-echo"])
    assert str(project.max_budget_usd.normalize()) == "12.5" and project.budget_period == "monthly"
    ok(runner, "projects", "create", "zeus")

    rows = table(ok(runner, "projects", "list"))
    assert [(r[1], r[2], r[3], r[5], r[-1]) for r in rows] == [
        ("apollo", "ops@example.com", "0", "60", "12.5/monthly"), ("zeus", "-", "0", "-", "-")]
    assert [r[1] for r in table(ok(runner, "projects", "list", "--search", "ZE"))] == ["zeus"]

    shown = ok(runner, "projects", "show", str(project.id)).output
    assert "apollo" in shown and "Moon" in shown and "ops@example.com" in shown

    ok(runner, "projects", "update", "apollo", "--name", "artemis", "--rpm", "none", "--tpm",
       "500", "--owner", "none", "--description", "")
    project, _, owner = the_project(app, "artemis")
    assert (project.rpm, project.tpm, owner, project.description) == (None, 500, None, None)
    assert project.models == ["gpt-*", "mock-echo"]  # not given: unchanged
    assert str(project.max_budget_usd.normalize()) == "12.5"


@pytest.mark.parametrize("args, option", [
    (("projects", "create", "x", "--rpm", "0"), "--rpm"),
    (("projects", "create", "x", "--tpm", "many"), "--tpm"),
    (("projects", "create", "x", "--budget", "1e20"), "--budget"),
    (("projects", "create", "x", "--budget-period", "yearly"), "--budget-period"),
    (("projects", "create", "x", "--owner", "ghost@example.com"), "--owner"),
    (("projects", "create", "x", "--description", "a" * 1001), "--description"),
    (("projects", "create", " "), "NAME"),
    (("projects", "create", "x", "--models", ","), "--models"),
])
def test_projects_create_errors_name_the_option(app, runner, people, args, option):
    result = failed(runner, *args)
    assert option in result.output, result.output
    assert count(app, Project) == 0


def test_projects_create_taken_name_and_update_without_options(app, runner, people):
    ok(runner, "projects", "create", "apollo")
    result = failed(runner, "projects", "create", "apollo")
    assert "already exists" in result.output and result.output.strip().count("\n") == 0
    assert "--help" in failed(runner, "projects", "update", "apollo").output
    assert "nope" in failed(runner, "projects", "show", "nope").output


def test_projects_members(app, runner, people):
    ok(runner, "projects", "create", "apollo")
    ok(runner, "projects", "add-member", "apollo", "dev@example.com")
    assert the_project(app, "apollo")[1] == ["dev@example.com"]
    again = failed(runner, "projects", "add-member", "apollo", "dev@example.com")
    assert again.exit_code == 1 and "already a member" in again.output
    secret = create_key_cli(runner, "--project", "apollo")
    unbound = create_key_cli(runner)

    result = ok(runner, "projects", "remove-member", "apollo", "dev@example.com")
    assert str(key_row(app, secret).id) in result.output
    assert the_project(app, "apollo")[1] == []
    assert authenticates(app, secret) == "revoked_api_key"  # at once, not after the cache TTL
    assert authenticates(app, unbound) == key_row(app, unbound).id
    again = failed(runner, "projects", "remove-member", "apollo", "dev@example.com")
    assert again.exit_code == 1 and "not a member" in again.output


# --- users deactivate / activate ---------------------------------------------------------------

def test_users_deactivate_and_activate(app, runner, people):
    secret = create_key_cli(runner)
    key_id = key_row(app, secret).id
    assert authenticates(app, secret) == key_id
    ok(runner, "users", "deactivate", "dev@example.com")
    assert authenticates(app, secret) != key_id
    assert table(ok(runner, "users", "list"))[0][-1] == "no"
    again = failed(runner, "users", "deactivate", "dev@example.com")
    assert again.exit_code == 1 and "already inactive" in again.output

    with app.app_context():
        user_id = user_repo.get_by_email("dev@example.com").id
    ok(runner, "users", "activate", str(user_id))
    assert authenticates(app, secret) == key_id
    again = failed(runner, "users", "activate", "dev@example.com")
    assert again.exit_code == 1 and "already active" in again.output
    assert "ghost" in failed(runner, "users", "deactivate", "ghost@example.com").output


# --- keys revoke twice, rotate, --expires-in ---------------------------------------------------

def test_revoking_twice_says_so_and_exits_1(app, runner, people):
    secret = create_key_cli(runner)
    key = key_row(app, secret)
    ok(runner, "keys", "revoke", key.prefix)
    again = invoke(runner, "keys", "revoke", str(key.id))
    assert again.exit_code == 1, again.output
    assert "already revoked" in again.output and "nothing changed" in again.output


def test_keys_rotate(app, runner, people):
    old = create_key_cli(runner, "--name", "ci", "--rpm", "7", "--expires-in", "30d")
    old_key = key_row(app, old)
    result = ok(runner, "keys", "rotate", str(old_key.id))
    new = last_line(result)
    assert new.startswith("sk-gw-") and new != old and result.output.count(new) == 1
    new_key = key_row(app, new)
    assert (new_key.name, new_key.rpm, new_key.user_id) == ("ci", 7, old_key.user_id)
    assert new_key.expires_at == old_key.expires_at
    assert key_row(app, old).revoked_at is not None
    assert authenticates(app, old) == "revoked_api_key"
    assert authenticates(app, new) == new_key.id

    again = failed(runner, "keys", "rotate", str(old_key.id))
    assert "already revoked" in again.output
    assert "--expires-in" in failed(runner, "keys", "rotate", new_key.prefix,
                                    "--expires-in", "30x").output
    newer = last_line(ok(runner, "keys", "rotate", new_key.prefix, "--expires-in", "2h"))
    assert key_row(app, newer).expires_at < new_key.expires_at
    assert count(app, ApiKey) == 3


@pytest.mark.parametrize("value", ["30x", "0d", "100001d"])
def test_bad_expires_in_names_the_option(app, runner, people, value):
    result = failed(runner, "keys", "create", "--user", "dev@example.com", "--expires-in", value)
    assert "'--expires-in'" in result.output and value in result.output
    assert count(app, ApiKey) == 0


# --- help everywhere ---------------------------------------------------------------------------

def _commands(group, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_and_option_has_help(app):
    ours = [(path, c) for path, c in _commands(app.cli)
            if (getattr(c.callback, "__module__", "") or "").startswith("app.")
            or (isinstance(c, click.Group) and c.help)]
    names = {" ".join(p) for p, _ in ours}
    assert {"projects create", "projects update", "projects add-member", "keys rotate",
            "users deactivate", "users activate", "keys list", "users list"} <= names
    missing = []
    for path, command in ours:
        if not (command.help or command.short_help):
            missing.append(" ".join(path))
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{' '.join(path)} {param.opts[0]}")
            if isinstance(param, click.Argument) and param.human_readable_name not in (
                    command.help or ""):
                missing.append(f"{' '.join(path)} {param.human_readable_name} (not in the help)")
    assert not missing, f"without help text: {missing}"


# --- no Alembic lines outside `flask db` -------------------------------------------------------

def _flask(*args):
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": DATABASE_URL}
    return subprocess.run([str(Path(sys.executable).parent / "flask"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_normal_commands_print_no_alembic_lines(app):
    result = _flask("users", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ID", "EMAIL", "NAME", "ROLE", "ACTIVE"]
    assert "alembic" not in (result.stdout + result.stderr).lower(), result.stderr
    # `flask db …` still reports what Alembic does
    result = _flask("db", "current")
    assert result.returncode == 0, result.stderr
    assert "alembic.runtime.migration" in result.stderr
