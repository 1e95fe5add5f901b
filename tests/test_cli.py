"""flask users …, flask keys …, flask usage, flask models list, flask demo."""
import hashlib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.cli import parse_duration
from app.errors import AuthenticationFailed
from app.extensions import db
from app.models import ApiKey, User, utcnow
from app.repositories import projects as project_repo
from app.repositories import request_logs
from app.repositories import users as user_repo
from tests.conftest import log_row


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def ok(runner, *args):
    result = invoke(runner, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def failed(runner, *args):
    result = invoke(runner, *args)
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "a traceback instead of a message", result.exception)
    return result


def last_line(result):
    return result.stdout.strip().splitlines()[-1]


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def key_row(app, secret):
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(
            ApiKey.key_hash == hashlib.sha256(secret.encode()).hexdigest()))
        assert key is not None, "no key stored under the sha256 of the printed secret"
        db.session.expunge(key)
        return key


def create_key_cli(runner, *args, email="dev@example.com"):
    result = ok(runner, "keys", "create", "--user", email, *args)
    secret = last_line(result)
    assert secret.startswith("sk-gw-"), result.stdout
    return secret


@pytest.fixture
def dev(runner):
    ok(runner, "users", "create", "dev@example.com", "--name", "Dev")
    return "dev@example.com"


def table(result):
    """The rows of a printed table as lists of cells, cut at the header's column starts."""
    header, *lines = result.stdout.strip("\n").splitlines()
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[a:b].strip() for a, b in bounds] for line in lines]


def in_context(app, runner, *args):
    """Invoke with an app context pushed (see test_commands_run_under_the_test_runner)."""
    with app.app_context():
        return ok(runner, *args)


# --- users -------------------------------------------------------------------------------------

def test_users_create_and_list(app, runner):
    result = ok(runner, "users", "create", "Alice@Example.com", "--name", "Alice", "--role",
                "admin")
    assert "alice@example.com" in result.stdout
    ok(runner, "users", "create", "bob@example.com")
    with app.app_context():
        alice = user_repo.get_by_email("alice@example.com")
        assert (alice.name, alice.role, alice.active) == ("Alice", "admin", True)
        assert user_repo.get_by_email("bob@example.com").role == "member"
    listing = ok(runner, "users", "list")
    assert listing.stdout.splitlines()[0].split() == ["ID", "EMAIL", "NAME", "ROLE", "ACTIVE"]
    rows = table(listing)
    assert [r[1] for r in rows] == ["alice@example.com", "bob@example.com"]
    assert rows[0][2:] == ["Alice", "admin", "yes"]
    assert rows[1][-2:] == ["member", "yes"]


@pytest.mark.parametrize("second", ["dev@example.com", "DEV@example.com", " dev@example.com "])
def test_users_create_duplicate_email_fails_with_one_line(app, runner, dev, second):
    result = failed(runner, "users", "create", second)
    assert result.output.strip().count("\n") == 0, result.output
    assert "already exists" in result.output
    assert count(app, User) == 1


@pytest.mark.parametrize("args", [
    ("users", "create", "x@example.com", "--role", "superuser"),
    ("users", "create", "not-an-email"),
])
def test_users_create_rejects_bad_input(app, runner, args):
    result = failed(runner, *args)
    assert "Error" in result.output
    assert count(app, User) == 0


# --- keys create -------------------------------------------------------------------------------

def test_keys_create_prints_the_secret_alone_on_the_last_line(app, runner, dev):
    result = ok(runner, "keys", "create", "--user", dev, "--name", "ci")
    secret = last_line(result)
    assert re.fullmatch(r"sk-gw-[A-Za-z0-9_-]{43}", secret), result.stdout
    assert result.stdout.count(secret) == 1
    key = key_row(app, secret)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:12]
    assert key.name == "ci"
    assert key.models is None and key.expires_at is None and key.revoked_at is None
    stored = [str(getattr(key, c.key)) for c in ApiKey.__table__.columns]
    assert not any(secret in value for value in stored), "the secret itself is stored"
    with app.app_context():
        principal = app.extensions["gateway"].authenticate(secret)
    assert principal.key_id == key.id
    assert principal.may_use("anything")


