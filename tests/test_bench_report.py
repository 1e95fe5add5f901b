"""The benchmark's arithmetic, without servers: CPU read from /proc/<pid>/stat lines, CPU per
request and its ratio to a pass-through, and the issue's targets judged MET or MISSED from one
run's figures (bench/cost.py, bench/report.py, bench/checks.py)."""
import pytest

from bench import checks, cost, report

UPSTREAM_DELAY_S = 1.0


def _wrk(rps, p50_ms, p99_ms, mean_ms=None, errors=0, cpu_ms=None):
    summary = {"rps": rps, "errors_total": errors, "requests": int(rps * 10),
               "latency_us": {"p50": p50_ms * 1000, "p99": p99_ms * 1000,
                              "mean": (mean_ms or p50_ms) * 1000}}
    if cpu_ms is not None:
        summary["cpu"] = {"ms_per_request": cpu_ms}
    return summary


def _streams(count, ttft_ms, completed=None, cpu_ms=None):
    summary = {"concurrency": count, "completed": count if completed is None else completed,
               "peak_open": count, "first_token_ms": {"p50": ttft_ms},
               "errors_total": 0 if completed is None else count - completed, "rps": 100.0}
    if cpu_ms is not None:
        summary["cpu"] = {"ms_per_request": cpu_ms}
    return summary


def _target(rps16, c1_p50, c1_p99, c16_p99, slow_mean_ms, ttft200, ttft1000, rss, cpu16=None):
    return {"c1": _wrk(900, c1_p50, c1_p99),
            "c16": _wrk(rps16, 5, c16_p99, cpu_ms=cpu16),
            "c256": _wrk(rps16, 50, 90),
            "anthropic-c16": _wrk(rps16, 5, c16_p99, cpu_ms=cpu16),
            "anthropic-c256": _wrk(rps16, 50, 90),
            "slow-c1000": _wrk(950, 1000, 1100, mean_ms=slow_mean_ms),
            "streams-200": _streams(200, ttft200, cpu_ms=5.0),
            "streams-1000": _streams(1000, ttft1000),
            "peak_rss_mb": {1: 30.0, 2: rss, 3: rss - 5}, "workers": 2}


def _results(gateway_overrides=None):
    results = {"direct": _target(100_000, 0.1, 0.2, 3, 1001, 1.0, 2.0, 28),
               "floor": _target(2000, 0.6, 1.2, 50, 1100, 3.0, 200.0, 190, cpu16=1.0),
               "gateway": _target(1700, 0.85, 2.2, 60, 1040, 5.5, 215.0, 199, cpu16=1.1)}
    results["gateway"].update(gateway_overrides or {})
    return results


ROUTES = [("c16", "OpenAI pass-through", None),
          ("chat-to-anthropic-c16", "OpenAI client -> Anthropic vendor", "c16"),
          ("responses-openai-c16", "/v1/responses -> OpenAI vendor", "c16")]


def _verdicts(results, costs=()):
    rows = report.figures(results, UPSTREAM_DELAY_S)
    errors = {name: summary["errors_total"] for name, summary in results["gateway"].items()
              if isinstance(summary, dict) and "errors_total" in summary}
    return {(check["number"], check["target"]): check
            for check in checks.targets_check(rows, list(costs), errors)}


def _find(verdicts, number, words):
    found = [check for (n, text), check in verdicts.items() if n == number and words in text]
    assert len(found) == 1, (number, words, list(verdicts))
    return found[0]


def test_a_proc_stat_line_gives_user_plus_system_seconds_even_with_spaces_in_the_name():
    fields = ["S"] + ["0"] * 10 + ["250", "150"] + ["0"] * 30  # fields 3..; utime 14, stime 15
    line = "4242 (gunicorn: worker (x)) " + " ".join(fields)
    assert cost.parse_cpu_seconds(line) == pytest.approx(400 / cost.TICKS_PER_SECOND)


def test_cpu_spent_counts_a_new_process_whole_and_a_gone_one_not_at_all():
    before = {1: 10.0, 2: 5.0}
    after = {1: 12.5, 3: 0.5}  # 2 exited, 3 started in the window
    assert cost.spent(before, after) == pytest.approx(3.0)


