"""GET /metrics (app/observability/metrics.py): what requests leave in the Prometheus metrics, read
from the scrape itself; the bearer-token setting; and, under real gunicorn with two workers,
one scrape that sums what both workers served."""
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from app.gateway.routing.health_stores import Outcome
from app.observability.metrics import SAMPLE_SECONDS
from tests.conftest import create_key
from tests.gunicorn_runner import GunicornRunner
from tests.mock_upstream import Reply
from tests.resilience_helpers import chat, config, gateway, model

BODY = {"model": "mock-echo", "messages": [{"role": "user", "content": "count me"}]}


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["content-type"].startswith("text/plain")
    samples = []
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        samples += [(s.name, s.labels, s.value) for s in family.samples]
    return samples


def value(samples, name, **labels):
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    return sum(v for n, ls, v in samples
               if n == name and all(ls.get(k) == w for k, w in labels.items()))


def test_requests_tokens_cost_and_latency_are_counted(app):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {create_key(app)}"}
    before = scrape(client)
    plain = client.post("/v1/chat/completions", json=BODY, headers=headers)
    streamed = client.post("/v1/chat/completions", json={**BODY, "stream": True},
                           headers=headers)
    streamed.get_data()
    unknown = client.post("/v1/chat/completions", json={**BODY, "model": "no-such-model-xyz"},
                          headers=headers)
    assert (plain.status_code, streamed.status_code, unknown.status_code) == (200, 200, 404)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"surface": "openai", "model": "mock-echo", "provider": "mock", "status": "200"}
    assert delta("gateway_requests_total", **ok) == 2
    # a model that is not configured is "unknown": no client string becomes a label
    assert delta("gateway_requests_total", model="unknown", provider="none", status="404") == 1
    assert not any("no-such-model-xyz" in str(labels) for _, labels, _ in after)
    usage = plain.get_json()["usage"]
    assert delta("gateway_tokens_total", model="mock-echo", type="input") == \
        2 * usage["prompt_tokens"]
    assert delta("gateway_tokens_total", model="mock-echo", type="output") == \
        2 * usage["completion_tokens"]
    assert delta("gateway_cost_usd_total", model="mock-echo") == pytest.approx(
        2 * (usage["prompt_tokens"] + usage["completion_tokens"]) / 1_000_000)
    assert delta("gateway_request_duration_seconds_count", model="mock-echo") == 2
    assert delta("gateway_time_to_first_token_seconds_count", model="mock-echo") == 1
    assert delta("gateway_upstream_attempts_total", provider="mock", upstream_model="echo",
                 outcome="success") == 2
    assert delta("gateway_upstream_retries_total") == 0
    # nothing is left in flight once the answers are read
    assert value(after, "gateway_requests_in_flight") == value(before,
                                                               "gateway_requests_in_flight")
    assert value(after, "gateway_streams_in_flight") == value(before, "gateway_streams_in_flight")
    for name in ("gateway_log_queue_depth", "gateway_log_spool_backlog_rows",
                 "gateway_log_spooled_rows_total", "gateway_log_dead_letter_rows_total",
                 "gateway_dependency_down"):
        assert any(n == name for n, _, _ in after), name
    assert value(after, "gateway_circuit_state", provider="mock", upstream_model="echo",
                 state="closed") == 1


def test_streams_in_flight_while_one_streams(app):
    headers = {"Authorization": f"Bearer {create_key(app)}"}
    client = app.test_client()
    before = value(scrape(client), "gateway_streams_in_flight", surface="openai")
    response = client.post("/v1/chat/completions", json={**BODY, "stream": True},
                           headers=headers, buffered=False)
    during = scrape(client)
    response.get_data()
    response.close()
    assert value(during, "gateway_streams_in_flight", surface="openai") == before + 1
    assert value(during, "gateway_requests_in_flight", surface="openai") >= 1
    assert value(scrape(client), "gateway_streams_in_flight", surface="openai") == before


def test_retries_fallbacks_and_attempt_outcomes(app_factory, upstream):
    cfg = config(upstream, [model("primary", ("a", "b"), fallbacks=["backup"], num_retries=3),
                            model("backup", ("c",))])
    app, key = gateway(app_factory, cfg)
    client = app.test_client()
    before = scrape(client)
    upstream.script(Reply(status=500), Reply(status=503))
    assert chat(app, key, "primary").status_code == 200
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("gateway_upstream_retries_total", model="primary") == 2
    assert delta("gateway_upstream_fallbacks_total", model="primary") == 1
    assert delta("gateway_upstream_attempts_total", provider="dep-c", outcome="success") == 1
    assert delta("gateway_upstream_attempts_total", provider="dep-a") == 1
    assert delta("gateway_upstream_attempts_total", provider="dep-a", outcome="success") == 0
    assert delta("gateway_requests_total", model="primary", provider="dep-c", status="200") == 1