def test_keys_create_with_models_and_expiry(app, runner, dev):
    before = utcnow()
    secret = create_key_cli(runner, "--models", "gpt-4o*, mock-echo", "--expires-in", "30d")
    after = utcnow()
    key = key_row(app, secret)
    assert key.models == ["gpt-4o*", "mock-echo"]
    assert before + timedelta(days=30) - timedelta(seconds=1) <= key.expires_at
    assert key.expires_at <= after + timedelta(days=30) + timedelta(seconds=1)
    with app.app_context():
        principal = app.extensions["gateway"].authenticate(secret)
    assert principal.may_use("gpt-4o-mini") and principal.may_use("mock-echo")
    assert not principal.may_use("claude-sonnet-4-5")


@pytest.mark.parametrize("value, delta", [
    ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2)),
])
def test_keys_create_expiry_units(app, runner, dev, value, delta):
    secret = create_key_cli(runner, "--expires-in", value)
    expires_at = key_row(app, secret).expires_at
    assert abs(expires_at - (utcnow() + delta)) < timedelta(seconds=30)


@pytest.mark.parametrize("value", ["30", "30x", "soon", "-1d", "1.5d", "d"])
def test_keys_create_rejects_bad_expiry(app, runner, dev, value):
    result = failed(runner, "keys", "create", "--user", dev, "--expires-in", value)
    assert "not a duration" in result.output
    assert "30d" in result.output  # the message shows what a valid value looks like
    assert count(app, ApiKey) == 0


def test_keys_create_with_empty_expiry_does_not_issue_a_key_that_never_expires(app, runner, dev):
    # e.g. `flask keys create --user dev@example.com --expires-in "$TTL"` with TTL unset
    result = invoke(runner, "keys", "create", "--user", dev, "--expires-in", "")
    assert result.exit_code != 0, result.output
    assert "not a duration" in result.output
    assert count(app, ApiKey) == 0


def test_keys_create_for_unknown_user_fails(app, runner):
    result = failed(runner, "keys", "create", "--user", "ghost@example.com")
    assert "ghost@example.com" in result.output
    assert "sk-gw-" not in result.output
    assert count(app, ApiKey) == 0


def test_keys_create_with_limits_budget_and_project(app, runner, dev, project):
    secret = create_key_cli(runner, "--rpm", "60", "--tpm", "100000", "--max-parallel", "4",
                            "--budget", "12.5", "--budget-period", "monthly",
                            "--project", "apollo")
    key = key_row(app, secret)
    assert (key.rpm, key.tpm, key.max_parallel) == (60, 100000, 4)
    assert key.max_budget_usd == Decimal("12.5") and isinstance(key.max_budget_usd, Decimal)
    assert key.budget_period == "monthly"
    assert key.project_id == project
    # by id too; a budget may be fractional to the 10th decimal place and lifelong
    secret = create_key_cli(runner, "--project", str(project), "--budget", "0.0000000001")
    key = key_row(app, secret)
    assert key.project_id == project
    assert key.max_budget_usd == Decimal("0.0000000001") and key.budget_period is None
    assert (key.rpm, key.tpm, key.max_parallel) == (None, None, None)
    with app.app_context():
        principal = app.extensions["gateway"].authenticate(secret)
    assert principal.project_id == project


@pytest.mark.parametrize("args, message", [
    (("--budget", "10", "--budget-period", "yearly"), "yearly"),
    (("--budget-period", "monthly"), "--budget"),  # a period without a budget
    (("--budget", "-1"), "-1"),
    (("--budget", "ten"), "ten"),
    (("--budget", "NaN"), "NaN"),
    (("--budget", "1e20"), "1e20"),
    (("--rpm", "0"), "--rpm"),
    (("--tpm", "many"), "--tpm"),
    (("--max-parallel", "99999999999"), "--max-parallel"),
    (("--project", "nope"), "nope"),
    (("--project", "4242"), "4242"),
    (("--project", "99999999999999999999"), "99999999999999999999"),
])
def test_keys_create_rejects_bad_limits(app, runner, dev, project, args, message):
    result = failed(runner, "keys", "create", "--user", dev, *args)
    assert message in result.output
    assert "sk-gw-" not in result.output
    assert count(app, ApiKey) == 0


def test_keys_create_in_a_project_the_user_is_not_in_fails(app, runner, dev, project):
    ok(runner, "users", "create", "other@example.com")
    result = failed(runner, "keys", "create", "--user", "other@example.com", "--project",
                    "apollo")
    assert "apollo" in result.output and "member" in result.output
    assert count(app, ApiKey) == 0


