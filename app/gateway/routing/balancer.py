"""Load balancing: the order in which a model's deployments are tried.

Deployments are grouped by `priority` (lower first); every deployment of the best group is tried
before the next group. Within a group the model's strategy orders them:
- weighted (default): a random order where a deployment comes first with probability
  weight / total weight (weighted sampling without replacement);
- least-busy: fewest requests in flight in this process first;
- latency: lowest moving average of recent latency (time to the answer, or to a stream's first
  frame) first; a deployment without measurements yet comes before every measured one.

The statistics are this process's own: they steer traffic, they need not agree across workers.
"""
import random
import threading
from itertools import groupby

EWMA_ALPHA = 0.3  # weight of the newest latency sample


class DeploymentStats:
    """In-flight counts and latency averages per deployment id, in this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inflight = {}
        self._latency = {}

    def inflight(self, deployment_id):
        return self._inflight.get(deployment_id, 0)

    def latency(self, deployment_id):
        return self._latency.get(deployment_id)

    def begin(self, deployment_id):
        """Count a request in flight; the returned Lease ends it (once)."""
        with self._lock:
            self._inflight[deployment_id] = self._inflight.get(deployment_id, 0) + 1
        return Lease(self, deployment_id)

    def _end(self, deployment_id):
        with self._lock:
            left = self._inflight.get(deployment_id, 0) - 1
            if left > 0:
                self._inflight[deployment_id] = left
            else:
                self._inflight.pop(deployment_id, None)

    def observe_latency(self, deployment_id, seconds):
        with self._lock:
            old = self._latency.get(deployment_id)
            self._latency[deployment_id] = (seconds if old is None
                                            else EWMA_ALPHA * seconds + (1 - EWMA_ALPHA) * old)


class Lease:
    def __init__(self, stats, deployment_id):
        self._stats = stats
        self._id = deployment_id
        self._ended = False

    def end(self):
        if not self._ended:
            self._ended = True
            self._stats._end(self._id)


def order(deployments, strategy, stats, rng=random):
    """The deployments in the order to try them."""
    out = []
    by_priority = sorted(deployments, key=lambda d: d.priority)
    for _, group in groupby(by_priority, key=lambda d: d.priority):
        out += _order_group(list(group), strategy, stats, rng)
    return out


def _order_group(group, strategy, stats, rng):
    if len(group) == 1:
        return group
    if strategy == "least-busy":
        keyed = [((stats.inflight(d.id), rng.random()), d) for d in group]
    elif strategy == "latency":
        keyed = []
        for d in group:
            latency = stats.latency(d.id)
            keyed.append(((latency is not None, latency or 0.0, rng.random()), d))
    else:  # weighted: Efraimidis–Spirakis keys u^(1/w), largest first
        keyed = [((-(rng.random() ** (1.0 / d.weight)),), d) for d in group]
    keyed.sort(key=lambda pair: pair[0])
    return [d for _, d in keyed]
