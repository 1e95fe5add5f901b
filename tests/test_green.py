"""app/green.py: the readiness checks of httpcore and redis-py get a native poll(0), and any
longer wait stays cooperative. Run in a subprocess, since gevent must patch a fresh interpreter."""
import subprocess
import sys

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