# --- keys list ---------------------------------------------------------------------------------

def test_keys_list_all_and_by_user(app, runner, dev):
    ok(runner, "users", "create", "other@example.com")
    mine = create_key_cli(runner, "--name", "mine", "--models", "a,b")
    theirs = create_key_cli(runner, "--name", "theirs", email="other@example.com")

    listing = ok(runner, "keys", "list")
    assert mine not in listing.stdout and theirs not in listing.stdout  # secrets never shown
    rows = table(listing)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (mine[:12] + "…", "mine", "dev@example.com"),
        (theirs[:12] + "…", "theirs", "other@example.com"),
    ]
    assert rows[0][4:6] == ["a,b", "active"]
    assert rows[1][4:6] == ["*", "active"]
    assert rows[0][-4:] == rows[1][-4:] == ["-", "-", "-", "-"]  # RPM TPM PAR BUDGET

    rows = table(ok(runner, "keys", "list", "--user", "other@example.com"))
    assert [r[2] for r in rows] == ["theirs"]
    failed(runner, "keys", "list", "--user", "ghost@example.com")


def test_keys_list_shows_the_limits(app, runner, dev):
    create_key_cli(runner, "--rpm", "60", "--tpm", "5000", "--max-parallel", "2", "--budget",
                   "12.50", "--budget-period", "weekly")
    create_key_cli(runner, "--budget", "7")
    listing = ok(runner, "keys", "list")
    assert listing.stdout.splitlines()[0].split()[-4:] == ["RPM", "TPM", "PAR", "BUDGET"]
    rows = table(listing)
    assert rows[0][-4:] == ["60", "5000", "2", "12.5/weekly"]
    assert rows[1][-4:] == ["-", "-", "-", "7/total"]


# --- keys revoke -------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["id", "prefix"])
def test_keys_revoke_takes_effect_at_once(app, runner, dev, by):
    secret = create_key_cli(runner)
    other = create_key_cli(runner)
    key = key_row(app, secret)
    gateway = app.extensions["gateway"]
    with app.app_context():
        assert gateway.authenticate(secret).key_id == key.id  # now cached in this worker
    ok(runner, "keys", "revoke", str(key.id) if by == "id" else key.prefix)
    assert key_row(app, secret).revoked_at is not None
    with app.app_context():
        with pytest.raises(AuthenticationFailed) as info:
            gateway.authenticate(secret)
        assert info.value.code == "revoked_api_key"
        assert gateway.authenticate(other).key_id != key.id  # the other key still works
    states = {r[1]: r[5] for r in table(ok(runner, "keys", "list"))}
    assert states[secret[:12] + "…"] == "revoked"
    assert states[other[:12] + "…"] == "active"


@pytest.mark.parametrize("ref", ["9999", "sk-gw-zzzzzz-nope", "sk-gw-"])
def test_keys_revoke_unknown_or_ambiguous_fails(app, runner, dev, ref):
    create_key_cli(runner)
    create_key_cli(runner)
    result = failed(runner, "keys", "revoke", ref)
    assert ref in result.output
    assert count(app, ApiKey, ApiKey.revoked_at.is_not(None)) == 0


# --- usage -------------------------------------------------------------------------------------

@pytest.fixture
def project(app, dev):
    with app.app_context():
        return project_repo.create("apollo", owner_id=user_repo.get_by_email(dev).id).id


