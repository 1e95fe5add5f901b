"""The measured scenarios and how each is run: wrk for request/response load, bench/streams.py for
concurrent streams. Every scenario runs the same way against each target; only the URL, the key
and the model name differ."""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROMPT = "Say hello in one short sentence."


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str  # the upstream's mode: instant | delay | trickle
    surface: str  # chat (OpenAI) | messages (Anthropic)
    clients: int
    seconds: float
    stream: bool = False
    warmup: float = 2.0

    def model(self):
        return "bench-claude" if self.surface == "messages" else f"bench-{self.mode}"

    def body(self):
        body = {"model": self.model(), "max_tokens": 64,
                "messages": [{"role": "user", "content": PROMPT}]}
        if self.stream:
            body["stream"] = True
            if self.surface == "chat":
                body["stream_options"] = {"include_usage": True}
        return body


def scenarios(seconds):
    """The issue's figures: latency at 1 client, throughput at 16 and 256 clients (OpenAI format,
    plus the Anthropic format at 16), a 1 s upstream at 1 000 clients, 1 000 concurrent slow
    streams."""
    return [Scenario("c1", "instant", "chat", 1, seconds),
            Scenario("c16", "instant", "chat", 16, seconds),
            Scenario("c256", "instant", "chat", 256, seconds),
            Scenario("anthropic-c16", "instant", "messages", 16, seconds),
            Scenario("slow-c1000", "delay", "chat", 1000, max(seconds, 15), warmup=3.0),
            Scenario("streams-1000", "trickle", "chat", 1000, 0, stream=True)]


@dataclass
class Target:
    """Where a scenario's requests go. path(scenario) gives the URL path on `url`."""
    name: str
    url: str
    key: str
    direct: bool = False

    def endpoint(self, scenario):
        path = "/v1/chat/completions" if scenario.surface == "chat" else "/v1/messages"
        if self.direct:
            return f"{self.url}/{scenario.mode}{path}"
        return self.url + path


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


def run_streams(target, scenario, out, ramp_seconds):
    body_path = out / f"body-{scenario.name}.json"
    body_path.write_text(json.dumps(scenario.body()))
    argv = [sys.executable, str(BENCH / "streams.py"), target.endpoint(scenario), str(body_path),
            "--concurrency", str(scenario.clients), "--key", target.key,
            "--ramp", str(ramp_seconds)]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"streams.py failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout)


def run(target, scenario, out, ramp_seconds):
    if scenario.stream:
        run_streams(target, Scenario(scenario.name, scenario.mode, scenario.surface, 50, 0,
                                     stream=True), out, 0)  # warm-up: connections, caches
        return run_streams(target, scenario, out, ramp_seconds)
    run_wrk(target, scenario, out, scenario.warmup)
    return run_wrk(target, scenario, out, scenario.seconds)
