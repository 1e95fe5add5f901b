"""Turn the raw results of one run into the figures the issue asks for, with every gateway figure as
a ratio to the direct upstream, the floor and LiteLLM, and print them as tables: the figures of
every target, and the CPU cost of each route of the gateway next to its pass-through.

Pure functions of the results (no servers): tests/test_bench_report.py checks them."""
import statistics

TARGETS = ("direct", "floor", "gateway", "litellm")


def _get(results, target, scenario, *path):
    value = results.get(target, {}).get(scenario)
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ms(us):
    return None if us is None else us / 1000


def _minus(value, base):
    return None if value is None or base is None else value - base


def ttft_ms(results, target, scenario):
    """Time to first token p50 of a stream scenario (first SSE data frame in older results)."""
    value = _get(results, target, scenario, "first_token_ms", "p50")
    return _get(results, target, scenario, "first_frame_ms", "p50") if value is None else value


def figures(results, upstream_delay_s):
    """[(figure, unit, {target: value}, lower_is_better)] from the raw results."""
    rows = []

    def add(name, unit, lower, fn):
        rows.append((name, unit, {t: fn(t) for t in TARGETS if t in results}, lower))

    def latency(t, scenario, pct):
        return _ms(_get(results, t, scenario, "latency_us", pct))

    add("workers", "", False, lambda t: results[t].get("workers"))
    add("latency p50 at 1 client", "ms", True, lambda t: latency(t, "c1", "p50"))
    add("added latency p50 at 1 client", "ms", True,
        lambda t: _minus(latency(t, "c1", "p50"), latency("direct", "c1", "p50")))
    # The upstream's own time is its p50, for the p99 too: the direct upstream's p99 is the
    # machine's stalls (0.7 to 3 ms in the runs of 2026-12-03), and percentiles do not
    # subtract: taking it away left the floor 0.5 ms of p99 once, and any ratio to that is noise.
    add("added latency p99 at 1 client", "ms", True,
        lambda t: _minus(latency(t, "c1", "p99"), latency("direct", "c1", "p50")))
    for scenario, label in (("c16", "16 clients"), ("c256", "256 clients"),
                            ("anthropic-c16", "16 clients, Anthropic format"),
                            ("anthropic-c256", "256 clients, Anthropic format")):
        add(f"requests/s, {label}", "req/s", False,
            lambda t, s=scenario: _get(results, t, s, "rps"))
        add(f"p99, {label}", "ms", True, lambda t, s=scenario: latency(t, s, "p99"))
        add(f"errors, {label}", "", True, lambda t, s=scenario: _get(results, t, s, "errors_total"))
        if scenario.endswith("c16"):
            add(f"CPU per request, {label}", "ms", True,
                lambda t, s=scenario: _get(results, t, s, "cpu", "ms_per_request"))
    add("1 s upstream, 1000 clients: completed in the run", "req/s", False,
        lambda t: _get(results, t, "slow-c1000", "rps"))
    add("1 s upstream, 1000 clients: share of ideal", "%", False,
        lambda t: _share_of_ideal(_get(results, t, "slow-c1000", "latency_us", "mean"),
                                  upstream_delay_s))
    add("1 s upstream, 1000 clients: errors", "", True,
        lambda t: _get(results, t, "slow-c1000", "errors_total"))
    for count in (200, 1000):
        scenario = f"streams-{count}"
        add(f"{count} streams: concurrently open at peak", "", False,
            lambda t, s=scenario: _get(results, t, s, "peak_open"))
        add(f"{count} streams: completed of {count}", "", False,
            lambda t, s=scenario: _fewest_completed(results, t, s))
        add(f"{count} streams: time to first token p50", "ms", True,
            lambda t, s=scenario: ttft_ms(results, t, s))
        add(f"{count} streams: added time to first token p50", "ms", True,
            lambda t, s=scenario: _minus(ttft_ms(results, t, s), ttft_ms(results, "direct", s)))
        add(f"{count} streams: CPU per stream", "ms", True,
            lambda t, s=scenario: _get(results, t, s, "cpu", "ms_per_request"))
    add("peak RSS per worker (largest)", "MB", True,
        lambda t: max(results[t].get("peak_rss_mb", {}).values(), default=None))
    return rows


def _fewest_completed(results, target, scenario):
    """Streams completed in a stream scenario: of its worst round when it ran in rounds."""
    summary = _get(results, target, scenario)
    if not isinstance(summary, dict):
        return None
    counts = [part.get("completed") for part in summary.get("rounds") or [summary]]
    return None if None in counts else min(counts)


