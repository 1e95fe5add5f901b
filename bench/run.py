"""The benchmark: one mock upstream, then the same scenarios against (a) the upstream direct,
(b) this gateway under gunicorn with production settings, the floor (the same server forwarding
through the same SDKs with none of the gateway's work), (c) LiteLLM's proxy; prints a table with
ratios from this one run and writes bench/results/<time>.json (and latest.json).

    make bench                       # or: .venv/bin/python bench/run.py
    BENCH_SECONDS=20 make bench      # longer runs
    BENCH_SKIP_LITELLM=1 make bench  # without LiteLLM

Needs wrk (Debian/Ubuntu: apt-get install wrk), PostgreSQL and Redis (BENCH_DATABASE_URL,
BENCH_REDIS_URL; defaults below).
"""
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", 10))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/gateway_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
WORKERS = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
STREAM_RAMP_SECONDS = 0.9  # the slow stream lasts ~1 s: starts spread over 0.9 s all overlap
UPSTREAM_DELAY_S = 1.0
PORTS = {"upstream": 18080, "gateway": 18000, "floor": 18200, "litellm": 18400}


def say(text):
    print(text, flush=True)


def measure(target, out):
    results = {}
    for scenario in scenarios.scenarios(SECONDS):
        say(f"  {target.name}: {scenario.name} ({scenario.clients} clients)")
        results[scenario.name] = scenarios.run(target, scenario, out, STREAM_RAMP_SECONDS)
        summary = results[scenario.name]
        if "rps" in summary:
            say(f"    {summary['rps']:,.0f} req/s, p50 {summary['latency_us']['p50'] / 1000:.2f}"
                f" ms, p99 {summary['latency_us']['p99'] / 1000:.2f} ms, "
                f"errors {summary['errors_total']}")
        else:
            say(f"    completed {summary['completed']}/{summary['concurrency']}, peak open "
                f"{summary['peak_open']}, first frame p50 {summary['first_frame_ms']['p50']}")
    return results


def bench_gateway(upstream_url, out):
    process, key = targets.start_gateway(PORTS["gateway"], upstream_url, out, DATABASE_URL,
                                         REDIS_URL)
    try:
        results = measure(scenarios.Target("gateway", process.url, key), out)
        results["peak_rss_mb"] = process.peak_rss_mb()
    finally:
        process.stop()
    results["request_logs"] = targets.count_logs(DATABASE_URL)
    return results


def bench_floor(upstream_url, out):
    process = targets.start_floor(PORTS["floor"], upstream_url, out)
    try:
        results = measure(scenarios.Target("floor", process.url, "floor"), out)
        results["peak_rss_mb"] = process.peak_rss_mb()
    finally:
        process.stop()
    return results


def bench_litellm(upstream_url, out):
    if os.environ.get("BENCH_SKIP_LITELLM"):
        say("LiteLLM skipped: BENCH_SKIP_LITELLM is set")
        return None
    say(f"installing {targets.LITELLM_SPEC} into {targets.LITELLM_VENV} (once)")
    executable = targets.install_litellm(out / "litellm-install.log")
    if executable is None:
        say(f"LiteLLM skipped: it could not be installed (see {out / 'litellm-install.log'})")
        return None
    process, key = targets.start_litellm(executable, PORTS["litellm"], upstream_url, out, WORKERS)
    try:
        results = measure(scenarios.Target("litellm", process.url, key), out)
        results["peak_rss_mb"] = process.peak_rss_mb()
    finally:
        process.stop()
    return results


def main():
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = targets.BENCH / "results" / stamp
    out.mkdir(parents=True)
    upstream = targets.start_upstream(PORTS["upstream"], out)
    results = {}
    try:
        say("direct upstream (the mock measured alone)")
        results["direct"] = measure(scenarios.Target("direct", upstream.url, "", direct=True),
                                    out)
        say(f"gateway (gunicorn, {WORKERS} gevent workers, PostgreSQL, Redis)")
        results["gateway"] = bench_gateway(upstream.url, out)
        say("floor: the same server and SDK calls without the gateway (bench/floor_app.py)")
        results["floor"] = bench_floor(upstream.url, out)
        litellm = bench_litellm(upstream.url, out)
        if litellm is not None:
            results["litellm"] = litellm
        results["direct"]["peak_rss_mb"] = upstream.peak_rss_mb()
    finally:
        upstream.stop()
    rows = report.figures(results, upstream_delay_s=UPSTREAM_DELAY_S)
    checks = report.targets_check(rows)
    document = {
        "when": stamp, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                   "platform": platform.platform()},
        "settings": {"seconds": SECONDS, "workers": WORKERS, "litellm": targets.LITELLM_SPEC,
                     "stream_ramp_seconds": STREAM_RAMP_SECONDS,
                     "slow_upstream_delay_s": UPSTREAM_DELAY_S},
        "figures": [{"figure": name, "unit": unit, **values,
                     "gateway_vs_direct": report.ratio(values.get("gateway"),
                                                       values.get("direct")),
                     "gateway_vs_floor": report.ratio(values.get("gateway"),
                                                      values.get("floor")),
                     "gateway_vs_litellm": report.ratio(values.get("gateway"),
                                                        values.get("litellm"))}
                    for name, unit, values, _ in rows],
        "targets": checks, "raw": results}
    text = json.dumps(document, indent=2, default=str)
    (out / "results.json").write_text(text)
    (out.parent / "latest.json").write_text(text)
    say("\n" + report.table(rows) + "\n")
    for check in checks:
        figure = "-" if check["figure"] is None else f"{check['figure']:.2f}"
        say(f"{'met    ' if check['met'] else 'MISSED '} {check['target']} (figure: {figure})")
    say(f"\nresults: {out / 'results.json'}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    say(f"took {time.monotonic() - started:.0f} s")
