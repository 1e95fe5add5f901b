"""Time `flask logs prune` on a PostgreSQL request_logs table of N rows (default 1 million), while
another connection keeps inserting rows, as the log writer does.

    createdb -h 127.0.0.1 -U postgres bench_prune
    .venv/bin/python bench/prune_logs.py postgresql://postgres@127.0.0.1:5432/bench_prune 1000000
    dropdb -h 127.0.0.1 -U postgres bench_prune

The rows are made inside the database by generate_series, spread evenly over the last 180 days
(ids rising with time, as the log writer makes them), so a prune at 90 days deletes half of them.
tests/test_log_retention.py runs the same measurement on 100,000 rows in every CI run.
"""
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extensions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPAN_DAYS = 180
PRUNE_DAYS = 90

SEED = f"""
INSERT INTO request_logs (request_id, surface, endpoint, model, provider, upstream_model, stream,
    status_code, input_tokens, output_tokens, cached_tokens, cache_write_tokens, cost_usd,
    latency_ms, created_at)
SELECT 'seed_' || i, 'openai', 'chat', 'gpt-4o-mini', 'openai', 'gpt-4o-mini', false, 200,
       100 + i %% 900, 10 + i %% 300, 0, 0, 0.0001, 200 + i %% 3000,
       now() AT TIME ZONE 'UTC' - interval '{SPAN_DAYS} days' * (1 - i::float8 / %(n)s)
FROM generate_series(1, %(n)s) i
"""
PROBE = """
INSERT INTO request_logs (request_id, surface, endpoint, stream, status_code, input_tokens,
    output_tokens, cached_tokens, cache_write_tokens, cost_usd, latency_ms, created_at)
VALUES (%s, 'openai', 'chat', false, 200, 1, 1, 0, 0, 0, 1, now() AT TIME ZONE 'UTC')
"""


def seed(dsn, n):
    """n rows over the last SPAN_DAYS days; returns (seconds, rows newer than PRUNE_DAYS)."""
    started = time.monotonic()
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute(SEED, {"n": n})
        cur.execute("SELECT count(*) FROM request_logs WHERE created_at >= now() AT TIME ZONE "
                    f"'UTC' - interval '{PRUNE_DAYS} days'")
        newer = cur.fetchone()[0]
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE request_logs")
    conn.close()
    return time.monotonic() - started, newer


class InsertProbe(threading.Thread):
    """Inserts one row every `every` seconds on its own connection (autocommit) until stopped;
    keeps each insert's duration."""

    def __init__(self, dsn, every=0.01):
        super().__init__(daemon=True)
        self.dsn, self.every = dsn, every
        self.durations, self.error = [], None
        self._halt = threading.Event()

    def run(self):
        try:
            conn = psycopg2.connect(self.dsn)
            conn.autocommit = True
            with conn.cursor() as cur:
                while not self._halt.is_set():
                    started = time.monotonic()
                    cur.execute(PROBE, (f"probe_{uuid.uuid4().hex}",))
                    self.durations.append(time.monotonic() - started)
                    self._halt.wait(self.every)
            conn.close()
        except Exception as exc:  # reported by the caller
            self.error = exc

    def stop(self):
        self._halt.set()
        self.join(timeout=30)
        if self.error is not None:
            raise self.error
        return self.durations


def prune_while_inserting(runner, dsn, *args):
    """Run `flask logs prune --days PRUNE_DAYS *args` through runner while an InsertProbe runs;
    returns (result, seconds, probe durations)."""
    probe = InsertProbe(dsn)
    probe.start()
    time.sleep(0.05)
    started = time.monotonic()
    result = runner.invoke(args=["logs", "prune", "--days", str(PRUNE_DAYS), *args])
    elapsed = time.monotonic() - started
    return result, elapsed, probe.stop()


def main():
    from flask_migrate import upgrade

    from app import create_app
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/bench_prune"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "",
                      "GATEWAY_CONFIG": {"providers": {"mock": {"vendor": "mock"}},
                                         "models": [{"name": "m", "deployments": [
                                             {"provider": "mock", "model": "echo"}]}]}})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    # create_app bounds every PostgreSQL wait of the process (app/db_waits.py); the seeding
    # statement takes longer than that, the prune runs with the bounds the app has.
    bounded = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    seconds, newer = seed(url, total)
    psycopg2.extensions.set_wait_callback(bounded)
    print(f"seeded {total} rows in {seconds:.1f} s; {newer} newer than {PRUNE_DAYS} days")
    result, elapsed, durations = prune_while_inserting(app.test_cli_runner(), url)
    print(result.output.strip())
    print(f"prune: {elapsed:.1f} s; concurrent inserts: {len(durations)}, slowest "
          f"{max(durations) * 1000:.0f} ms, median "
          f"{sorted(durations)[len(durations) // 2] * 1000:.1f} ms")
    app.extensions["gateway"].log_writer.close()


if __name__ == "__main__":
    main()
