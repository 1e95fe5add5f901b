"""Building the app for wsgi.py (gunicorn's workers and the `flask` commands): a setting or a
GATEWAY_CONFIG that cannot be used stops the start with one line per problem on stderr, not a
traceback. Under gunicorn the worker exits with gunicorn's "worker failed to boot" code, so the
master stops instead of starting workers again and again."""
import os
import sys

from .gateway.catalog.fields import ConfigError
from .settings_env import SettingError

WORKER_BOOT_ERROR = 3  # gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR


def config_check_requested(argv=None):
    """`flask config check` (also after options: `flask --app wsgi config check`): it must run,
    and report, even when the app cannot be built."""
    args = list(sys.argv if argv is None else argv)[1:]
    return any(args[i:i + 2] == ["config", "check"] for i in range(len(args) - 1))


def startup_problems():
    from .config import PROBLEMS

    return list(PROBLEMS)


def config_error_line(exc, source):
    """A catalog error as one line that names the GATEWAY_CONFIG file."""
    message = " ".join(str(exc).split())
    if source and not message.startswith("GATEWAY_CONFIG"):
        message = f"GATEWAY_CONFIG {source}: {message}"
    return message


def load_app():
    from . import create_app

    try:
        problems = startup_problems()
        if problems:
            raise SettingError("\n".join(problems))
        app = create_app()
    except (ConfigError, SettingError) as exc:
        if config_check_requested():
            return check_only_app()
        if isinstance(exc, ConfigError):
            fail([config_error_line(exc, os.environ.get("GATEWAY_CONFIG"))])
        fail(str(exc).splitlines())
    return app


def check_only_app():
    """An app with only `flask config check`, for a configuration the gateway cannot start with."""
    from flask import Flask

    from .cli_config import config_cli

    app = Flask(__name__)
    app.cli.add_command(config_cli)
    return app


def fail(problems):
    for problem in problems:
        print(f"gateway cannot start: {problem}", file=sys.stderr, flush=True)
    sys.exit(WORKER_BOOT_ERROR if "gunicorn.arbiter" in sys.modules else 1)
