"""Stored responses: what the pipeline keeps of a /v1/responses answer (RESPONSES_STORE), the
conversation behind a previous_response_id, and the reads and deletes of /v1/responses/{id}.

Plain Python. `database(seconds)` (given by app/setup.py) is a context manager that yields the
repository (app/repositories/responses.py) inside an app context whose every database wait ends
within `seconds`. A response belongs to its caller's user ("user:5"), else its key ("key:7"),
else the master key ("master"): any other caller's id is 404, exactly as an unknown one.

Saving happens in the request, after the answer is complete and before its end reaches the
client, so the next turn's previous_response_id finds it; it never fails the answer (a database
error is logged and the answer goes out unstored). Expired rows are purged by a background
thread that `save` starts at most once per `purge_interval` (an hour) per process, in batches,
and by `flask responses purge`.
"""
import logging
import math
import threading
import time
from datetime import timedelta

from sqlalchemy import exc as sa_exc

from ..errors import InvalidRequest, NotFound, ServiceUnavailable
from ..models import utcnow
from .breaker import DATABASE_FAILURES

log = logging.getLogger(__name__)

ORDERS = ("asc", "desc")
MAX_LIMIT = 100
# Failures that say the database is unreachable (they open the breaker); a refused row does not.
OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
           sa_exc.TimeoutError, OSError)
SAVE_LOG_SECONDS = 60.0  # while saves keep failing, one log line per this interval
DISABLED = ("Stored responses are off on this gateway (RESPONSES_STORE=0): nothing is kept, so "
            "{what}. Ask its operator to set RESPONSES_STORE=1, or send the whole conversation "
            "in `input`.")


def owner_of(principal):
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    return "master"


