"""Turn the raw results of one run into the figures the issue asks for, with every gateway figure as
a ratio to the direct upstream and to LiteLLM, and print them as a table."""

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


def figures(results, upstream_delay_s):
    """[(figure, unit, {target: value}, lower_is_better)] from the raw results."""
    rows = []

    def add(name, unit, lower, values):
        rows.append((name, unit, values, lower))

    def per_target(fn):
        return {t: fn(t) for t in TARGETS if t in results}

    def added(t, scenario="c1", pct="p50"):
        value = _ms(_get(results, t, scenario, "latency_us", pct))
        base = _ms(_get(results, "direct", scenario, "latency_us", pct))
        return None if value is None or base is None else value - base

    add("latency p50 at 1 client", "ms", True,
        per_target(lambda t: _ms(_get(results, t, "c1", "latency_us", "p50"))))
    add("added latency p50 at 1 client", "ms", True, per_target(added))
    add("added latency p99 at 1 client", "ms", True,
        per_target(lambda t: added(t, pct="p99")))
    for scenario, label in (("c16", "16 clients"), ("c256", "256 clients"),
                            ("anthropic-c16", "16 clients, Anthropic format")):
        add(f"requests/s, {label}", "req/s", False,
            per_target(lambda t, s=scenario: _get(results, t, s, "rps")))
        add(f"p99, {label}", "ms", True,
            per_target(lambda t, s=scenario: _ms(_get(results, t, s, "latency_us", "p99"))))
        add(f"errors, {label}", "", True,
            per_target(lambda t, s=scenario: _get(results, t, s, "errors_total")))
    add("1 s upstream, 1000 clients: completed in the run", "req/s", False,
        per_target(lambda t: _get(results, t, "slow-c1000", "rps")))
    add("1 s upstream, 1000 clients: share of ideal", "%", False,
        per_target(lambda t: _share_of_ideal(_get(results, t, "slow-c1000", "latency_us", "mean"),
                                             upstream_delay_s)))
    add("1 s upstream, 1000 clients: errors", "", True,
        per_target(lambda t: _get(results, t, "slow-c1000", "errors_total")))
    add("streams: concurrently open at peak", "", False,
        per_target(lambda t: _get(results, t, "streams-1000", "peak_open")))
    add("streams: completed of 1000", "", False,
        per_target(lambda t: _get(results, t, "streams-1000", "completed")))
    add("streams: time to first token p50", "ms", True,
        per_target(lambda t: _get(results, t, "streams-1000", "first_frame_ms", "p50")))

    def added_ttft(t):
        value = _get(results, t, "streams-1000", "first_frame_ms", "p50")
        base = _get(results, "direct", "streams-1000", "first_frame_ms", "p50")
        return None if value is None or base is None else value - base

    add("streams: added time to first token p50", "ms", True, per_target(added_ttft))
    add("peak RSS per worker (largest)", "MB", True,
        per_target(lambda t: max(results[t].get("peak_rss_mb", {}).values(), default=None)))
    return rows


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


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}"


def _fmt_ratio(value):
    return "-" if value is None else f"{value:.2f}x"


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
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]

    def render(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [render(line) for line in lines]
    return "\n".join(out)


def targets_check(rows):
    """The issue's targets, each with the figure it reads and whether it was met."""
    by_name = {name: values for name, _, values, _ in rows}

    def value(name, target="gateway"):
        return by_name.get(name, {}).get(target)

    checks = []

    def check(text, ok, figure):
        checks.append({"target": text, "met": ok, "figure": figure})

    added = value("added latency p50 at 1 client")
    check("added latency p50 at 1 client <= 1 ms", added is not None and added <= 1.0, added)
    r16 = ratio(value("requests/s, 16 clients"), value("requests/s, 16 clients", "litellm"))
    check("requests/s at 16 clients >= 10x LiteLLM", r16 is not None and r16 >= 10, r16)
    share = value("1 s upstream, 1000 clients: share of ideal")
    errors = value("1 s upstream, 1000 clients: errors")
    check("1 s upstream, 1000 clients: >= 90% of ideal, no errors",
          share is not None and share >= 90 and errors == 0, share)
    done = value("streams: completed of 1000")
    ttft = value("streams: added time to first token p50")
    check("1000 slow streams all complete, added TTFT p50 <= 2 ms",
          done == 1000 and ttft is not None and ttft <= 2.0, ttft)
    rss = value("peak RSS per worker (largest)")
    check("peak RSS per worker <= 150 MB", rss is not None and rss <= 150, rss)
    return checks
