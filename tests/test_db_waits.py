"""The bounded wait for PostgreSQL (app/db_waits.py) in a gevent worker that already holds more
than a thousand sockets: its database connection's descriptor is then numbered above 1023, which
select() refuses (the benchmark's 1 000 clients got 500s from it)."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import DATABASE_URL

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                 reason="needs TEST_DATABASE_URL on PostgreSQL")]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import os, resource, sys
    import psycopg2
    from app import db_waits

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # a worker's client sockets
    db_waits.install(5.0)
    connection = psycopg2.connect(sys.argv[1], connect_timeout=5)
    assert connection.fileno() > 1023, connection.fileno()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        print(connection.fileno(), cursor.fetchone()[0])
""")


def test_a_connection_numbered_above_1023_is_waited_on_like_any_other():
    result = subprocess.run([sys.executable, "-c", WORKER, DATABASE_URL],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    fileno, answer = result.stdout.split()
    assert int(fileno) > 1023 and answer == "42"
