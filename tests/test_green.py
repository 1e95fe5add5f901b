"""app/green.py: the readiness checks of httpcore and redis-py get a native poll(0), and any
longer wait stays cooperative. Run in a subprocess, since gevent must patch a fresh interpreter."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
from gevent import monkey
monkey.patch_all()
import socket, time
import gevent
import httpcore2._utils, redis._parsers.hiredis
from app import green

green.use_native_zero_timeout_poll()
assert httpcore2._utils.select.poll is green.ZeroTimeoutNativePoll
assert redis._parsers.hiredis.select.poll is green.ZeroTimeoutNativePoll
assert httpcore2._utils.select.POLLIN == __import__("select").POLLIN

a, b = socket.socketpair()
assert not httpcore2._utils.is_socket_readable(a)          # poll(0): nothing to read
b.send(b"x")
assert httpcore2._utils.is_socket_readable(a)
a.recv(1)
assert not redis._parsers.hiredis._socket_can_read(a, 0)

ticks = []
def ticker():
    for _ in range(5):
        ticks.append(1)
        gevent.sleep(0.01)
runner = gevent.spawn(ticker)
started = time.monotonic()
assert not redis._parsers.hiredis._socket_can_read(a, 0.2)  # a real wait: cooperative
assert time.monotonic() - started >= 0.15
assert len(ticks) == 5, ticks                                  # the hub ran meanwhile
runner.join()
print("ok")
"""


def test_zero_timeout_poll_is_native_and_waits_stay_cooperative():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


FLOOR_WORKER = r"""
from gevent import monkey
monkey.patch_all()
import runpy, sys, types
import httpcore2._utils
sys.path.insert(0, "bench")
import floor_app

config = runpy.run_path("gunicorn.conf.py")
worker = types.SimpleNamespace(wsgi=floor_app.app, handle_exit=lambda sig, frame: None)
config["post_worker_init"](worker)
assert httpcore2._utils.select.poll.__name__ == "ZeroTimeoutNativePoll"
loaded = sorted(name for name in sys.modules
                if name.partition(".")[0] in ("app", "authlib", "alembic"))
print(loaded)
"""


def test_a_worker_of_the_benchmark_floor_gets_the_native_poll_without_loading_the_gateway():
    """The floor (bench/floor_app.py) is served by gunicorn.conf.py too: its post_worker_init
    must not import the app, whose modules and libraries would count in the floor's memory as
    if the stack needed them."""
    result = subprocess.run([sys.executable, "-c", FLOOR_WORKER], capture_output=True,
                            text=True, timeout=60, cwd=ROOT,
                            env={"GUNICORN_WORKER_CLASS": "gevent", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