def test_limit_rejections_by_kind(app):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {create_key(app, rpm=1)}"}
    before = value(scrape(client), "gateway_limit_rejections_total", kind="rpm")
    statuses = [client.post("/v1/chat/completions", json=BODY, headers=headers).status_code
                for _ in range(2)]
    assert statuses == [200, 429]
    assert value(scrape(client), "gateway_limit_rejections_total", kind="rpm") == before + 1


def test_open_circuit_and_cooling_key_are_shown(app):
    gw = app.extensions["gateway"]
    entry = gw.router.catalog.models["gpt-test"]
    # a failed half-open probe re-opens the circuit; a 401 takes the provider's key out
    gw.health.store.record(Outcome(deployment="up-openai/gpt-upstream", outcome=False,
                                   circuit=entry.circuit, probe=True, member="m1",
                                   provider="up-openai", key=0, key_event="auth", key_wait=None,
                                   model="gpt-upstream", auth_seconds=600))
    samples = scrape(app.test_client())
    where = {"provider": "up-openai", "upstream_model": "gpt-upstream"}
    assert value(samples, "gateway_health_state_readable") == 1
    assert value(samples, "gateway_circuit_state", state="open", **where) == 1
    assert value(samples, "gateway_circuit_state", state="closed", **where) == 0
    assert value(samples, "gateway_provider_keys_cooling", **where) == 1
    assert value(samples, "gateway_provider_keys", provider="up-openai") == 1
    assert value(samples, "gateway_circuit_state", provider="up-anthropic", state="closed") == 1


def test_dependency_errors_and_breaker_state(app):
    gw = app.extensions["gateway"]
    client = app.test_client()
    before = scrape(client)
    gw.authenticator.breaker.failed(OSError("database refused"))
    after = scrape(client)
    assert value(after, "gateway_dependency_errors_total", dependency="database") == \
        value(before, "gateway_dependency_errors_total", dependency="database") + 1
    assert value(after, "gateway_dependency_down", dependency="database") == 1
    gw.authenticator.breaker.succeeded()
    assert value(scrape(client), "gateway_dependency_down", dependency="database") == 0


def test_bearer_token_guards_the_scrape(app_factory):
    app = app_factory(METRICS_BEARER_TOKEN="scrape-secret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    samples = scrape(client, Authorization="Bearer scrape-secret")
    assert any(n == "gateway_requests_total" or n == "gateway_log_queue_depth"
               for n, _, _ in samples)


def test_metrics_can_be_turned_off(app_factory):
    app = app_factory(METRICS_ENABLED=False)
    assert app.test_client().get("/metrics").status_code == 404


def _served_per_worker(directory):
    """{pid: requests counted} from each worker's own counter file."""
    counts = {}
    for path in Path(directory).glob("counter_*.db"):
        pid = int(path.stem.split("_")[-1])
        for key, number, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample == "gateway_requests_total" and labels.get("model") == "mock-echo":
                counts[pid] = counts.get(pid, 0) + number
    return counts


def _counted(directory, total, seconds=3 * SAMPLE_SECONDS):
    """_served_per_worker once the files hold `total` requests: each worker writes its tally
    every SAMPLE_SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        per_worker = _served_per_worker(directory)
        if sum(per_worker.values()) >= total or time.monotonic() > deadline:
            return per_worker
        time.sleep(0.1)


def test_one_scrape_sums_two_gunicorn_workers(app, upstream, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    runner = GunicornRunner(upstream, tmp_path, chunk_delay_ms=0)
    try:
        url, _ = runner.start(WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                              METRICS_BEARER_TOKEN="")
        headers = {"Authorization": f"Bearer {create_key(app)}", "Connection": "close"}

        def post(_):  # a new connection each: the kernel hands them to either worker
            return requests.post(f"{url}/v1/chat/completions", json=BODY, headers=headers,
                                 timeout=10).status_code

        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(20):
                statuses = list(pool.map(post, range(16)))
                assert statuses == [200] * 16
                sent += 16
                per_worker = _counted(metrics_dir, sent)
                if len(per_worker) >= 2 and all(per_worker.values()):
                    break
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker
        assert sum(per_worker.values()) == sent
        samples = scrape_url(url)
        assert value(samples, "gateway_requests_total", model="mock-echo", status="200") == sent
        assert value(samples, "gateway_requests_in_flight") == 0
    finally:
        runner.stop()


EXIT_CHECK = """
import json, runpy, sys
from pathlib import Path
from prometheus_client.mmap_dict import MmapedDict
from app import create_app
from app.extensions import db

def counted():
    total = 0
    for path in Path(sys.argv[2]).glob("counter_*.db"):
        for key, number, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            total += number if json.loads(key)[1] == "gateway_requests_total" else 0
    return total

ns = runpy.run_path(sys.argv[1])
app = create_app()
with app.app_context():
    db.create_all()
client = app.test_client()
for _ in range(3):
    assert client.post("/v1/chat/completions", json={"model": "gpt-test"}).status_code == 401
before = counted()
class Worker:
    wsgi = app
ns["worker_exit"](None, Worker())
print(json.dumps([before, counted()]))
"""


def test_a_worker_writes_its_tally_when_it_exits(tmp_path):
    """gunicorn.conf.py's worker_exit writes what the worker's tally holds (the sampler thread,
    which is not started here, would write it within SAMPLE_SECONDS)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "gateway.yaml"
    config.write_text("providers:\n  mock: {vendor: mock}\nmodels:\n"
                      "  - {name: gpt-test, deployments: [{provider: mock, model: gpt-test}]}\n")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "REDIS_URL": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}", "LOG_LEVEL": "WARNING",
           "GATEWAY_CONFIG": str(config), "LOG_SPOOL_DIR": str(tmp_path / "spool")}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", EXIT_CHECK, str(root / "gunicorn.conf.py"),
                           str(tmp_path / "metrics")], env=env, cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, 3]


