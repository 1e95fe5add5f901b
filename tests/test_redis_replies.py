"""DeferredReplies (app/gateway/limits/redis_replies.py) on a real Redis: a call is sent at
once and its reply read later, and the gateway's settles go that way without a client ever
seeing its own previous request still in flight."""
import os
import uuid

import pytest
import redis
import requests

from app.gateway.limits.redis_replies import DeferredReplies
from tests.conftest import create_key, serving

REDIS_URL = os.environ.get("REDIS_URL")
INCRBY = "return redis.call('INCRBY', ARGV[1], ARGV[2])"


@pytest.fixture
def client(redis_client):
    """A Redis client and a key of its own, deleted after the test."""
    key = f"test:deferred:{uuid.uuid4().hex}"
    yield redis_client, key
    redis_client.delete(key)


def test_a_call_is_run_before_any_command_sent_after_it(client):
    client, key = client
    script = client.register_script(INCRBY)
    replies = DeferredReplies(client)
    for _ in range(20):
        replies.run(script, [key, 1])
    assert int(client.get(key)) == 20  # on another connection: Redis ran them first
    assert replies.wait()


def test_a_script_redis_lost_is_loaded_and_run(client):
    client, key = client
    script = client.register_script(INCRBY)
    replies = DeferredReplies(client)
    replies.run(script, [key, 1])
    assert replies.wait()
    client.script_flush()
    replies.run(script, [key, 5])
    assert replies.wait()
    assert int(client.get(key)) == 6


def test_a_pooled_connection_redis_closed_still_runs_the_call(client):
    client, key = client
    script = client.register_script(INCRBY)
    replies = DeferredReplies(client)
    replies.run(script, [key, 1])
    assert replies.wait()
    killer = redis.Redis.from_url(REDIS_URL)
    killer.client_kill_filter(_type="normal", skipme=True)  # every pooled connection is dead
    killer.close()
    replies.run(script, [key, 2])
    assert replies.wait()
    assert int(client.get(key)) == 3


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: settles go to Redis")
def test_a_sequential_client_with_one_parallel_slot_is_never_refused(app_factory):
    """Each answer leaves before its settle's reply is read; the next request, sent after the
    answer, must find the slot free, on either instance."""
    first, second = app_factory(), app_factory()
    key = create_key(first, max_parallel=1)
    with serving(first) as url1, serving(second) as url2:
        codes = [requests.post(f"{url}/v1/chat/completions",
                               headers={"Authorization": f"Bearer {key}"},
                               json={"model": "mock-echo", "stream": stream,
                                     "messages": [{"role": "user", "content": "hi"}]}).status_code
                 for url in (url1, url2) * 20 for stream in (False, True)]
    assert codes == [200] * 80


class _Connection:
    def __init__(self, fail_send=None, fail_read=None):
        self.fail_send, self.fail_read, self.disconnected = fail_send, fail_read, False

    def pack_commands(self, commands):
        return commands

    def send_packed_command(self, packed):
        if self.fail_send:
            raise self.fail_send

    def read_response(self):
        if self.fail_read:
            raise self.fail_read
        return 1

    def disconnect(self):
        self.disconnected = True


class _Pool:
    def __init__(self, connection):
        self.connection, self.released = connection, 0

    def get_connection(self):
        return self.connection

    def release(self, connection):
        self.released += 1


class _Script:
    sha = "0123456789abcdef"

    def __init__(self):
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)


@pytest.mark.parametrize("connection, runs_again", [
    (_Connection(fail_send=redis.ConnectionError("reset")), True),  # goes the synchronous way
    (_Connection(fail_read=redis.ConnectionError("closed")), True),  # run again, as redis-py
    (_Connection(fail_read=redis.ResponseError("WRONGTYPE")), False),  # Redis ran it: log only
])
def test_a_failed_connection_runs_the_call_again_and_a_failed_call_does_not(connection,
                                                                            runs_again, caplog):
    pool, script = _Pool(connection), _Script()
    replies = DeferredReplies(type("Client", (), {"connection_pool": pool})())
    replies.run(script, ["a", 1])
    assert replies.wait()
    assert script.calls == ([["a", 1]] if runs_again else [])
    assert connection.disconnected and pool.released == 1
    if not runs_again:
        assert "no reply from Redis" in caplog.text
