"""The issue's targets, each checked against the figures of one run: MET or MISSED, with the
figure and the threshold. Pure: it reads the rows of report.figures and report.route_costs.

    1. requests/s at 16 and 256 clients, OpenAI and Anthropic formats: >= 0.8x the floor
    2. added latency at 1 client: p50 <= 1.25x, p99 <= 2x the floor's; p99 at 16 clients <= 1.25x
    3. 1 s upstream, 1 000 clients: >= 95 % of ideal, no errors
    4. 200 slow streams: added TTFT p50 <= 5 ms over direct; 1 000: all complete, TTFT p50 <= 1.1x
       the floor's
    5. peak RSS per worker <= the floor's + 10 MB
    6. every translated and /v1/responses route: CPU per request <= 1.3x its pass-through's
"""

FLOOR_RPS_SHARE = 0.8
ADDED_P50_VS_FLOOR = 1.25
ADDED_P99_VS_FLOOR = 2.0
P99_C16_VS_FLOOR = 1.25
SHARE_OF_IDEAL_PCT = 95.0
STREAMS_ADDED_TTFT_MS = 5.0
STREAMS_TTFT_VS_FLOOR = 1.1
RSS_OVER_FLOOR_MB = 10.0
ROUTE_COST_RATIO = 1.3


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _num(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value:,.2f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"


def _rounds(ratios):
    known = [r for r in ratios or () if r is not None]
    return f"; rounds {min(known):.2f}-{max(known):.2f}x" if known else ""


def targets_check(rows, costs, gateway_errors):
    """[{number, target, figure, threshold, detail, met}]: `rows` from report.figures, `costs`
    from report.route_costs, `gateway_errors` {scenario: errors} of every gateway scenario."""
    by_name = {name: values for name, _, values, _ in rows}
    checks = []

    def value(name, target="gateway"):
        return by_name.get(name, {}).get(target)

    def check(number, text, figure, threshold, met, detail):
        checks.append({"number": number, "target": text, "figure": figure,
                       "threshold": threshold, "met": bool(met) and figure is not None,
                       "detail": detail})

    def vs_floor(number, text, name, limit, higher_is_better=False):
        gateway, floor = value(name), value(name, "floor")
        share = _ratio(gateway, floor)
        met = share is not None and (share >= limit if higher_is_better else share <= limit)
        sign = ">=" if higher_is_better else "<="
        check(number, f"{text} {sign} {limit:g}x floor", share, limit, met,
              f"{_num(share, 'x')} ({_num(gateway)} vs {_num(floor)})")

    for label in ("16 clients", "256 clients"):
        for fmt, suffix in (("OpenAI", ""), ("Anthropic", ", Anthropic format")):
            vs_floor("1", f"req/s at {label}, {fmt} format", f"requests/s, {label}{suffix}",
                     FLOOR_RPS_SHARE, higher_is_better=True)
    vs_floor("2", "added latency p50 at 1 client", "added latency p50 at 1 client",
             ADDED_P50_VS_FLOOR)
    vs_floor("2", "added latency p99 at 1 client", "added latency p99 at 1 client",
             ADDED_P99_VS_FLOOR)
    vs_floor("2", "p99 at 16 clients (OpenAI format)", "p99, 16 clients", P99_C16_VS_FLOOR)

    share = value("1 s upstream, 1000 clients: share of ideal")
    errors = value("1 s upstream, 1000 clients: errors")
    check("3", f"1 s upstream, 1000 clients >= {SHARE_OF_IDEAL_PCT:g}% of ideal, no errors",
          share, SHARE_OF_IDEAL_PCT,
          share is not None and share >= SHARE_OF_IDEAL_PCT and errors == 0,
          f"{_num(share, '%')}, {_num(errors)} errors")

    added = value("200 streams: added time to first token p50")
    done = value("200 streams: completed of 200")
    check("4", f"200 slow streams: added TTFT p50 <= {STREAMS_ADDED_TTFT_MS:g} ms over direct, "
          "all complete", added, STREAMS_ADDED_TTFT_MS,
          added is not None and added <= STREAMS_ADDED_TTFT_MS and done == 200,
          f"{_num(added, ' ms')} ({_num(done)}/200 complete)")
    ttft = _ratio(value("1000 streams: time to first token p50"),
                  value("1000 streams: time to first token p50", "floor"))
    done = value("1000 streams: completed of 1000")
    check("4", f"1000 slow streams: all complete, TTFT p50 <= {STREAMS_TTFT_VS_FLOOR:g}x floor",
          ttft, STREAMS_TTFT_VS_FLOOR,
          ttft is not None and ttft <= STREAMS_TTFT_VS_FLOOR and done == 1000,
          f"{_num(ttft, 'x')} ({_num(value('1000 streams: time to first token p50'), ' ms')} vs "
          f"{_num(value('1000 streams: time to first token p50', 'floor'), ' ms')}; "
          f"{_num(done)}/1000 complete)")

    rss, floor_rss = (value("peak RSS per worker (largest)"),
                      value("peak RSS per worker (largest)", "floor"))
    over = None if rss is None or floor_rss is None else rss - floor_rss
    check("5", f"peak RSS per worker <= floor + {RSS_OVER_FLOOR_MB:g} MB", over,
          RSS_OVER_FLOOR_MB, over is not None and over <= RSS_OVER_FLOOR_MB,
          f"{_num(over, ' MB')} over ({_num(rss, ' MB')} vs {_num(floor_rss, ' MB')})")

    for row in costs:
        if row["baseline"] is None:
            continue
        cost = row["cost_ratio"]
        check("6", f"cost of {row['label']} ({row['scenario']}) <= {ROUTE_COST_RATIO:g}x "
              f"{row['baseline']}", cost, ROUTE_COST_RATIO,
              cost is not None and cost <= ROUTE_COST_RATIO and row["errors"] == 0,
              f"{_num(cost, 'x')} ({_num(row['cpu_ms'])} vs {_num(row['baseline_cpu_ms'])} CPU "
              f"ms/req{_rounds(row.get('round_ratios'))}, {_num(row['rps'])} req/s, "
              f"{_num(row['errors'])} errors)")

    failing = {name: count for name, count in gateway_errors.items() if count}
    check("-", "every gateway scenario without errors", sum(failing.values()), 0, not failing,
          ", ".join(f"{name}: {count}" for name, count in failing.items()) or "0 errors")
    return checks


def lines(checks):
    """`MET     1. req/s at 16 clients, OpenAI format >= 0.8x floor: 0.84x (...)`"""
    return [f"{'MET' if c['met'] else 'MISSED':7} {c['number']}. {c['target']}: {c['detail']}"
            for c in checks]