def test_cpu_per_request_and_its_ratio_to_the_pass_through():
    assert cost.ms_per_request(2.6, 2000) == pytest.approx(1.3)
    assert cost.ms_per_request(1.0, 0) is None
    assert cost.cost_ratio(1.3, 1.0) == pytest.approx(1.3)
    assert cost.cost_ratio(None, 1.0) is None


def test_route_costs_are_ratios_to_their_baseline_in_the_same_run():
    gateway = {"c16": _wrk(1700, 5, 60, cpu_ms=1.0),
               "chat-to-anthropic-c16": _wrk(1500, 6, 70, cpu_ms=1.25),
               "responses-openai-c16": _wrk(1200, 7, 80, cpu_ms=1.4)}
    rows = {row["scenario"]: row for row in report.route_costs(gateway, ROUTES)}
    assert rows["c16"]["cost_ratio"] is None
    assert rows["chat-to-anthropic-c16"]["cost_ratio"] == pytest.approx(1.25)
    assert rows["responses-openai-c16"]["cost_ratio"] == pytest.approx(1.4)
    assert rows["responses-openai-c16"]["baseline_cpu_ms"] == pytest.approx(1.0)
    verdicts = _verdicts(_results(gateway), report.route_costs(gateway, ROUTES))
    assert _find(verdicts, "6", "chat-to-anthropic-c16")["met"]
    assert not _find(verdicts, "6", "responses-openai-c16")["met"]
    assert not any(check["number"] == "6" and "(c16)" in check["target"]
                   for check in verdicts.values())  # a pass-through is not judged against itself


def test_targets_met_and_missed_with_their_figures():
    verdicts = _verdicts(_results())
    rps = _find(verdicts, "1", "16 clients, OpenAI")
    assert rps["met"] and rps["figure"] == pytest.approx(0.85)
    # added latency p50: (0.85 - 0.1) / (0.6 - 0.1) = 1.5x > 1.25x
    p50 = _find(verdicts, "2", "p50 at 1 client")
    assert not p50["met"] and p50["figure"] == pytest.approx(1.5)
    # p99, less the direct upstream's p50 (its own time): (2.2 - 0.1) / (1.2 - 0.1) = 1.91x
    p99 = _find(verdicts, "2", "p99 at 1 client")
    assert p99["met"] and p99["figure"] == pytest.approx(2.1 / 1.1)
    assert _find(verdicts, "2", "p99 at 16 clients")["figure"] == pytest.approx(1.2)
    # 1 s / 1.04 s mean latency = 96 % of ideal
    assert _find(verdicts, "3", "1000 clients")["met"]
    # 200 streams: 5.5 - 1.0 = 4.5 ms added; 1000 streams: 215 / 200 = 1.075x the floor
    assert _find(verdicts, "4", "200 slow streams")["figure"] == pytest.approx(4.5)
    assert _find(verdicts, "4", "1000 slow streams")["met"]
    rss = _find(verdicts, "5", "RSS")
    assert rss["met"] and rss["figure"] == pytest.approx(9.0)
    assert _find(verdicts, "-", "without errors")["met"]


def test_errors_or_incomplete_streams_miss_their_targets():
    verdicts = _verdicts(_results({
        "slow-c1000": _wrk(950, 1000, 1100, mean_ms=1001, errors=3),
        "streams-1000": _streams(1000, 190.0, completed=999)}))
    assert not _find(verdicts, "3", "1000 clients")["met"]
    assert not _find(verdicts, "4", "1000 slow streams")["met"]
    errors = _find(verdicts, "-", "without errors")
    assert not errors["met"] and "slow-c1000: 3" in errors["detail"]


def test_a_missing_figure_is_missed_not_met():
    results = _results()
    del results["floor"]["c256"]
    assert not _find(_verdicts(results), "1", "256 clients, OpenAI")["met"]


def test_the_printed_line_says_met_or_missed_the_target_and_the_figure():
    lines = checks.lines([{"number": "1", "target": "req/s at 16 clients, OpenAI format >= 0.8x "
                           "floor", "met": True, "detail": "0.84x (1,700 vs 2,024)"},
                          {"number": "6", "target": "cost of x <= 1.3x c16", "met": False,
                           "detail": "1.40x"}])
    assert lines == ["MET     1. req/s at 16 clients, OpenAI format >= 0.8x floor: 0.84x "
                     "(1,700 vs 2,024)",
                     "MISSED  6. cost of x <= 1.3x c16: 1.40x"]