@pytest.fixture
def usage_rows(app, runner, dev, project):
    ok(runner, "users", "create", "other@example.com")
    dev_secret = create_key_cli(runner, "--project", "apollo")
    other_secret = create_key_cli(runner, email="other@example.com")
    dev_key, other_key = key_row(app, dev_secret), key_row(app, other_secret)
    old = utcnow() - timedelta(days=8)
    dev_ids = {"api_key_id": dev_key.id, "user_id": dev_key.user_id, "project_id": project}
    other_ids = {"api_key_id": other_key.id, "user_id": other_key.user_id}
    rows = [
        log_row("r1", model="gpt-a", input_tokens=100, output_tokens=10, cached_tokens=40,
                cost_usd=Decimal("0.001"), **dev_ids),
        log_row("r2", model="gpt-a", input_tokens=200, output_tokens=20, cached_tokens=0,
                cost_usd=Decimal("0.002"), **other_ids),
        log_row("r3", model="gpt-a", status_code=429, error_type="rate_limit_exceeded",
                **dev_ids),
        log_row("r4", model="claude-b", input_tokens=1000, output_tokens=500,
                cost_usd=Decimal("0.0105"), **dev_ids),
        log_row("r5", model="claude-b", status_code=401, error_type="invalid_api_key",
                created_at=utcnow() - timedelta(hours=3)),
        # older than the 7-day window: counted by --since 30d only
        log_row("r6", model="gpt-a", input_tokens=5000, output_tokens=5000,
                cost_usd=Decimal("1"), created_at=old, **dev_ids),
        log_row("r7", model="gpt-a", status_code=502, created_at=old - timedelta(days=1),
                **other_ids),
    ]
    with app.app_context():
        request_logs.insert_batch(rows)
    return {"dev": dev_key, "other": other_key, "rows": rows, "project": project}


def usage(app, runner, *args):
    return {r[0]: r[1:] for r in table(in_context(app, runner, "usage", *args))}


def test_usage_by_model(app, runner, usage_rows):
    result = in_context(app, runner, "usage", "--by", "model", "--since", "7d")
    assert result.stdout.splitlines()[0].split() == [
        "MODEL", "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHED", "COST_USD"]
    assert {r[0]: r[1:] for r in table(result)} == {
        "gpt-a": ["3", "1", "300", "30", "40", "0.003000"],
        "claude-b": ["2", "1", "1000", "500", "0", "0.010500"],
        "TOTAL": ["5", "2", "1300", "530", "40", "0.013500"],
    }
    # the most expensive group comes first, the TOTAL line last
    assert [r[0] for r in table(result)] == ["claude-b", "gpt-a", "TOTAL"]


def test_usage_by_user(app, runner, usage_rows):
    dev_id, other_id = str(usage_rows["dev"].user_id), str(usage_rows["other"].user_id)
    assert usage(app, runner, "--by", "user", "--since", "7d") == {
        "dev@example.com": [dev_id, "3", "1", "1100", "510", "40", "0.011500"],
        "other@example.com": [other_id, "1", "0", "200", "20", "0", "0.002000"],
        "(no user)": ["-", "1", "1", "0", "0", "0", "0.000000"],  # the unauthenticated request
        "TOTAL": ["", "5", "2", "1300", "530", "40", "0.013500"],
    }


def test_usage_by_key(app, runner, usage_rows):
    dev, other = usage_rows["dev"], usage_rows["other"]
    result = in_context(app, runner, "usage", "--by", "key", "--since", "7d")
    assert result.stdout.splitlines()[0].split() == [
        "KEY", "ID", "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHED", "COST_USD"]
    assert {r[0]: r[1:] for r in table(result)} == {
        dev.prefix + "…": [str(dev.id), "3", "1", "1100", "510", "40", "0.011500"],
        other.prefix + "…": [str(other.id), "1", "0", "200", "20", "0", "0.002000"],
        "(no key)": ["-", "1", "1", "0", "0", "0", "0.000000"],
        "TOTAL": ["", "5", "2", "1300", "530", "40", "0.013500"],
    }


def test_usage_by_project(app, runner, usage_rows):
    assert usage(app, runner, "--by", "project", "--since", "30d") == {
        "apollo": [str(usage_rows["project"]), "4", "1", "6100", "5510", "40", "1.011500"],
        "(no project)": ["-", "3", "2", "200", "20", "0", "0.002000"],
        "TOTAL": ["", "7", "3", "6300", "5530", "40", "1.013500"],
    }


def test_usage_by_day(app, runner, usage_rows):
    days = {}
    for row in usage_rows["rows"]:
        sums = days.setdefault(row["created_at"].date().isoformat(), [0, 0, Decimal(0)])
        sums[0] += 1
        sums[1] += row["status_code"] >= 400
        sums[2] += row["cost_usd"]
    result = in_context(app, runner, "usage", "--by", "day", "--since", "30d")
    rows = table(result)
    assert [r[0] for r in rows] == [*sorted(days), "TOTAL"]  # oldest day first
    assert {r[0]: [r[1], r[2], r[6]] for r in rows[:-1]} == {
        day: [str(n), str(errors), f"{cost:.6f}"] for day, (n, errors, cost) in days.items()}
    assert rows[-1][1:] == ["7", "3", "6300", "5530", "40", "1.013500"]


