"""One loader of .env for gunicorn.conf.py and the app (app/settings_env.py), one gunicorn worker
without Redis, `flask config check`, and start-up errors as one line instead of a traceback."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings_env import SettingError, default_workers, number, per_worker_limits_warning
from app.startup import config_check_requested

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(ROOT / ".venv" / "bin" / "flask")
# Loads gunicorn.conf.py as gunicorn does (its settings are the file's globals), then runs its
# on_starting hook with a stand-in server whose log warnings are printed.
LOAD_CONF = """
import json, runpy, sys
ns = runpy.run_path(sys.argv[1])
warnings = []
class Log:
    def warning(self, msg, *args):
        warnings.append(msg % args)
class Cfg:
    workers = ns["workers"]
class Server:
    log, cfg = Log(), Cfg()
ns["on_starting"](Server())
print(json.dumps({"bind": ns["bind"], "workers": ns["workers"], "timeout": ns["timeout"],
                  "warnings": warnings}))
"""
SETTINGS = ("GATEWAY_BIND", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GATEWAY_CONFIG", "FLASK_APP",
            "MAX_REQUEST_BYTES", "GUNICORN_WORKER_CLASS")
MOCK_CONFIG = """
providers:
  mock: {vendor: mock}
models:
  - name: gpt-test
    deployments: [{provider: mock, model: gpt-test}]
"""


def clean_env(tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    base.update(REDIS_URL="", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.db'}", LOG_LEVEL="WARNING")
    base.update(env)
    return {k: v for k, v in base.items() if v is not None}


def load_gunicorn_conf(tmp_path, dotenv="", **env):
    (tmp_path / ".env").write_text(dotenv)
    return subprocess.run([sys.executable, "-c", LOAD_CONF, str(ROOT / "gunicorn.conf.py")],
                          cwd=tmp_path, env=clean_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=60)


def settings(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_env_file_settings_reach_gunicorn(tmp_path):
    result = load_gunicorn_conf(tmp_path, "GATEWAY_BIND=127.0.0.1:6123\nWEB_CONCURRENCY=3\n"
                                          "REDIS_URL=redis://127.0.0.1:6379/8\n", REDIS_URL=None)
    conf = settings(result)
    assert (conf["bind"], conf["workers"], conf["warnings"]) == ("127.0.0.1:6123", 3, [])


def test_real_environment_variables_win_over_env_file(tmp_path):
    result = load_gunicorn_conf(tmp_path, "GATEWAY_BIND=127.0.0.1:6123\nWEB_CONCURRENCY=3\n"
                                          "GUNICORN_TIMEOUT=7\n",
                                GATEWAY_BIND="127.0.0.1:7000", WEB_CONCURRENCY="1")
    conf = settings(result)
    assert (conf["bind"], conf["workers"], conf["timeout"]) == ("127.0.0.1:7000", 1, 7)


def test_one_worker_without_redis(tmp_path):
    conf = settings(load_gunicorn_conf(tmp_path))
    assert (conf["workers"], conf["warnings"]) == (1, [])
    conf = settings(load_gunicorn_conf(tmp_path, REDIS_URL="redis://127.0.0.1:6379/8"))
    assert conf["workers"] == os.cpu_count()


def test_several_workers_without_redis_warn_that_limits_are_per_worker(tmp_path):
    conf = settings(load_gunicorn_conf(tmp_path, "WEB_CONCURRENCY=4\n"))
    assert conf["workers"] == 4
    [warning] = conf["warnings"]
    assert "WEB_CONCURRENCY=4 without REDIS_URL" in warning and "REDIS_URL" in warning


def test_bad_number_for_gunicorn_is_one_line_per_problem(tmp_path):
    result = load_gunicorn_conf(tmp_path, "WEB_CONCURRENCY=x\nGUNICORN_TIMEOUT=soon\n")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gunicorn.conf.py: WEB_CONCURRENCY: must be an integer, got 'x'",
        "gunicorn.conf.py: GUNICORN_TIMEOUT: must be an integer, got 'soon'"]


def test_number_and_workers_helpers():
    assert number("N", 5, env={}) == 5
    assert number("N", 5, float, env={"N": " 2.5 "}) == 2.5
    for raw in ("x", "nan", "inf"):
        with pytest.raises(SettingError, match="^N: "):
            number("N", 5, float, env={"N": raw})
    with pytest.raises(SettingError, match="at least 1"):
        number("N", 5, minimum=1, env={"N": "0"})
    assert default_workers(8, env={}) == 1
    assert default_workers(8, env={"REDIS_URL": "redis://x"}) == 8
    assert default_workers(8, env={"WEB_CONCURRENCY": "2"}) == 2
    assert per_worker_limits_warning(1, env={}) is None
    assert per_worker_limits_warning(2, env={"REDIS_URL": "redis://x"}) is None


def flask(tmp_path, *args, **env):
    env = {"FLASK_APP": str(ROOT / "wsgi.py"), **env}
    return subprocess.run([FLASK, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=clean_env(tmp_path, **env))


def assert_lines(result, expected):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == expected


def test_config_check_of_a_good_config(tmp_path):
    (tmp_path / "gateway.yaml").write_text(MOCK_CONFIG)
    result = flask(tmp_path, "config", "check", GATEWAY_CONFIG=str(tmp_path / "gateway.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("config ok: GATEWAY_CONFIG ")
    assert "1 providers, 1 models; gunicorn: 1 worker(s), no REDIS_URL" in result.stdout


def test_config_check_prints_one_line_per_problem(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("providers: {mock: {vendor: mock}\nmodels: [\n")
    result = flask(tmp_path, "config", "check", GATEWAY_CONFIG=str(path), WEB_CONCURRENCY="x",
                   MAX_REQUEST_BYTES="lots")
    assert_lines(result, [
        "MAX_REQUEST_BYTES: must be an integer, got 'lots'",
        "WEB_CONCURRENCY: must be an integer, got 'x'",
        f"GATEWAY_CONFIG: {path} is not valid YAML: expected ',' or '}}', but got '<scalar>' "
        "(line 2, column 1)"])


def test_config_check_names_an_unknown_provider(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(MOCK_CONFIG.replace("provider: mock,", "provider: nope,"))
    result = flask(tmp_path, "config", "check", GATEWAY_CONFIG=str(path))
    assert_lines(result, [f"GATEWAY_CONFIG {path}: models[0].deployments[0].provider: "
                          "unknown provider 'nope'"])


def test_bad_gateway_config_at_start_is_one_line(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(MOCK_CONFIG.replace("provider: mock,", "provider: nope,"))
    result = flask(tmp_path, "models", "list", GATEWAY_CONFIG=str(path))
    assert_lines(result, [f"gateway cannot start: GATEWAY_CONFIG {path}: "
                          "models[0].deployments[0].provider: unknown provider 'nope'"])


def test_config_check_is_recognised_after_flask_options():
    assert config_check_requested(["flask", "config", "check"])
    assert config_check_requested(["flask", "--app", "wsgi", "config", "check"])
    assert not config_check_requested(["flask", "models", "list"])
    assert not config_check_requested(["gunicorn"])


def test_config_check_with_the_app_option_runs_when_the_app_cannot_start(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("providers: [\n")
    result = flask(tmp_path, "--app", str(ROOT / "wsgi.py"), "config", "check",
                   GATEWAY_CONFIG=str(path), FLASK_APP=None)
    assert_lines(result, [f"GATEWAY_CONFIG: {path} is not valid YAML: expected the node "
                          "content, but found '<stream end>' (line 2, column 1)"])
