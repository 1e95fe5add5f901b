"""The measured scenarios and how each is run: wrk for request/response load, bench/streams.py for
concurrent streams. Every scenario runs the same way against each target; only the URL, the key
and the model name differ. The gateway's routes (translation, /v1/responses): bench/routes.py."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cost  # bench/cost.py (bench/run.py puts bench/ on sys.path)

BENCH = Path(__file__).resolve().parent
PROMPT = "Say hello in one short sentence."
TOKEN_TEXT = "tok "  # bench/upstream.py's token: every answer, in every format, carries it
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages",
         "responses": "/v1/responses"}
LOG_SETTLE_SECONDS = 0.7  # the gateway's log writer flushes every 0.5 s: its rows land in-window


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str  # the upstream's mode: instant | delay | trickle
    surface: str  # the client's format: chat (OpenAI) | messages (Anthropic) | responses
    clients: int
    seconds: float
    stream: bool = False
    warmup: float = 2.0
    model_name: str | None = None  # default: bench-<mode>, bench-claude for messages
    baseline: str | None = None  # the pass-through scenario whose CPU cost this one is held to
    label: str = ""

    def model(self):
        if self.model_name:
            return self.model_name
        return "bench-claude" if self.surface == "messages" else f"bench-{self.mode}"

    def body(self):
        if self.surface == "responses":
            body = {"model": self.model(), "input": PROMPT, "max_output_tokens": 64}
        else:
            body = {"model": self.model(), "max_tokens": 64,
                    "messages": [{"role": "user", "content": PROMPT}]}
        if self.stream:
            body["stream"] = True
            if self.surface == "chat":
                body["stream_options"] = {"include_usage": True}
        return body


def scenarios(seconds):
    """The issue's figures, on every target: latency at 1 client, throughput at 16 and 256 clients
    in both formats, a 1 s upstream at 1 000 clients, 200 and 1 000 concurrent slow streams."""
    return [Scenario("c1", "instant", "chat", 1, seconds),
            Scenario("c16", "instant", "chat", 16, seconds),
            Scenario("c256", "instant", "chat", 256, seconds),
            Scenario("anthropic-c16", "instant", "messages", 16, seconds),
            Scenario("anthropic-c256", "instant", "messages", 256, seconds),
            Scenario("slow-c1000", "delay", "chat", 1000, max(seconds, 15), warmup=3.0),
            Scenario("streams-200", "trickle", "chat", 200, 0, stream=True),
            Scenario("streams-1000", "trickle", "chat", 1000, 0, stream=True)]


@dataclass
class Target:
    """Where a scenario's requests go, and the processes whose CPU serves them (None: not
    measured)."""
    name: str
    url: str
    key: str
    direct: bool = False
    cpu_pids: object = None  # () -> [pid]

    def endpoint(self, scenario):
        path = PATHS[scenario.surface]
        if self.direct:
            return f"{self.url}/{scenario.mode}{path}"
        return self.url + path


def _headers(key):
    headers = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    if key:
        headers.update({"Authorization": f"Bearer {key}", "x-api-key": key})
    return headers


def probe(target, scenario):
    """One request before the load: its status and whether the answer carries the upstream's
    text (a 200 that lost the answer would pass wrk)."""
    request = urllib.request.Request(target.endpoint(scenario), method="POST",
                                     data=json.dumps(scenario.body()).encode(),
                                     headers=_headers(target.key))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8", "replace")
    except OSError as error:
        return {"status": None, "answer_ok": False, "error": str(error)}
    return {"status": status, "answer_ok": status == 200 and TOKEN_TEXT in text,
            **({} if status == 200 else {"body": text[:500]})}


def run_wrk(target, scenario, out, seconds):
    body_path = out / f"body-{scenario.name}.json"
    body_path.write_text(json.dumps(scenario.body()))
    threads = min(2, scenario.clients)
    argv = ["wrk", f"-t{threads}", f"-c{scenario.clients}", f"-d{int(round(seconds))}s",
            "--timeout", "10s", "-s", str(BENCH / "wrk" / "post.lua"), target.endpoint(scenario)]
    env = {**os.environ, "BENCH_BODY": str(body_path), "BENCH_KEY": target.key}
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON "):])
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            data["errors_total"] = sum(data["errors"].values())
            return data
    raise RuntimeError(f"wrk gave no result:\n{result.stdout}{result.stderr}")


def run_streams(target, scenario, out, ramp_seconds, concurrency=None):
    body_path = out / f"body-{scenario.name}.json"
    body_path.write_text(json.dumps(scenario.body()))
    argv = [sys.executable, str(BENCH / "streams.py"), target.endpoint(scenario), str(body_path),
            "--concurrency", str(concurrency or scenario.clients), "--key", target.key,
            "--ramp", str(ramp_seconds), "--token", TOKEN_TEXT]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"streams.py failed:\n{result.stdout}{result.stderr}")
    data = json.loads(result.stdout)
    data["rps"] = data["completed"] / data["wall_s"] if data["wall_s"] else None
    data["errors_total"] = sum(data["errors"].values())
    return data


def run(target, scenario, out, ramp_seconds, warm=True):
    """Warm up (unless warm is False), then measure; with the CPU its target's processes spent
    per completed request when the target has pids. The window ends after the gateway's log
    writer has flushed what the scenario queued."""
    window = None if target.cpu_pids is None else cost.Window(target.cpu_pids)
    if scenario.stream:
        if warm:
            run_streams(target, scenario, out, 0, concurrency=50)  # connections, caches
            time.sleep(LOG_SETTLE_SECONDS)
        window = window and window.start()
        summary = run_streams(target, scenario, out, ramp_seconds)
        done = summary["completed"]
    else:
        if warm:
            run_wrk(target, scenario, out, scenario.warmup)
        window = window and window.start()
        summary = run_wrk(target, scenario, out, scenario.seconds)
        done = summary["requests"]
    time.sleep(LOG_SETTLE_SECONDS)
    if window is not None:
        summary["cpu"] = window.stop(done)
    return summary


def describe(summary):
    """One line of a scenario's result, for the progress log."""
    cpu = (summary.get("cpu") or {}).get("ms_per_request")
    cost_text = "" if cpu is None else f", CPU {cpu:.2f} ms/req"
    if "completed" not in summary:
        latency = summary.get("latency_us") or {}
        return (f"{summary['rps']:,.0f} req/s, p50 {latency.get('p50', 0) / 1000:.2f} ms, "
                f"p99 {latency.get('p99', 0) / 1000:.2f} ms, errors {summary['errors_total']}"
                f"{cost_text}")
    ttft = (summary.get("first_token_ms") or {}).get("p50")
    ttft_text = "-" if ttft is None else f"{ttft:.1f} ms"
    return (f"completed {summary['completed']}/{summary['concurrency']}, peak open "
            f"{summary.get('peak_open', '-')}, first token p50 {ttft_text}, errors "
            f"{summary['errors_total']}{' ' + str(summary['errors']) if summary['errors'] else ''}"
            f"{cost_text}")
