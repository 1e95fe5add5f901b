"""Tally: a worker's metric increments, kept in memory and written to prometheus-client together.

In multiprocess mode (gunicorn) every prometheus-client increment takes a lock and writes the
worker's memory-mapped file, and a request makes about ten (requests, latency, tokens, cost,
attempts, in-flight). Summed here instead, they are written once per label set by flush(): every
SAMPLE_SECONDS (metrics.Sampler), before a scrape the worker serves, and when it exits. So a
scrape shows another worker's requests up to SAMPLE_SECONDS late, and a worker killed with
SIGKILL loses at most that much of its counts.
"""
import bisect
import threading


class Tally:
    def __init__(self):
        self._lock = threading.Lock()
        self._added = {}  # counter or gauge child -> amount since the last flush
        self._observed = {}  # histogram child -> [sum, count per bucket]

    def add(self, increments, observations=()):
        """increments: [(child, amount)]; observations: [(histogram child, buckets, value)],
        buckets the histogram's upper bounds (without +Inf)."""
        with self._lock:
            added = self._added
            for child, amount in increments:
                added[child] = added.get(child, 0) + amount
            for child, buckets, value in observations:
                entry = self._observed.get(child)
                if entry is None:
                    entry = self._observed[child] = [0.0, [0] * (len(buckets) + 1)]
                entry[0] += value
                entry[1][bisect.bisect_left(buckets, value)] += 1

    def flush(self):
        """Write what was added since the last flush to the metrics."""
        with self._lock:
            added, self._added = self._added, {}
            observed, self._observed = self._observed, {}
        for child, amount in added.items():
            if amount:
                child.inc(amount)
        for child, (total, counts) in observed.items():
            # what Histogram.observe writes for each value, once for them all: prometheus-client
            # (pinned) keeps a child's sum and per-bucket counts in _sum and _buckets
            child._sum.inc(total)
            for bucket, count in zip(child._buckets, counts, strict=True):
                if count:
                    bucket.inc(count)
