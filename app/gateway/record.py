"""RequestRecord: what one request did, collected along the pipeline and turned into a log row."""
import time
from decimal import Decimal

from ..errors import client_status
from ..models import utcnow
from .pricing import Usage


class RequestRecord:
    def __init__(self, request_id, surface, endpoint, client_request_id=None, traceparent=None,
                 client_address=None):
        self.started = time.perf_counter()
        self.row = {
            "request_id": request_id, "client_request_id": client_request_id,
            "client_address": client_address,
            "surface": surface, "endpoint": endpoint,
            "created_at": utcnow(), "api_key_id": None, "user_id": None, "project_id": None,
            "model": None, "provider": None, "upstream_model": None, "stream": False,
            "status_code": 200, "error_type": None, "error_message": None,
            "time_to_first_token_ms": None,
        }
        self.usage = Usage()
        self.cost = Decimal(0)
        self.price = None
        self.ticket = None  # limits.Ticket while the request holds limits and a reservation
        self.limits = None  # the request's limits.Ticket, settled or not: its response headers
        self.attempts = []  # every upstream attempt: {provider, model, key, status, error, …}
        self.notes = {}  # what the serving attempt changed of the request (dropped_tools, …)
        self._lease = None  # balancer.Lease of the deployment serving the request
        self.traceparent = traceparent  # the client's W3C traceparent header, if any
        self.trace = None  # observability/tracing.py's RequestTrace when traces are exported
        self.key_prefix = None  # the caller's key prefix (for logs; not a column of the row)

    @property
    def limit_headers(self):
        """x-ratelimit-* and budget headers for the response, from the latest figures."""
        return self.limits.headers() if self.limits is not None else {}

    def caller(self, principal):
        self.row.update(api_key_id=principal.key_id, user_id=principal.user_id,
                        project_id=principal.project_id)
        self.key_prefix = principal.key_prefix

    def request(self, model, stream):
        self.row.update(model=model if isinstance(model, str) else None, stream=bool(stream))

    def route(self, route):
        """The deployment being tried (the last one tried is the one logged); the price is the
        model's that it serves, so a fallback is accounted at its own price."""
        self.row.update(provider=route.provider.name, upstream_model=route.deployment.model)
        self.price = route.entry.price

    @property
    def deployment(self):
        """<provider>/<upstream model> of the last deployment tried, or None."""
        if self.row["provider"] is None:
            return None
        return f"{self.row['provider']}/{self.row['upstream_model']}"

    def attempt(self, route, status, error, seconds):
        self.attempts.append({"provider": route.provider.name, "model": route.deployment.model,
                              "key": route.key, "status": status, "error": error,
                              "latency_ms": int(seconds * 1000)})
        if self.trace is not None:
            self.trace.attempt_ended()

    def attempt_failed(self, error):
        """The serving attempt failed after all (a stream broken after its first frame)."""
        if self.attempts:
            self.attempts[-1].update(status=error.upstream_status or error.status,
                                     error=error.code or error.openai_type)

    def note(self, name, value):
        """Something the serving attempt changed of the request; logged with that attempt."""
        self.notes[name] = value

    def hold(self, lease):
        self._lease = lease

    def release(self):
        """The request no longer occupies its deployment (for least-busy balancing)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.end()

    def account(self, usage):
        self.usage = usage
        if self.price is not None:
            self.cost = self.price.cost(usage)

    def first_output(self, at):
        if at is not None and self.row["time_to_first_token_ms"] is None:
            self.row["time_to_first_token_ms"] = int((at - self.started) * 1000)

    def fail(self, error, error_type=None):
        """The request failed: its row holds the status the client got (the upstream's status
        stays in `attempts`)."""
        self.row.update(status_code=client_status(error, self.row["surface"]),
                        error_type=error_type or error.code
                        or error.openai_type, error_message=str(error.message)[:1000])

    def _attempts_with_notes(self):
        if not self.notes or not self.attempts:
            return self.attempts
        return [*self.attempts[:-1], {**self.attempts[-1], **self.notes}]

    def finish(self):
        """The log row, with usage, cost and latency."""
        return {
            **self.row,
            "input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens,
            "cached_tokens": self.usage.cached_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "cost_usd": self.cost,
            "latency_ms": int((time.perf_counter() - self.started) * 1000),
            "attempts": self._attempts_with_notes() or None,
        }
