"""Seed a PostgreSQL database with N request_logs rows (default 10 million) for measuring the
request-log explorer (/admin/logs) at scale; bench/measure_logs.py then times its queries.

    createdb -h 127.0.0.1 -U postgres bench_logs
    .venv/bin/python bench/seed_logs.py postgresql://postgres@127.0.0.1:5432/bench_logs 10000000
    .venv/bin/python bench/measure_logs.py postgresql://postgres@127.0.0.1:5432/bench_logs
    dropdb -h 127.0.0.1 -U postgres bench_logs

The schema is built by the migrations (what `flask db upgrade` runs). Rows are made inside the
database by generate_series in chunks of a million, with the request_logs indexes dropped during
the load and rebuilt after it from the models' definitions (test_migrations holds them equal to
the migrations'); a run cut short resumes after its last chunk. About 12 minutes for 10 million
rows on two shared cores. The data spans the last 30 days, ids rising with time as the log writer
makes them: 200 keys of 50 users in 10 projects (a few keys carry most traffic), 8 models on 5
providers (one of each rare), statuses mostly 200 with realistic shares of 429, 400, 401, 404,
499, 500, 502, 503, 504 and 529 and their error types, a client request id on one row in three,
and a retry (two attempts) on one row in twenty.
"""
import sys
import time
from pathlib import Path

import psycopg2.extensions
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.models import RequestLog  # noqa: E402

INDEXES = sorted(RequestLog.__table__.indexes, key=lambda index: index.name)
CHUNK = 1_000_000
USERS, PROJECTS, KEYS = 50, 10, 200
DAYS = 30

PARENTS = f"""
INSERT INTO users (email, name, role, active, created_at)
SELECT 'user' || u || '@bench.example', 'User ' || u, CASE WHEN u = 1 THEN 'admin'
       ELSE 'member' END, true, now() - interval '60 days' FROM generate_series(1, {USERS}) u;
INSERT INTO projects (name, owner_id, created_at)
SELECT 'project-' || p, p, now() - interval '60 days' FROM generate_series(1, {PROJECTS}) p;
INSERT INTO api_keys (key_hash, prefix, name, user_id, project_id, created_at)
SELECT md5('bench-key-' || k) || md5('salt' || k), 'sk-gw-' || lpad(k::text, 6, '0'),
       'key ' || k, 1 + (k - 1) % {USERS}, CASE WHEN k % 4 = 0 THEN NULL
       ELSE 1 + (k - 1) % {PROJECTS} END, now() - interval '60 days'
FROM generate_series(1, {KEYS}) k;
"""

