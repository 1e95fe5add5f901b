"""The gateway's routes costed against pass-through, on the gateway only: an OpenAI client on an
Anthropic-format vendor and back, /v1/responses on either vendor, without streaming (16 clients)
and streamed (200 slow streams). Each route is held to the pass-through in its client's format
(a translated request) or to the pass-through to the same vendor (/v1/responses).

A cost is CPU per request, and other work on the machine moves it: so the pass-throughs are
measured again here, interleaved with the routes in rounds (forward, backward, forward), and each
scenario's figure sums its rounds. Drift in the background load then falls alike on a route and
its pass-through."""
import report
import scenarios
from scenarios import Scenario

ROUNDS = 3


def route_scenarios(seconds):
    """Pass-throughs (baseline None) and routes, in the order of a round."""
    def request(name, surface, model, baseline=None, label=""):
        return Scenario(name, "instant", surface, 16, seconds, model_name=model,
                        baseline=baseline, label=label)

    def stream(name, surface, model, baseline=None, label=""):
        return Scenario(name, "trickle", surface, 200, 0, stream=True, model_name=model,
                        baseline=baseline, label=label)

    return [
        request("pass-c16", "chat", "bench-instant",
                label="OpenAI client -> OpenAI vendor (pass-through)"),
        request("chat-to-anthropic-c16", "chat", "bench-claude", "pass-c16",
                "OpenAI client -> Anthropic vendor"),
        request("responses-openai-c16", "responses", "bench-instant", "pass-c16",
                "/v1/responses -> OpenAI vendor"),
        request("pass-anthropic-c16", "messages", "bench-claude",
                label="Anthropic client -> Anthropic vendor (pass-through)"),
        request("messages-to-openai-c16", "messages", "bench-instant", "pass-anthropic-c16",
                "Anthropic client -> OpenAI vendor"),
        request("responses-anthropic-c16", "responses", "bench-claude", "pass-anthropic-c16",
                "/v1/responses -> Anthropic vendor"),
        stream("pass-streams-200", "chat", "bench-trickle",
               label="OpenAI stream -> OpenAI vendor (pass-through)"),
        stream("chat-to-anthropic-streams-200", "chat", "bench-claude-trickle",
               "pass-streams-200", "OpenAI stream -> Anthropic vendor"),
        stream("responses-openai-streams-200", "responses", "bench-trickle", "pass-streams-200",
               "/v1/responses stream -> OpenAI vendor"),
        stream("pass-anthropic-streams-200", "messages", "bench-claude-trickle",
               label="Anthropic stream -> Anthropic vendor (pass-through)"),
        stream("messages-to-openai-streams-200", "messages", "bench-trickle",
               "pass-anthropic-streams-200", "Anthropic stream -> OpenAI vendor"),
        stream("responses-anthropic-streams-200", "responses", "bench-claude-trickle",
               "pass-anthropic-streams-200", "/v1/responses stream -> Anthropic vendor")]


def table_routes(seconds):
    """(scenario, label, baseline) of every row of the routes table."""
    return [(s.name, s.label, s.baseline) for s in route_scenarios(seconds)]


def measure(target, out, seconds, ramp_seconds, say):
    """Every route scenario in ROUNDS interleaved rounds; {scenario: combined summary}. Each
    request scenario is first probed: one request, its status and answer checked."""
    plan = route_scenarios(seconds)
    probes = {s.name: scenarios.probe(target, s) for s in plan if not s.stream}
    for name, probe in probes.items():
        if not probe["answer_ok"]:
            say(f"    PROBE FAILED: {name}: {probe}")
    parts = {s.name: [] for s in plan}
    for number in range(ROUNDS):
        say(f"  gateway routes, round {number + 1}/{ROUNDS}")
        for scenario in plan if number % 2 == 0 else plan[::-1]:
            sliced = Scenario(**{**scenario.__dict__, "seconds": seconds / ROUNDS})
            parts[scenario.name].append(scenarios.run(target, sliced, out, ramp_seconds,
                                                      warm=number == 0))
    results = {}
    for scenario in plan:
        results[scenario.name] = report.combine_rounds(parts[scenario.name])
        if scenario.name in probes:
            results[scenario.name]["probe"] = probes[scenario.name]
        say(f"    {scenario.name}: {scenarios.describe(results[scenario.name])}")
    return results