def _share_of_ideal(mean_latency_us, upstream_delay_s):
    """N clients that each send their next request as soon as the last is answered (wrk) get
    N / mean latency requests/s (Little's law); the ideal is N / the upstream's delay. Counting the
    answers within the run instead misses the last request of every client, still in flight when
    wrk stops: up to delay / duration (1 s of 15 s), so the upstream alone scored 93 %."""
    if not mean_latency_us:
        return None
    return 100.0 * upstream_delay_s / (mean_latency_us / 1e6)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def route_costs(gateway, routes):
    """One row per route (name, label, baseline scenario or None) of the gateway's results: its
    requests, req/s, errors, CPU ms per request, and that cost as a ratio to its baseline's."""
    rows = []
    for name, label, baseline in routes:
        summary = gateway.get(name) or {}
        cpu_ms = (summary.get("cpu") or {}).get("ms_per_request")
        base_ms = ((gateway.get(baseline) or {}).get("cpu") or {}).get("ms_per_request") \
            if baseline else None
        stream = "completed" in summary
        rows.append({"scenario": name, "label": label, "kind": "stream" if stream else "request",
                     "requests": summary.get("completed" if stream else "requests"),
                     "rps": summary.get("rps"), "errors": summary.get("errors_total"),
                     "probe_status": (summary.get("probe") or {}).get("status"),
                     "cpu_ms": cpu_ms, "baseline": baseline, "baseline_cpu_ms": base_ms,
                     "cost_ratio": ratio(cpu_ms, base_ms) if baseline else None,
                     "round_ratios": _round_ratios(summary, gateway.get(baseline))
                     if baseline else []})
    return rows


def _round_ratios(summary, baseline):
    """The cost ratio of each round on its own (route round i to pass-through round i): how much
    the figure moved with the machine's other load."""
    def per_round(found):
        return [(r.get("cpu") or {}).get("ms_per_request") for r in (found or {}).get("rounds", [])]

    return [ratio(a, b) for a, b in zip(per_round(summary), per_round(baseline), strict=False)]


def spread(values):
    """'min-max' of the known values, or '-'."""
    known = [v for v in values if v is not None]
    return f"{min(known):.2f}-{max(known):.2f}x" if known else "-"


ROUND_SUMS = ("requests", "duration_us", "completed", "concurrency", "wall_s", "errors",
              "errors_total")


def _add(total, part):
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value


def combine_rounds(rounds):
    """One summary of a scenario measured in rounds: counts, durations, errors and CPU summed;
    req/s and CPU per request from the sums; each percentile the median of the rounds' (the mean
    of the middle two for an even count), the mean latency that of all their requests. The
    rounds are kept, raw."""
    stream = "completed" in rounds[0]
    total = {"cpu": {}}
    for summary in rounds:
        _add(total, {key: summary[key] for key in ROUND_SUMS if key in summary})
        cpu = summary.get("cpu") or {}
        _add(total["cpu"], {key: cpu[key] for key in ("cpu_s", "requests") if key in cpu})
    if stream:
        total["peak_open"] = max(summary.get("peak_open", 0) for summary in rounds)
    seconds = total.get("wall_s") if stream else total.get("duration_us", 0) / 1e6
    done = total.get("completed" if stream else "requests", 0)
    total["rps"] = done / seconds if seconds else None
    cpu = total["cpu"]
    cpu["ms_per_request"] = (1000.0 * cpu["cpu_s"] / cpu["requests"]
                             if cpu.get("requests") and "cpu_s" in cpu else None)
    for name in ("first_token_ms", "total_ms") if stream else ("latency_us",):
        for pct in ("p50", "p90", "p99"):
            values = [r[name][pct] for r in rounds if (r.get(name) or {}).get(pct) is not None]
            if values:
                total.setdefault(name, {})[pct] = statistics.median(values)
    if not stream:
        weighted = [(r["latency_us"]["mean"], r["requests"]) for r in rounds
                    if (r.get("latency_us") or {}).get("mean") is not None and r.get("requests")]
        if weighted:  # the mean of every request of the rounds (a share of ideal reads it)
            requests = sum(n for _, n in weighted)
            total.setdefault("latency_us", {})["mean"] = sum(m * n for m, n in weighted) / requests
    total["rounds"] = rounds
    return total


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}"


def _fmt_ratio(value):
    return "-" if value is None else f"{value:.2f}x"


def _render(header, lines):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]

    def render(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [render(line) for line in lines]
    return "\n".join(out)


def table(rows):
    header = ("figure", "direct", "floor", "gateway", "litellm", "gw/direct", "gw/floor",
              "gw/litellm")
    lines = []
    for name, unit, values, _ in rows:
        label = f"{name} ({unit})" if unit else name
        gateway = values.get("gateway")
        lines.append((label, *(_fmt(values.get(t)) for t in TARGETS),
                      *(_fmt_ratio(ratio(gateway, values.get(t)))
                        for t in ("direct", "floor", "litellm"))))
    return _render(header, lines)


def routes_table(costs):
    header = ("gateway route", "scenario", "done", "req/s", "errors", "CPU ms/req",
              "vs pass-through", "cost ratio", "by round")
    lines = [(row["label"], row["scenario"], _fmt(row["requests"]), _fmt(row["rps"]),
              _fmt(row["errors"]), _fmt(row["cpu_ms"]),
              "-" if row["baseline"] is None else
              f"{row['baseline']} ({_fmt(row['baseline_cpu_ms'])})",
              _fmt_ratio(row["cost_ratio"]),
              spread(row["round_ratios"]) if row["baseline"] else "-") for row in costs]
    return _render(header, lines)
