"""Run a Redis script whose reply nobody waits for: send it now, read the reply later.

A request's settle (redis_store.RedisStore.release) decides nothing for the request, so its
answer need not wait a Redis round trip for it. The call still leaves for Redis before the answer
leaves for the client, and Redis runs commands in the order they reach it, so the client's next
request, which it can only send once it has the answer, is admitted after this one is settled.

One background thread (a greenlet under gevent) reads the replies in order and gives the
connections back to the pool. A reply that says Redis lost its scripts (a restart, SCRIPT FLUSH),
or a connection that failed, runs the call again through redis-py's Script, which loads the
script and retries as redis-py does; a call that cannot be sent goes that way at once.
"""
import logging
import queue
import threading

from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

log = logging.getLogger(__name__)


class DeferredReplies:
    def __init__(self, client):
        self._pool = client.connection_pool
        self._sent = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()

    def run(self, script, args):
        """script(args=args), without waiting for its reply."""
        connection = self._pool.get_connection()
        try:
            connection.send_command("EVALSHA", script.sha, 0, *args)
        except (ConnectionError, TimeoutError):
            connection.disconnect()
            self._pool.release(connection)
            script(args=args)
            return
        except BaseException:
            connection.disconnect()
            self._pool.release(connection)
            raise
        self._sent.put((connection, script, args))
        if self._thread is None:
            self._start()

    def wait(self, timeout=5.0):
        """Until every reply sent so far is read (tests). True if within timeout."""
        done = threading.Event()
        self._sent.put((None, done, None))
        if self._thread is None:
            self._start()
        return done.wait(timeout)

    def _start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._read, name="redis-replies",
                                                daemon=True)
                self._thread.start()

    def _read(self):
        while True:
            connection, script, args = self._sent.get()
            if connection is None:  # wait()'s marker: everything before it is read
                script.set()
                continue
            try:
                connection.read_response()
            except NoScriptError:
                self._run_again(script, args)
            except (ConnectionError, TimeoutError):  # e.g. a pooled connection Redis had closed
                connection.disconnect()
                self._run_again(script, args)  # as redis-py retries a call on a failed connection
            except Exception:
                log.warning("no reply from Redis to a deferred %s call", script.sha[:8],
                            exc_info=True)
                connection.disconnect()
            finally:
                self._pool.release(connection)

    @staticmethod
    def _run_again(script, args):
        try:
            script(args=args)
        except Exception:
            log.exception("deferred Redis call failed when run again")
