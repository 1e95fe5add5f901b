"""What the benchmark measures, each started as its own process tree on loopback: the mock upstream,
this gateway under gunicorn (production settings: gevent workers, PostgreSQL, Redis, a key with
limits and a budget, prices, request logs), and LiteLLM's proxy in a virtualenv of its own."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_SPEC = os.environ.get("BENCH_LITELLM_SPEC", "litellm[proxy]==1.106.2")
UPSTREAM_KEY = "sk-bench-upstream"
MODES = ("instant", "delay", "trickle")  # bench/upstream.py's paths
ANTHROPIC_MODELS = {"bench-claude": "instant", "bench-claude-trickle": "trickle"}


class Process:
    """A started server: its process group, its URL, its log file."""

    def __init__(self, name, argv, url, ready_path, log_path, env=None, cwd=ROOT):
        self.name, self.url = name, url
        self.log_path = log_path
        self.log = open(log_path, "wb")
        environment = {**os.environ, **(env or {})}
        for name in [name for name, value in environment.items() if value is None]:
            del environment[name]  # None: unset
        self.proc = subprocess.Popen(argv, cwd=cwd, env=environment,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready(url + ready_path)

    def _wait_ready(self, url, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready after {timeout} s; see {self.log_path}")

    def pids(self):
        """This process and all its descendants."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(c) for c in children)
        return found

    def worker_pids(self):
        """The processes that serve requests: the started process's descendants (gunicorn's or
        LiteLLM's workers), or the process itself when it has none (the mock upstream)."""
        return self.pids()[1:] or [self.proc.pid]

    def peak_rss_mb(self):
        """{pid: peak resident set (VmHWM) in MB} of every process of this server."""
        peaks = {}
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = round(int(line.split()[1]) / 1024, 1)
        return peaks

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_upstream(port, out):
    return Process("mock upstream", [sys.executable, str(BENCH / "upstream.py"), "--port",
                                     str(port)],
                   f"http://127.0.0.1:{port}", "/", out / "upstream.log")


def gateway_config(upstream):
    """The gateway's providers/models: one OpenAI-format provider per upstream mode, and an
    Anthropic-format one for the instant mode (bench-claude) and the trickle mode
    (bench-claude-trickle); every model priced, so cost is computed."""
    price = "{input_per_mtok: 0.15, output_per_mtok: 0.60}"
    lines = ["providers:"]
    for mode in MODES:
        lines.append(f"  up-{mode}: {{vendor: openai, base_url: \"{upstream}/{mode}/v1\", "
                     f"api_keys: [\"{UPSTREAM_KEY}\"]}}")
    for name, mode in ANTHROPIC_MODELS.items():
        lines.append(f"  up-{name.removeprefix('bench-')}: {{vendor: anthropic, "
                     f"base_url: \"{upstream}/{mode}\", api_keys: [\"{UPSTREAM_KEY}\"]}}")
    lines.append("models:")
    for mode in MODES:
        lines.append(f"  - {{name: bench-{mode}, deployments: [{{provider: up-{mode}, "
                     f"model: bench}}], price: {price}}}")
    for name in ANTHROPIC_MODELS:
        lines.append(f"  - {{name: {name}, deployments: [{{provider: "
                     f"up-{name.removeprefix('bench-')}, model: bench}}], price: {price}}}")
    return "\n".join(lines) + "\n"


def _flask(env, *args):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), *args], cwd=ROOT,
                            env={**os.environ, **env, "FLASK_APP": "wsgi"},
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _sql(database_url, statement, *params):
    import psycopg2

    connection = psycopg2.connect(database_url, connect_timeout=5)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        found = cursor.fetchall() if cursor.description else None
    connection.close()
    return found


