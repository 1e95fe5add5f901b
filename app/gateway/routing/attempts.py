"""Retries and fallbacks: one request's attempts over the deployments of its plan.

Each pass goes over the plan's deployments in order (the model's, then its fallbacks'), skipping
those whose circuit is open or whose provider keys all cool down. A retryable failure (connect
error, timeout, 408, 409, 429, 5xx, 529, or a stream that fails before its first frame) moves on
to the next deployment; when a pass is over, the next pass starts again from the top. At most
1 + num_retries attempts (of the requested model's settings) and, with timeout_seconds, all
within that deadline. A deployment tried before in this request is retried only after a short
jittered backoff; a fresh one at once. A non-retryable failure (400, 404, 413, 422, the
upstream refusing the gateway's key, ...) is the answer at once.
"""
import math
import random
import time
from dataclasses import replace

from ...errors import GatewayError, RateLimited, UpstreamError, UpstreamTimeout

DEPLOYMENT_HEADER = "x-gateway-deployment"


class Attempts:
    def __init__(self, router, vendors, health, clock=time.monotonic, sleep=time.sleep,
                 rng=None):
        self.router = router
        self.vendors = vendors
        self.health = health
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()

    def run(self, record, plan, call):
        """call(route, handler) -> result, raising a GatewayError when the upstream fails.
        Returns (route, result) of the attempt that succeeded; raises the error to answer."""
        entry = plan.entry
        deadline = None if entry.timeout_seconds is None else self.clock() + entry.timeout_seconds
        allowed = 1 + entry.num_retries
        made, tried, last_error = 0, set(), None
        while made < allowed:
            refusals, progressed = [], False
            for candidate in self.router.round(plan):
                if made >= allowed or self._left(deadline) <= 0:
                    break
                if candidate.deployment.id in tried and not self._backoff(made, deadline):
                    break
                gate = self.health.gate(candidate.provider, candidate.deployment)
                if gate.refused:
                    refusals.append(gate)
                    continue
                made += 1
                progressed = True
                tried.add(candidate.deployment.id)
                route = self.router.route(candidate.entry, candidate.deployment, gate.key,
                                          deadline)
                try:
                    return route, self._attempt(record, route, gate, entry, call)
                except GatewayError as error:
                    error.headers[DEPLOYMENT_HEADER] = route.label
                    if not error.retryable:
                        raise
                    last_error = error
            if not progressed:
                break
        if last_error is not None:
            raise last_error
        raise _nothing_usable(refusals, entry)

    def _attempt(self, record, route, gate, entry, call):
        if record.trace is not None:  # traces on: this attempt's span id goes up in traceparent
            route = replace(route, traceparent=record.trace.attempt_started(route))
        record.route(route)
        deployment_id = route.deployment.id
        lease = self.router.stats.begin(deployment_id)
        started = self.clock()
        try:
            result = call(route, self.vendors.get_handler(route.provider))
        except GatewayError as error:
            lease.end()
            elapsed = self.clock() - started
            if isinstance(error, UpstreamTimeout):
                self.router.stats.observe_latency(deployment_id, elapsed)
            self.health.record(route, gate, entry.circuit, error)
            record.attempt(route, error.upstream_status or error.status,
                           error.code or error.openai_type, elapsed)
            raise
        except BaseException:
            lease.end()
            record.attempt(route, 500, "internal_error", self.clock() - started)
            raise
        elapsed = self.clock() - started
        self.router.stats.observe_latency(deployment_id, elapsed)
        self.health.record(route, gate, entry.circuit)
        record.attempt(route, 200, None, elapsed)
        record.hold(lease)
        return result

    def _left(self, deadline):
        return math.inf if deadline is None else deadline - self.clock()

    def _backoff(self, retry, deadline):
        """Wait a little before trying a deployment again; False when the deadline is too
        close for another attempt."""
        shortest, longest = self.router.catalog.resilience.backoff
        delay = self.rng.uniform(shortest, min(longest, shortest * 2 ** retry))
        left = self._left(deadline)
        if delay >= left:
            return False
        self.sleep(delay)
        return True


def _nothing_usable(refusals, entry):
    """Every deployment was skipped: 429 when provider keys cool down the soonest (retry-after:
    the shortest remaining cooldown), 503 when circuits are open."""
    if not refusals:
        return UpstreamTimeout(f"No deployment of `{entry.name}` could answer within "
                               f"{entry.timeout_seconds} s.", code="deadline_exceeded")
    soonest = min(refusals, key=lambda gate: gate.wait)
    headers = {"retry-after": str(max(1, math.ceil(soonest.wait)))}
    if soonest.refused == "keys":
        return RateLimited(f"Every upstream API key that can serve `{entry.name}` is cooling "
                           "down after rate limits; retry later.",
                           code="upstream_keys_cooling_down", headers=headers)
    return UpstreamError(f"Every deployment of `{entry.name}` is failing and temporarily "
                         "taken out of service; retry later.", status=503,
                         code="deployments_unavailable", headers=headers)
