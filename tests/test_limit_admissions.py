"""Under gevent, the admissions of one loop turn go to Redis in one write
(app/gateway/limits/admissions.py); each request still gets its own verdict, and a failed write
fails every admission in it as one call would. Run in a subprocess patched by gevent, as a
gunicorn worker is, on a real Redis."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: the store is Redis")
ROOT = Path(__file__).resolve().parent.parent

TURN = """
from gevent import monkey; monkey.patch_all()
import os, uuid
from decimal import Decimal
import gevent, redis
from app.gateway.limits.admissions import PerLoopTurn
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.redis_store import RedisStore
from app.gateway.limits.tickets import Scope

client = redis.Redis.from_url(os.environ["REDIS_URL"])
store = RedisStore(client, prefix="test:turn:" + uuid.uuid4().hex)
assert isinstance(store.admissions, PerLoopTurn)
limiter = Limiter(store, lambda scope, start: Decimal(0))
scope = Scope("key:1", rpm=100, max_parallel=50)
writes = []
run_before = store.settles.run_before
store.settles.run_before = lambda *a: writes.append(len(a[3])) or run_before(*a)
limiter.settle(limiter.admit("warm", [scope], 0, 0), 0, 0)  # a roomy settle, waiting to ride
writes.clear()
go = gevent.event.Event()

def admit(i):
    go.wait()
    return limiter.admit(f"r{i}", [scope], 0, 0)

greenlets = [gevent.spawn(admit, i) for i in range(20)]
gevent.sleep(0)
go.set()
tickets = [g.get() for g in greenlets]
print(writes, sorted(t.remaining[0][0] for t in tickets), client.zcard(f"{store.prefix}:key:1:p"))
"""

FAILING = """
from gevent import monkey; monkey.patch_all()
import os, uuid
from decimal import Decimal
import gevent, redis
from app.gateway.limits.limiter import Limiter
from app.gateway.limits.redis_store import RedisStore
from app.gateway.limits.tickets import Scope

client = redis.Redis.from_url(os.environ["REDIS_URL"])
store = RedisStore(client, prefix="test:turn:" + uuid.uuid4().hex)
limiter = Limiter(store, lambda scope, start: Decimal(0))
scope = Scope("key:1", max_parallel=50)
limiter.settle(limiter.admit("warm", [scope], 0, 0), 0, 0)
pool = client.connection_pool
get_connection = pool.get_connection
def refuse(*args, **kwargs):
    raise redis.ConnectionError("refused")
pool.get_connection = refuse
asks = [limiter._ask(scope, 0, 0, 0)]
greenlets = [gevent.spawn(store.acquire, f"r{i}", asks, 0) for i in range(5)]
gevent.joinall(greenlets)
pool.get_connection = get_connection
print([type(g.exception).__name__ for g in greenlets], store.settles.waiting)
"""


def run(code):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "REDIS_URL": REDIS_URL})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_admissions_of_one_loop_turn_share_one_write_and_each_gets_its_own_verdict():
    out = run(TURN)
    writes, rest = out.split("]", 1)
    assert writes.strip() == "[20"  # one write: the waiting settle and the 20 admissions
    remaining, parallel = rest.rsplit("]", 1)
    assert remaining.strip() == "[" + ", ".join(str(n) for n in range(79, 99))  # each its own
    assert parallel.strip() == "20"  # the warm-up's slot was freed by the settle that rode along


def test_a_failed_write_fails_each_admission_in_it_and_keeps_the_waiting_settle():
    out = run(FAILING)
    assert out.strip() == "['ConnectionError', 'ConnectionError', 'ConnectionError', " \
                          "'ConnectionError', 'ConnectionError'] 1"