def test_rounds_of_a_scenario_are_summed_and_their_percentiles_are_the_median_round():
    rounds = [{**_wrk(500, 5, 40), "duration_us": 3_000_000, "requests": 1500,
               "errors": {"status": 0, "timeout": 1}, "errors_total": 1,
               "cpu": {"cpu_s": 3.0, "requests": 1500, "ms_per_request": 2.0}},
              {**_wrk(400, 7, 60), "duration_us": 3_000_000, "requests": 1200,
               "errors": {"status": 0, "timeout": 0}, "errors_total": 0,
               "cpu": {"cpu_s": 2.7, "requests": 1200, "ms_per_request": 2.25}},
              {**_wrk(450, 6, 50), "duration_us": 3_000_000, "requests": 1350,
               "errors": {"status": 2, "timeout": 0}, "errors_total": 2,
               "cpu": {"cpu_s": 2.7, "requests": 1350, "ms_per_request": 2.0}}]
    combined = report.combine_rounds(rounds)
    assert combined["requests"] == 4050 and combined["rps"] == pytest.approx(450)
    assert combined["errors"] == {"status": 2, "timeout": 1} and combined["errors_total"] == 3
    assert combined["cpu"]["ms_per_request"] == pytest.approx(8400 / 4050)
    assert combined["latency_us"] == {"p50": 6000, "p99": 50_000,
                                      "mean": pytest.approx((1500 * 5 + 1200 * 7 + 1350 * 6)
                                                            / 4050 * 1000)}
    two = report.combine_rounds(rounds[:2])  # an even count: the middle two's mean
    assert two["latency_us"]["p50"] == 6000 and two["latency_us"]["p99"] == 50_000
    streams = report.combine_rounds([{**_streams(200, 4.0, cpu_ms=5.0), "wall_s": 2.0,
                                      "errors": {}, "cpu": {"cpu_s": 1.0, "requests": 200}},
                                     {**_streams(200, 6.0, completed=199), "wall_s": 2.0,
                                      "errors": {"error frame": 1},
                                      "cpu": {"cpu_s": 1.2, "requests": 199}}])
    assert streams["completed"] == 399 and streams["rps"] == pytest.approx(99.75)
    assert streams["errors"] == {"error frame": 1}
    assert streams["cpu"]["ms_per_request"] == pytest.approx(2200 / 399)


def test_each_rounds_own_ratio_shows_how_far_the_machines_load_moved_the_cost():
    def rounds(*ms):
        return {"requests": 100, "cpu": {"ms_per_request": sum(ms) / len(ms)},
                "rounds": [{"cpu": {"ms_per_request": m}} for m in ms]}

    gateway = {"c16": rounds(2.0, 3.0, 2.0), "chat-to-anthropic-c16": rounds(2.2, 3.6, 2.0)}
    row = report.route_costs(gateway, ROUTES[:2])[1]
    assert row["round_ratios"] == pytest.approx([1.1, 1.2, 1.0])
    assert report.spread(row["round_ratios"]) == "1.00-1.20x"
    assert "rounds 1.00-1.20x" in _find(_verdicts(_results(), [row]), "6", "chat-to")["detail"]


def test_streams_measured_in_rounds_must_all_complete_in_every_round():
    def rounds(*completed):
        return report.combine_rounds([{**_streams(1000, 200.0, completed=done), "wall_s": 2.0,
                                       "errors": {}} for done in completed])

    results = _results({"streams-1000": rounds(1000, 1000)})
    assert _find(_verdicts(results), "4", "1000 slow streams")["met"]
    rows = {name: values for name, _, values, _ in report.figures(results, UPSTREAM_DELAY_S)}
    assert rows["1000 streams: completed of 1000"]["gateway"] == 1000
    # 1 999 of 2 000 over two rounds is one round that lost a stream, not "all 1 000 complete"
    missed = _verdicts(_results({"streams-1000": rounds(1000, 999)}))
    assert not _find(missed, "4", "1000 slow streams")["met"]
