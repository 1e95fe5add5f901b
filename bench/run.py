"""The benchmark: one mock upstream, then the same scenarios against (a) the upstream direct,
(b) this gateway under gunicorn with production settings, the floor (the same server forwarding
through the same SDKs with none of the gateway's work), (c) LiteLLM's proxy; then, on the gateway
only, every translated route and /v1/responses, each costed (worker CPU per request) against its
pass-through. Prints the tables and the issue's targets (MET / MISSED) with ratios from this one
run and writes bench/results/<time>/results.json (and bench/results/latest.json).

The direct upstream, the gateway and the floor run side by side: each scenario is measured on the
three in turn, in two rounds of the whole duration (direct, gateway, floor; then floor, gateway,
direct), so a machine that slows down or speeds up during the run moves the three alike and the
ratios keep still. LiteLLM is measured after them, alone.

    make bench                       # or: .venv/bin/python bench/run.py
    BENCH_SECONDS=20 make bench      # longer rounds
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

import checks  # noqa: E402
import report  # noqa: E402
import routes  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", 10))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/gateway_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
# Given to the gateway, the floor and LiteLLM alike (gunicorn.conf.py alone would start one
# worker for the floor, which has no REDIS_URL).
WORKERS = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
STREAM_RAMP_SECONDS = 0.9  # the slow stream lasts ~1 s: starts spread over 0.9 s all overlap
UPSTREAM_DELAY_S = 1.0
ROUNDS = 2  # each target's mean place in the order is the same: a steady drift cancels
PORTS = {"upstream": 18080, "gateway": 18000, "floor": 18200, "litellm": 18400}


def say(text):
    print(text, flush=True)


def measure(target, out, scenario_list):
    results = {}
    for scenario in scenario_list:
        say(f"  {target.name}: {scenario.name} ({scenario.clients} clients)")
        results[scenario.name] = scenarios.run(target, scenario, out, STREAM_RAMP_SECONDS)
        say(f"    {scenarios.describe(results[scenario.name])}")
    return results


def measure_side_by_side(targets, out, scenario_list):
    """{target: {scenario: summary}}: every scenario on every target in turn, in ROUNDS rounds
    whose order reverses each round; a summary combines the target's rounds."""
    results = {target.name: {} for target in targets}
    for scenario in scenario_list:
        parts = {target.name: [] for target in targets}
        for number in range(ROUNDS):
            say(f"  {scenario.name} ({scenario.clients} clients), round {number + 1}/{ROUNDS}")
            for target in targets if number % 2 == 0 else targets[::-1]:
                summary = scenarios.run(target, scenario, out, STREAM_RAMP_SECONDS,
                                        warm=number == 0)
                parts[target.name].append(summary)
                say(f"    {target.name}: {scenarios.describe(summary)}")
        for target in targets:
            results[target.name][scenario.name] = report.combine_rounds(parts[target.name])
    return results


def _target(name, process, key):
    return scenarios.Target(name, process.url, key, cpu_pids=process.worker_pids)


def bench_side_by_side(upstream, out):
    """The base scenarios on the direct upstream, the gateway and the floor, side by side; then
    the gateway's routes. Each server's workers and their peak RSS after the base scenarios."""
    gateway, key = targets.start_gateway(PORTS["gateway"], upstream.url, out, DATABASE_URL,
                                         REDIS_URL, WORKERS)
    try:
        floor = targets.start_floor(PORTS["floor"], upstream.url, out, WORKERS)
        try:
            measured = [scenarios.Target("direct", upstream.url, "", direct=True,
                                         cpu_pids=upstream.worker_pids),
                        _target("gateway", gateway, key), _target("floor", floor, "floor")]
            results = measure_side_by_side(measured, out, scenarios.scenarios(SECONDS))
            for name, process in (("direct", upstream), ("gateway", gateway), ("floor", floor)):
                results[name]["workers"] = len(process.worker_pids())
                results[name]["peak_rss_mb"] = process.peak_rss_mb()
        finally:
            floor.stop()
        say(f"gateway routes: translation and /v1/responses, costed against pass-through "
            f"({routes.ROUNDS} interleaved rounds)")
        results["gateway"].update(routes.measure(measured[1], out, SECONDS,
                                                 STREAM_RAMP_SECONDS, say))
        results["gateway"]["peak_rss_mb_after_routes"] = gateway.peak_rss_mb()
    finally:
        gateway.stop()
    results["gateway"]["request_logs"] = targets.count_logs(DATABASE_URL)
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
        results = measure(_target("litellm", process, key), out, scenarios.scenarios(SECONDS))
        results["workers"] = len(process.worker_pids())
        results["peak_rss_mb"] = process.peak_rss_mb()
        return results
    finally:
        process.stop()


def main(started):
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = targets.BENCH / "results" / stamp
    out.mkdir(parents=True)
    upstream = targets.start_upstream(PORTS["upstream"], out)
    results = {}
    try:
        say(f"the direct upstream, the gateway (gunicorn, {WORKERS} gevent workers, PostgreSQL, "
            f"Redis) and the floor (bench/floor_app.py: the same server and SDK calls without "
            f"the gateway), side by side in {ROUNDS} rounds")
        results = bench_side_by_side(upstream, out)
        litellm = bench_litellm(upstream.url, out)
        if litellm is not None:
            results["litellm"] = litellm
    finally:
        upstream.stop()
    rows = report.figures(results, upstream_delay_s=UPSTREAM_DELAY_S)
    costs = report.route_costs(results["gateway"], routes.table_routes(SECONDS))
    errors = {name: summary["errors_total"] for name, summary in results["gateway"].items()
              if isinstance(summary, dict) and "errors_total" in summary}
    verdicts = checks.targets_check(rows, costs, errors)
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
        "took_s": round(time.monotonic() - started),
        "route_costs": costs, "targets": verdicts, "raw": results}
    text = json.dumps(document, indent=2, default=str)
    (out / "results.json").write_text(text)
    (out.parent / "latest.json").write_text(text)
    say("\n" + report.table(rows) + "\n")
    say("CPU of the gateway's workers per completed request, by route (same run):")
    say(report.routes_table(costs) + "\n")
    say("The issue's targets:")
    for line in checks.lines(verdicts):
        say(line)
    say(f"\nresults: {out / 'results.json'}")


if __name__ == "__main__":
    started = time.monotonic()
    main(started)
    say(f"took {time.monotonic() - started:.0f} s")