def create_database(database_url):
    """Create the bench database if it is missing."""
    from psycopg2 import sql

    base, _, name = database_url.rpartition("/")
    if not _sql(base + "/postgres", "SELECT 1 FROM pg_database WHERE datname = %s", name):
        _sql(base + "/postgres", sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def count_logs(database_url):
    return _sql(database_url, "SELECT count(*) FROM request_logs")[0][0]


def start_gateway(port, upstream, out, database_url, redis_url, workers):
    """Migrate the bench database, issue a key with every limit kind set (high enough not to
    reject), and start gunicorn with gunicorn.conf.py and `workers` workers. Returns
    (process, key)."""
    config = out / "gateway.yaml"
    config.write_text(gateway_config(upstream))
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "GATEWAY_CONFIG": str(config),
           "GATEWAY_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": "info", "LOG_FORMAT": "json",
           "LOG_SPOOL_DIR": str(out / "spool"), "WEB_CONCURRENCY": str(workers)}
    create_database(database_url)
    _flask(env, "db", "upgrade")
    _sql(database_url, "TRUNCATE request_logs")  # every run starts alike
    try:
        _flask(env, "users", "create", "bench@example.com", "--name", "Benchmark")
    except RuntimeError as error:
        if "exists" not in str(error):
            raise
    key = _flask(env, "keys", "create", "--user", "bench@example.com", "--name", "bench",
                 "--rpm", "100000000", "--tpm", "2000000000", "--max-parallel", "100000",
                 "--budget", "1000000000").strip().splitlines()[-1]
    process = Process("gateway", [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c",
                                  "gunicorn.conf.py", "wsgi:app"],
                      f"http://127.0.0.1:{port}", "/health/ready", out / "gateway.log", env=env)
    return process, key


def start_floor(port, upstream, out, workers):
    """bench/floor_app.py under the gateway's gunicorn.conf.py: the stack without the gateway.
    WEB_CONCURRENCY is given: without REDIS_URL gunicorn.conf.py would start ONE worker, and the
    gateway has `workers`."""
    env = {"BENCH_UPSTREAM": upstream, "GATEWAY_BIND": f"127.0.0.1:{port}",
           "LOG_LEVEL": "warning", "WEB_CONCURRENCY": str(workers)}
    return Process("floor", [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py",
                             "--pythonpath", str(BENCH), "floor_app:app"],
                   f"http://127.0.0.1:{port}", "/health", out / "floor.log", env=env)


def litellm_config(upstream, master_key):
    cost = "input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006"
    lines = ["model_list:"]
    for mode in MODES:
        lines.append(f"  - {{model_name: bench-{mode}, litellm_params: {{model: openai/bench, "
                     f"api_base: \"{upstream}/{mode}/v1\", api_key: \"{UPSTREAM_KEY}\", {cost}}}}}")
    lines.append(f"  - {{model_name: bench-claude, litellm_params: {{model: anthropic/bench, "
                 f"api_base: \"{upstream}/instant\", api_key: \"{UPSTREAM_KEY}\", {cost}}}}}")
    lines += ["general_settings:", f"  master_key: {master_key}"]
    return "\n".join(lines) + "\n"


def install_litellm(log):
    """LiteLLM in its own virtualenv (bench/.venv-litellm); None when it cannot be installed."""
    python = LITELLM_VENV / "bin" / "python"
    marker = LITELLM_VENV / ".installed"
    if marker.exists() and marker.read_text() == LITELLM_SPEC:
        return LITELLM_VENV / "bin" / "litellm"
    shutil.rmtree(LITELLM_VENV, ignore_errors=True)
    steps = [[sys.executable, "-m", "venv", str(LITELLM_VENV)],
             [str(python), "-m", "pip", "install", "--quiet", LITELLM_SPEC, "uvloop"]]
    with open(log, "wb") as out:
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                return None
    marker.write_text(LITELLM_SPEC)
    return LITELLM_VENV / "bin" / "litellm"


def start_litellm(executable, port, upstream, out, workers):
    master_key = "sk-litellm-bench"
    config = out / "litellm.yaml"
    config.write_text(litellm_config(upstream, master_key))
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
           "DATABASE_URL": None, "REDIS_URL": None}
    process = Process("litellm", [str(executable), "--config", str(config), "--host",
                                  "127.0.0.1", "--port", str(port), "--num_workers",
                                  str(workers)],
                      f"http://127.0.0.1:{port}", "/health/liveliness", out / "litellm.log",
                      env=env)
    return process, master_key