# One row per i in [lo, hi): r1..r4 are this row's dice. created_at runs evenly over DAYS days up
# to now; key = KEYS * r1^3 (skewed: key 1 takes ~17% of rows, key 200 ~0.02%).
ROWS = f"""
INSERT INTO request_logs (request_id, client_request_id, api_key_id, user_id, project_id,
    surface, endpoint, model, provider, upstream_model, stream, status_code, error_type,
    error_message, input_tokens, output_tokens, cached_tokens, cache_write_tokens, cost_usd,
    latency_ms, time_to_first_token_ms, attempts, created_at)
SELECT 'req_' || md5(i::text), CASE WHEN i % 3 = 0 THEN 'client-' || i END,
       k.id, k.user_id, k.project_id,
       CASE WHEN r3 < 0.7 THEN 'openai' ELSE 'anthropic' END,
       CASE WHEN r3 < 0.7 THEN 'chat' ELSE 'messages' END,
       m.model, m.provider, m.model || '-upstream', r3 < 0.6, s.code, s.error,
       CASE WHEN s.error IS NOT NULL THEN 'upstream said ' || s.code END,
       (r4 * 4000)::int, (r3 * 800)::int, (r4 * 1000)::int, 0,
       round((r4 * 0.02)::numeric, 10), 200 + (r2 * 3000)::int,
       CASE WHEN r3 < 0.6 THEN 100 + (r2 * 500)::int END,
       CASE WHEN i % 20 = 0 THEN json_build_array(
           json_build_object('provider', m.provider, 'model', m.model || '-upstream', 'key', 0,
                             'status', 503, 'error', 'upstream_unavailable', 'latency_ms', 120),
           json_build_object('provider', m.provider, 'model', m.model || '-upstream', 'key', 1,
                             'status', s.code, 'error', s.error,
                             'latency_ms', 200 + (r2 * 3000)::int)) END,
       now() AT TIME ZONE 'UTC' - interval '{DAYS} days' * (1 - i::float8 / :total)
FROM (SELECT i, random() r1, random() r2, random() r3, random() r4
      FROM generate_series(:lo, :hi - 1) i) g
JOIN api_keys k ON k.id = 1 + floor({KEYS} * r1 * r1 * r1)::int
CROSS JOIN LATERAL (SELECT * FROM (VALUES
    (0.40, 'gpt-4o-mini', 'openai'), (0.60, 'gpt-4o', 'openai'),
    (0.80, 'claude-sonnet', 'anthropic'), (0.90, 'claude-haiku', 'anthropic'),
    (0.96, 'gpt-4o-azure', 'azure'), (0.995, 'llama-70b', 'bedrock'),
    (0.999, 'mistral-large', 'mistral'), (1.01, 'rare-model', 'tiny-provider')) v(p, model,
    provider) WHERE v.p > r2 * 0.9999 ORDER BY v.p LIMIT 1) m
CROSS JOIN LATERAL (SELECT * FROM (VALUES
    (0.920, 200, NULL), (0.950, 429, 'rate_limit_error'), (0.960, 400, 'invalid_request_error'),
    (0.963, 401, 'authentication_error'), (0.9635, 404, 'not_found_error'),
    (0.9735, 499, 'client_disconnected'), (0.9835, 500, 'api_error'),
    (0.9905, 502, 'upstream_error'), (0.9955, 503, 'upstream_unavailable'),
    (0.9995, 529, 'overloaded_error'), (1.01, 504, 'timeout')) v(p, code, error)
    WHERE v.p > r4 * 0.9999 ORDER BY v.p LIMIT 1) s
"""


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/bench_logs"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    build_schema(url)
    # create_app bounds every PostgreSQL wait of the process (app/db_waits.py): a chunk takes
    # longer than that, so this script's own connections wait as long as they need.
    psycopg2.extensions.set_wait_callback(None)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    started = time.monotonic()
    with engine.begin() as conn:
        done = conn.execute(text("SELECT count(*) FROM request_logs")).scalar()
        if not conn.execute(text("SELECT count(*) FROM users")).scalar():
            conn.execute(text(PARENTS))
        for index in INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    if done:  # a run cut short: resume after the chunks it committed
        print(f"resuming after {done} rows", flush=True)
    for lo in range(done + 1, total + 1, CHUNK):
        hi = min(lo + CHUNK, total + 1)
        for attempt in range(3):  # one chunk is one transaction: safe to run again
            try:
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                    conn.execute(text(ROWS), {"lo": lo, "hi": hi, "total": total})
                break
            except OperationalError:
                if attempt == 2:
                    raise
                print("connection lost; running the chunk again", flush=True)
        print(f"{hi - 1} rows, {time.monotonic() - started:.0f} s", flush=True)
    for index in INDEXES:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            index.create(conn, checkfirst=True)
        print(f"index {index.name}, {time.monotonic() - started:.0f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE request_logs"))
    print(f"seeded {total} rows in {time.monotonic() - started:.0f} s")


def build_schema(url):
    from flask_migrate import upgrade

    from app import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "",
                      "GATEWAY_CONFIG": {"providers": {"mock": {"vendor": "mock"}},
                                         "models": [{"name": "m", "deployments": [
                                             {"provider": "mock", "model": "echo"}]}]}})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    app.extensions["gateway"].log_writer.close()


if __name__ == "__main__":
    main()