@pytest.mark.parametrize("group_by", ["key", "user", "project", "model", "day"])
@pytest.mark.parametrize("since", ["2h", "7d", "30d"])
def test_usage_total_line_for_every_grouping(app, runner, usage_rows, group_by, since):
    start = utcnow() - parse_duration(since)
    rows = [r for r in usage_rows["rows"] if r["created_at"] >= start]
    total = [str(len(rows)), str(sum(r["status_code"] >= 400 for r in rows)),
             *(str(sum(r[c] for r in rows)) for c in ("input_tokens", "output_tokens",
                                                        "cached_tokens")),
             f"{sum((r['cost_usd'] for r in rows), Decimal(0)):.6f}"]
    lines = table(in_context(app, runner, "usage", "--by", group_by, "--since", since))
    assert lines[-1][0] == "TOTAL"
    assert lines[-1][-6:] == total
    # the TOTAL line is the sum of the group lines
    assert [sum(int(line[i]) for line in lines[:-1]) for i in range(-6, -1)] == [
        int(v) for v in total[:-1]]


def test_usage_window(app, runner, usage_rows):
    assert usage(app, runner, "--by", "model", "--since", "30d")["gpt-a"] == [
        "5", "2", "5300", "5030", "40", "1.003000"]
    assert usage(app, runner, "--by", "model", "--since", "2h")["claude-b"] == [
        "1", "0", "1000", "500", "0", "0.010500"]


def test_usage_since_and_until_dates(app, runner, usage_rows):
    old_day = usage_rows["rows"][5]["created_at"].date()
    # a bare --until date includes that whole day
    assert usage(app, runner, "--by", "model", "--since", "30d", "--until",
                 old_day.isoformat()) == {
        "gpt-a": ["2", "1", "5000", "5000", "0", "1.000000"],
        "TOTAL": ["2", "1", "5000", "5000", "0", "1.000000"],
    }
    assert usage(app, runner, "--by", "model", "--since", old_day.isoformat(), "--until",
                 old_day.isoformat())["TOTAL"] == ["1", "0", "5000", "5000", "0", "1.000000"]


def test_usage_defaults_to_model_and_7_days(app, runner, usage_rows):
    assert usage(app, runner) == usage(app, runner, "--by", "model", "--since", "7d")


@pytest.mark.parametrize("args", [("--by", "team"), ("--since", "yesterday"),
                                  ("--until", "2025-02-30"), ("--since", "1d", "--until", "2d")])
def test_usage_rejects_bad_options(runner, args):
    result = failed(runner, "usage", *args)
    assert "Error" in result.output
    assert (args[-2] if args[0] != "--by" else "--by") in result.output  # names the option


# --- models, demo ------------------------------------------------------------------------------

def test_models_list(runner):
    result = ok(runner, "models", "list")
    rows = {r[0]: r[1:] for r in table(result)}
    assert rows["mock-echo"][0] == "mock/echo"
    assert rows["gpt-test"][0] == "up-openai/gpt-upstream"
    assert [Decimal(v) for v in rows["gpt-test"][1:]] == [Decimal(2), Decimal(8)]


def test_demo_is_idempotent(app, runner):
    first = in_context(app, runner, "demo")
    secret = last_line(first)
    assert re.fullmatch(r"sk-gw-[A-Za-z0-9_-]{43}", secret), first.stdout
    with app.app_context():
        principal = app.extensions["gateway"].authenticate(secret)
    assert principal.is_admin

    second = in_context(app, runner, "demo")
    assert not last_line(second).startswith("sk-gw-"), second.stdout
    assert secret not in second.stdout
    assert secret[:12] in second.stdout  # it names the key already issued
    assert count(app, User, User.email == "demo@example.com") == 1
    assert count(app, ApiKey) == 1


@pytest.mark.parametrize("args", [("usage",), ("demo",), ("users", "list"), ("keys", "list"),
                                  ("models", "list")])
def test_commands_run_under_the_test_runner(runner, args):
    # app.test_cli_runner() invokes app.cli directly; every command must push its app context
    # itself (as `flask <command>` does), or it crashes with "Working outside of application
    # context".
    result = invoke(runner, *args)
    assert result.exit_code == 0, (result.output, result.exception)