def scrape_url(url):
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    samples = []
    for family in text_string_to_metric_families(response.text):
        samples += [(s.name, s.labels, s.value) for s in family.samples]
    return samples


FORK_CHECK = """
import os
import app.observability.metrics as metrics
for _ in range(10):
    metrics.REQUESTS.labels("openai", "m", "p", "200").inc()
child = os.fork()
if child == 0:
    metrics.REQUESTS.labels("openai", "m", "p", "200").inc(5)
    os._exit(0)
os.waitpid(child, 0)
print(os.getpid(), child)
"""


def test_a_worker_reads_its_pid_once_and_a_forked_child_still_writes_its_own_file(tmp_path):
    """prometheus-client asks for the pid on every increment to notice a fork: it is read once
    per process (the remembered pid names the file written), and a fork still gives the child
    files of its own."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", FORK_CHECK], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    parent, child = done.stdout.split()
    values = {}
    for pid in (parent, child):
        entries = MmapedDict.read_all_values_from_file(str(tmp_path / f"counter_{pid}.db"))
        values[pid] = sum(entry[1] for entry in entries if "gateway_requests" in entry[0])
    assert values == {parent: 10.0, child: 5.0}


def test_increments_take_the_remembered_pid_not_a_system_call(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import app.observability.metrics as m; m._ProcessId.value = 424242; "
            "m.REQUESTS.labels('openai', 'm', 'p', '200').inc()")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "counter_424242.db").exists()


def test_the_tally_writes_what_each_increment_and_observation_would_have():
    """Tally (app/observability/tally.py) sums a worker's increments and writes them at once,
    into prometheus-client's own sum and buckets of a histogram: the exposition must be the one
    observing each value would give, values on a bucket's bound and above the last one too."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from app.observability.tally import Tally

    bounds = (0.1, 1.0, 5.0)
    values = [0.05, 0.1, 0.1000001, 1.0, 4.9, 5.0, 7.5, 300.0, 0.0]
    exposed = []
    for batched in (False, True):
        registry = CollectorRegistry()
        seconds = Histogram("t_seconds", "t", ["m"], buckets=bounds, registry=registry)
        count = Counter("t_requests", "t", ["m"], registry=registry)
        tally = Tally()
        for number, amount in enumerate(values):
            if batched:
                tally.add([(count.labels("a"), 1), (count.labels("b"), number)],
                          [(seconds.labels("a"), bounds, amount)])
            else:
                count.labels("a").inc()
                count.labels("b").inc(number)
                seconds.labels("a").observe(amount)
        if batched:
            assert b"t_requests_total{m=\"a\"} 9.0" not in generate_latest(registry)
            tally.flush()
            tally.flush()  # nothing twice
        exposed.append([line for line in generate_latest(registry).decode().splitlines()
                        if not line.startswith("t_requests_created")
                        and not line.startswith("t_seconds_created")])
    assert exposed[0] == exposed[1]
    assert 't_seconds_bucket{le="0.1",m="a"} 3.0' in exposed[1]
    assert 't_seconds_bucket{le="+Inf",m="a"} 9.0' in exposed[1]