def input_list(value):
    """`input` as a list of items: a string is one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": value}]}]
    return list(value)


class ResponseStore:
    def __init__(self, enabled, retention_seconds, database_timeout, *, database=None,
                 breaker=None, purge_interval=3600.0, clock=time.monotonic):
        if enabled and database is None:
            raise ValueError("an enabled ResponseStore needs its database")
        self.enabled = bool(enabled)
        self.retention = timedelta(seconds=retention_seconds)
        self.database_timeout = database_timeout
        self._database = database
        self._breaker = breaker
        self._purge_interval = purge_interval
        self._clock = clock
        self._last_purge = None  # monotonic time the last purge started (None: never)
        self._purging = threading.Lock()
        self._save_failures = 0
        self._save_logged_at = None

    # -- the pipeline's side ------------------------------------------------------------------

    def history(self, principal, response_id):
        """(instructions of response_id, the conversation items of its chain: for each response
        from the oldest, its input items then its output items)."""
        if not self.enabled:
            raise InvalidRequest(DISABLED.format(what="previous_response_id cannot be used"),
                                 param="previous_response_id", code="responses_store_disabled")
        with self._read() as repo:
            rows, missing = repo.chain(owner_of(principal), response_id, utcnow())
        if missing is not None:
            raise NotFound(f"Previous response with id '{missing}' not found.",
                           param="previous_response_id", code="previous_response_not_found")
        items = []
        for row in rows:
            items.extend(row["input_items"] or [])
            items.extend((row["response"] or {}).get("output") or [])
        return rows[-1]["instructions"], items

    def save(self, principal, response, input_items, instructions=None,
             previous_response_id=None):
        """Keep a complete answer; never raises."""
        if not self.enabled:
            return False
        try:
            row = self._row(principal, response, input_items, instructions, previous_response_id)
            if self._breaker is not None and not self._breaker.allow():
                raise ServiceUnavailable("the database is unavailable (its breaker is open)")
            with self._database(self.database_timeout) as repo:
                repo.save(row)
        except Exception as exc:
            if self._breaker is not None and isinstance(exc, OUTAGES):
                self._breaker.failed(exc)
            self._save_failed(response, exc)
            return False
        if self._breaker is not None:
            self._breaker.succeeded()
        self._save_failures = 0
        self._maybe_purge()
        return True

    # -- the routes' side ---------------------------------------------------------------------

    def get(self, principal, response_id):
        return self._load(principal, response_id)["response"]

    def input_items(self, principal, response_id, after=None, before=None, limit=20,
                    order="desc"):
        """OpenAI's list object of the response's own input items, a page at a time."""
        if order not in ORDERS:
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        if isinstance(limit, bool) or not isinstance(limit, int) \
                or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.",
                                 param="limit")
        row, repo = self._load(principal, response_id, with_repo=True)
        items = [repo.listed_item(row["id"], i, item)
                 for i, item in enumerate(row["input_items"])]
        data, has_more, unknown = repo.page(items, after=after, before=before, limit=limit,
                                            order=order)
        if unknown is not None:
            param = "after" if unknown == after else "before"
            raise InvalidRequest(f"No input item with id '{unknown}' in response "
                                 f"'{response_id}'.", param=param, code="invalid_cursor")
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": has_more}

    def delete(self, principal, response_id):
        self._require_enabled(response_id)
        with self._read() as repo:
            deleted = repo.delete(owner_of(principal), response_id, utcnow())
        if not deleted:
            raise self._not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    def purge(self):
        """Delete every expired response; returns how many."""
        total = 0
        while True:
            with self._database(self.database_timeout) as repo:
                count = repo.purge(utcnow())
            total += count
            if count < repo.PURGE_BATCH:
                return total

    # -- inside -------------------------------------------------------------------------------

    def _row(self, principal, response, input_items, instructions, previous_response_id):
        now = utcnow()
        return {"id": response["id"], "owner": owner_of(principal),
                "api_key_id": principal.key_id, "model": response.get("model"),
                "previous_response_id": previous_response_id,
                "input_items": input_list(input_items), "instructions": instructions,
                "response": response, "created_at": now, "expires_at": now + self.retention}

    def _require_enabled(self, response_id):
        if not self.enabled:
            raise NotFound(DISABLED.format(what=f"response '{response_id}' cannot be found"),
                           code="responses_store_disabled")

    @staticmethod
    def _not_found(response_id):
        return NotFound(f"Response with id '{response_id}' not found.", code="not_found")

    def _load(self, principal, response_id, with_repo=False):
        self._require_enabled(response_id)
        with self._read() as repo:
            row = repo.load(owner_of(principal), response_id, utcnow())
        if row is None:
            raise self._not_found(response_id)
        return (row, repo) if with_repo else row

    def _read(self):
        """The database for a read or delete a client waits on: 503 when it is unavailable."""
        return _Read(self)

    def _save_failed(self, response, exc):
        self._save_failures += 1
        now = self._clock()
        if self._save_logged_at is None or now - self._save_logged_at >= SAVE_LOG_SECONDS \
                or self._save_failures == 1:
            self._save_logged_at = now
            log.warning("response %s was not stored (%d failed save(s) in a row): %s: %s",
                        (response or {}).get("id") if isinstance(response, dict) else None,
                        self._save_failures, type(exc).__name__,
                        str(exc).strip().split("\n")[0][:200])

    def _maybe_purge(self):
        now = self._clock()
        if self._last_purge is not None and now - self._last_purge < self._purge_interval:
            return
        if not self._purging.acquire(blocking=False):
            return
        self._last_purge = now
        threading.Thread(target=self._purge_in_background, name="responses-purge",
                         daemon=True).start()

    def _purge_in_background(self):
        try:
            count = self.purge()
            if count:
                log.info("purged %d expired stored response(s)", count)
        except Exception as exc:
            log.warning("purging expired stored responses failed: %s: %s", type(exc).__name__,
                        str(exc).strip().split("\n")[0][:200])
        finally:
            self._purging.release()


class _Read:
    """with store._read() as repo: the repository, its waits bounded; a database that fails
    (or whose breaker is open) becomes 503 database_unavailable with retry-after."""

    def __init__(self, store):
        self._store = store
        self._context = None

    def __enter__(self):
        breaker = self._store._breaker
        if breaker is not None and not breaker.allow():
            raise self._unavailable()
        self._context = self._store._database(self._store.database_timeout)
        try:
            return self._context.__enter__()
        except DATABASE_FAILURES as exc:
            self._failed(exc)
            raise self._unavailable() from exc

    def __exit__(self, kind, exc, tb):
        try:
            suppressed = self._context.__exit__(kind, exc, tb)
        except DATABASE_FAILURES as failure:
            self._failed(failure)
            raise self._unavailable() from failure
        if isinstance(exc, DATABASE_FAILURES):
            self._failed(exc)
            raise self._unavailable() from exc
        if exc is None and self._store._breaker is not None:
            self._store._breaker.succeeded()
        return suppressed

    def _failed(self, exc):
        if self._store._breaker is not None and isinstance(exc, OUTAGES):
            self._store._breaker.failed(exc)

    def _unavailable(self):
        retry = max(1, math.ceil(self._store._breaker.retry_seconds)) \
            if self._store._breaker is not None else 5
        return ServiceUnavailable("The database is unavailable; stored responses cannot be "
                                  "read now. Retry shortly.", code="database_unavailable",
                                  headers={"retry-after": str(retry)})
