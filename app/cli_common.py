"""What the CLI groups share: tables, lookups, and the admin API's validation (app/governance.py)
turned into click errors that name the option."""
import click
from click.core import ParameterSource
from flask import current_app

from . import governance as gov
from .errors import InvalidRequest
from .repositories import projects as project_repo
from .repositories import users as user_repo

NONE = "none"  # an update option's value that removes a limit


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def cell(value):
    return "-" if value is None else value


def budget_cell(row):
    if row.max_budget_usd is None:
        return "-"
    return f"{format(row.max_budget_usd.normalize(), 'f')}/{row.budget_period or 'total'}"


def invalidate(key_hash=None):
    """Drop a key (or every key) from this process's authentication cache."""
    current_app.extensions["gateway"].authenticator.invalidate(key_hash)


def nothing_changed(message):
    """A no-op (revoking a revoked key, deactivating an inactive user…): said plainly, exit 1,
    so a script can tell it from a change."""
    raise click.ClickException(f"{message}; nothing changed")


def parse_duration(value, param=None):
    """'30d', '12h', '90m', '2w' → timedelta, by the admin API's rule (gov.parse_duration)."""
    try:
        return gov.parse_duration(value.strip() if isinstance(value, str) else value)
    except InvalidRequest:
        raise click.BadParameter(f"{value!r} is not a duration like 30d, 12h, 90m or 2w (1 to "
                                 "100000 units)", param=param) from None


def duration_option(ctx, param, value):
    return None if value is None else parse_duration(value, param)


def governed(parse, convert=None, message=None):
    """A click callback: the value (converted by convert, 'none' → None) checked by a
    governance parser; its InvalidRequest becomes a BadParameter naming the option."""

    def callback(ctx, param, value):
        if value is None:
            return None
        raw = value
        try:
            if isinstance(value, str) and value.strip().lower() == NONE:
                return parse(None, param.name)
            value = convert(value) if convert else value
            return parse(value, param.name)
        except (InvalidRequest, ValueError) as exc:
            text = (f" {message}" if message else ": " + getattr(exc, "message", str(exc))
                    .replace(f"`{param.name}`", "it"))
            raise click.BadParameter(f"{raw!r}{text}", ctx=ctx, param=param) from None
    return callback


def _models(value):
    return [m for m in value.split(",") if m.strip()] or [""]


# The limit options of users, projects and keys: the admin API's limit fields, one rule set.
LIMIT_OPTIONS = [
    ("--models", "models", governed(gov.parse_models, _models),
     "Comma-separated model allowlist (glob patterns allowed); 'none': every model."),
    ("--rpm", "rpm", governed(gov.parse_int_limit, int,
                              f"must be an integer from 1 to {gov.MAX_INT}, or none"),
     "Requests per minute; 'none': no limit."),
    ("--tpm", "tpm", governed(gov.parse_int_limit, int,
                              f"must be an integer from 1 to {gov.MAX_INT}, or none"),
     "Tokens per minute; 'none': no limit."),
    ("--max-parallel", "max_parallel",
     governed(gov.parse_int_limit, int, f"must be an integer from 1 to {gov.MAX_INT}, or none"),
     "Requests in flight at once; 'none': no limit."),
    ("--budget", "max_budget_usd",
     governed(gov.parse_budget, str.strip, f"is not an amount of US dollars from 0 to "
              f"{gov.MAX_BUDGET}, such as 25 or 2.50 (or none)"),
     "Budget in USD, e.g. 25 or 2.50; 'none': no budget."),
    ("--budget-period", "budget_period", governed(gov.parse_period),
     "daily, weekly or monthly: the window the budget resets on; 'none': the budget covers "
     "the whole life."),
]


_METAVARS = {"--models": "LIST", "--budget": "USD", "--budget-period": "PERIOD"}


def limit_options(command):
    for flag, name, callback, text in reversed(LIMIT_OPTIONS):
        command = click.option(flag, name, default=None, callback=callback, help=text,
                               metavar=_METAVARS.get(flag, "N"))(command)
    return command


def given_limits(values):
    """The limit options given on the command line: {column: value} (None clears)."""
    ctx = click.get_current_context()
    return {name: values[name] for _, name, _, _ in LIMIT_OPTIONS
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}


def user_or_fail(ref, option=None):
    """A user by email or numeric id."""
    text = ref.strip()
    if text.isascii() and text.isdigit() and len(text) <= 10:
        user = user_repo.get(int(text))
    else:
        user = user_repo.get_by_email(text)
    if user is None:
        raise click.BadParameter(f"no user with email or id {ref!r}", param_hint=option) \
            if option else click.ClickException(f"no user with email or id {ref!r}")
    return user


def project_or_fail(name_or_id, option=None):
    as_id = name_or_id.isascii() and name_or_id.isdigit() and int(name_or_id) <= gov.MAX_INT
    project = project_repo.get(int(name_or_id)) if as_id else None
    if project is None:
        project = project_repo.get_by_name(name_or_id)
    if project is None:
        message = f"no project named or numbered {name_or_id!r}"
        raise (click.BadParameter(message, param_hint=option) if option
               else click.ClickException(message))
    return project


def api_errors(call, *args, **kwargs):
    """Run a repository call; an InvalidRequest (e.g. a taken name, 409) becomes a one-line
    error instead of a traceback."""
    try:
        return call(*args, **kwargs)
    except InvalidRequest as exc:
        raise click.ClickException(exc.message) from None
