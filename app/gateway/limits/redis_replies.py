"""Run a Redis script whose reply nobody waits for: send it now, read the reply later.

A request's settle (redis_store.RedisStore.release) decides nothing for the request, so its
answer need not wait a Redis round trip for it. The call still leaves for Redis before the answer
leaves for the client. Redis keeps the order of one connection's commands but may read two
connections in either order in one turn of its loop, so the settle of a request that left a scope
full waits for its reply (wait()) before the answer leaves: its client's next request, sent once
it has the answer, is admitted after it.

One background thread (a greenlet under gevent) reads the replies in order and gives the
connections back to the pool. run_many() sends several calls in one write; run_before() sends
calls and then those whose replies are wanted (admissions), in one write and one round trip. A
reply that says Redis lost its scripts (a restart, SCRIPT FLUSH), or a connection that failed,
runs the call again through redis-py's Script, which loads the script and retries as redis-py
does.

run() never raises and never blocks on a Redis that is down: a call that cannot be sent (Redis
refuses, times out, or the breaker says it is down) waits in memory — at most MAX_WAITING calls,
oldest first — and retry_waiting() sends it once Redis answers again: before the next
admission that reaches Redis (so a slot is free before it is counted) and on every lease
renewal.
"""
import collections
import logging
import queue
import threading

from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from ..breaker import REDIS_FAILURES

log = logging.getLogger(__name__)
MAX_WAITING = 100_000


class DeferredReplies:
    def __init__(self, client, breaker=None):
        self._pool = client.connection_pool
        self._breaker = breaker
        self._sent = queue.Queue()
        self._waiting = collections.deque()
        self._thread = None
        self._lock = threading.Lock()
        self.given_up = 0  # calls dropped because too many were waiting

    @property
    def waiting(self):
        return len(self._waiting)

    def run(self, script, args):
        """script(args=args), without waiting for its reply; never raises."""
        self.run_many(script, [args])

    def run_many(self, script, calls):
        """script(args=…) for each of calls, in one write, without waiting for the replies;
        never raises."""
        if not calls:
            return
        if self._breaker is not None and not self._breaker.allow():
            for args in calls:
                self._wait(script, args)
            return
        try:
            connection = self._pool.get_connection()
        except REDIS_FAILURES as exc:
            self._failed(exc, script, calls)
            return
        try:
            connection.send_packed_command(connection.pack_commands(
                [("EVALSHA", script.sha, 0, *args) for args in calls]))
        except REDIS_FAILURES:
            connection.disconnect()
            self._pool.release(connection)
            for args in calls:
                self._run_again(script, args)
            return
        except BaseException:
            connection.disconnect()
            self._pool.release(connection)
            raise
        self._sent.put((connection, script, calls))
        if self._thread is None:
            self._start()

    def run_before(self, script, calls, then, then_calls):
        """script(args=…) for each of calls, then then(args=…) for each of then_calls, in one
        write and one round trip; then's replies, in order (an error reply as its exception:
        NoScriptError when Redis lost the script). The calls' replies are checked here (a call
        Redis could not run is run again, or waits); when Redis fails, every call waits and the
        error is raised."""
        connection, replies = None, []
        try:
            connection = self._pool.get_connection()
            connection.send_packed_command(connection.pack_commands(
                [("EVALSHA", script.sha, 0, *args) for args in calls]
                + [("EVALSHA", then.sha, 0, *args) for args in then_calls]))
            for _ in range(len(calls) + len(then_calls)):
                try:
                    replies.append(connection.read_response())
                except ResponseError as error:  # an error reply; the connection is fine
                    replies.append(error)
        except BaseException:
            if connection is not None:
                connection.disconnect()
                self._pool.release(connection)
            for args in calls:  # run again later: a settle applies once (lua.py)
                self._wait(script, args)
            raise
        self._pool.release(connection)
        for args, reply in zip(calls, replies, strict=False):
            if isinstance(reply, Exception):
                self._after_error(reply, script, args)
        return replies[len(calls):]

    def _after_error(self, error, script, args):
        if isinstance(error, NoScriptError):
            self._run_again(script, args)
        else:
            log.warning("Redis refused a %s call: %s", script.sha[:8], error)

    def retry_waiting(self):
        """Send the calls that waited for Redis, oldest first (raises, keeping the rest, when
        Redis fails again: the caller tells the breaker)."""
        while self._waiting:
            try:
                script, args = self._waiting.popleft()
            except IndexError:  # another caller sent it meanwhile
                return
            try:
                script(args=args)
            except BaseException:
                self._waiting.appendleft((script, args))
                raise

    def wait(self, timeout=5.0):
        """Until every reply sent so far is read. True if within timeout."""
        done = threading.Event()
        self._sent.put((None, done, None))
        if self._thread is None:
            self._start()
        return done.wait(timeout)

    def _failed(self, exc, script, calls):
        if self._breaker is not None:
            self._breaker.failed(exc)
        for args in calls:
            self._wait(script, args)

    def _wait(self, script, args):
        if len(self._waiting) >= MAX_WAITING:
            self._waiting.popleft()
            self.given_up += 1
            if self.given_up % 1000 == 1:
                log.error("Redis down: %d settles dropped (their slots and reservations expire "
                          "with their lease)", self.given_up)
        self._waiting.append((script, args))

    def _start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._read, name="redis-replies",
                                                daemon=True)
                self._thread.start()

    def _read(self):
        while True:
            connection, script, calls = self._sent.get()
            if connection is None:  # wait()'s marker: everything before it is read
                script.set()
                continue
            try:
                for index, args in enumerate(calls):
                    try:
                        connection.read_response()
                    except NoScriptError:
                        self._run_again(script, args)
                    except (ConnectionError, TimeoutError):  # e.g. a pooled connection Redis
                        connection.disconnect()  # had closed: run the rest again, as redis-py
                        for rest in calls[index:]:  # retries a call on a failed connection
                            self._run_again(script, rest)
                        break
            except Exception:
                log.warning("no reply from Redis to a deferred %s call", script.sha[:8],
                            exc_info=True)
                connection.disconnect()
            finally:
                self._pool.release(connection)

    def _run_again(self, script, args):
        try:
            script(args=args)
        except REDIS_FAILURES as exc:
            self._failed(exc, script, [args])
        except Exception:
            log.exception("deferred Redis call failed when run again")
