"""Time the request-log explorer (/admin/logs, /admin/logs/{id}) and /admin/models on a database
seeded by bench/seed_logs.py: each filter's first page and a deep page, as timed requests through
the app (query, rendering and JSON, with the master key), the median of REPEAT warm runs.

    .venv/bin/python bench/measure_logs.py postgresql://postgres@127.0.0.1:5432/bench_logs

The deep page starts at a cursor 20 of the 30 days back (two thirds of the rows behind, as if
every page before it had been walked); a keyset page costs the same wherever it starts, which
the walk of 200 pages (limit 50) also shows. Beside the request times, the page query's own
execution time in the database (EXPLAIN ANALYZE). `EXPLAIN=1` prints each query's plan.
"""
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import utcnow  # noqa: E402
from app.repositories import log_queries  # noqa: E402

MASTER = "sk-bench-master"
REPEAT = int(os.environ.get("REPEAT", 5))
FILTERS = [  # (label, query string)
    ("no filter", ""),
    ("time range: one day, 10 days ago", "from=10d&to=9d"),
    ("status=429 (3%)", "status=429"),
    ("status=404 (0.05%)", "status=404"),
    ("status=5xx (3.6%)", "status=5xx"),
    ("status=3xx (no rows)", "status=3xx"),
    ("model=gpt-4o (20%)", "model=gpt-4o"),
    ("model=rare-model (0.1%)", "model=rare-model"),
    ("key_id=1 (17%)", "key_id=1"),
    ("key_id=200 (0.02%)", "key_id=200"),
    ("user_id=7 (a member's view)", "user_id=7"),
    ("project_id=3", "project_id=3"),
    ("provider=tiny-provider (0.1%)", "provider=tiny-provider"),
    ("error_type=timeout (0.05%)", "error_type=timeout"),
    ("request_id (gateway id)", "request_id=req_{md5}"),
    ("request_id (client id)", "request_id=client-3000000"),
    ("key_id=1 & status=5xx", "key_id=1&status=5xx"),
    ("user_id=7 & error_type=timeout", "user_id=7&error_type=timeout"),
    ("model=gpt-4o & status=5xx & from=7d", "model=gpt-4o&status=5xx&from=7d"),
    ("project_id=3 & provider=tiny-provider", "project_id=3&provider=tiny-provider"),
    ("key_id=200 & status=404 (no rows)", "key_id=200&status=404"),
]


def timed(client, url):
    times, body = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url, headers={"Authorization": f"Bearer {MASTER}"})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.get_data())
        body = response.get_json()
    return statistics.median(times), body


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/bench_logs"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "",
                      "GATEWAY_MASTER_KEY": MASTER, "DATABASE_STATEMENT_TIMEOUT_SECONDS": 120,
                      "DATABASE_TIMEOUT_SECONDS": 120})
    client = app.test_client()
    with app.app_context():
        total = db.session.execute(db.text("SELECT count(*) FROM request_logs")).scalar()
        md5 = db.session.execute(db.text("SELECT md5('4321')")).scalar()
    deep = log_queries.encode_cursor(utcnow() - timedelta(days=20), 2**62)
    print(f"{total:,} rows; median of {REPEAT} runs, ms\n")
    print(f"{'filter':40} {'request: page 1':>15} {'deep':>7}   {'SQL: page 1':>11} {'deep':>7}"
          f" {'rows':>5}")
    for label, query in FILTERS:
        query = query.replace("{md5}", md5)
        first, body = timed(client, f"/admin/logs?{query}")
        later, _ = timed(client, f"/admin/logs?{query}&cursor={deep}")
        sql_first = statistics.median(explain(app, query) for _ in range(REPEAT))
        sql_deep = statistics.median(explain(app, query, deep) for _ in range(REPEAT))
        print(f"{label:40} {first:15.1f} {later:7.1f}   {sql_first:11.2f} {sql_deep:7.2f} "
              f"{len(body['data']):5}", flush=True)
    cursor, times = None, []
    for _ in range(200):
        started = time.perf_counter()
        response = client.get("/admin/logs" + (f"?cursor={cursor}" if cursor else ""),
                              headers={"Authorization": f"Bearer {MASTER}"})
        times.append((time.perf_counter() - started) * 1000)
        cursor = response.get_json()["next_cursor"]
    print(f"\nwalk of 200 pages (no filter): page 1 {times[0]:.1f} ms, median "
          f"{statistics.median(times):.1f} ms, page 200 {times[-1]:.1f} ms")
    detail, _ = timed(client, f"/admin/logs/req_{md5}")
    print(f"GET /admin/logs/{{request_id}}: {detail:.1f} ms")
    models, _ = timed(client, "/admin/models")
    print(f"GET /admin/models (last hour's figures): {models:.1f} ms")
    app.extensions["gateway"].log_writer.close()


def explain(app, query, cursor=None):
    """The page query's execution time in the database (EXPLAIN ANALYZE), ms; the plan is
    printed when EXPLAIN is set."""
    with app.test_request_context(f"/admin/logs?{query}"):
        from app.gateway.auth import MASTER as PRINCIPAL
        from app.routes.admin.logs import filters_of
        after = log_queries.decode_cursor(cursor) if cursor else None
        statement = log_queries.page_query(filters_of(PRINCIPAL), 50, after)
        sql = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = [line for (line,) in db.session.execute(
            db.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}".replace(":", "\\:")))]
        db.session.rollback()
    if os.environ.get("EXPLAIN"):
        print("\n".join("    " + line for line in plan))
    return float(plan[-1].split(":")[1].split()[0])  # "Execution Time: 0.126 ms"


if __name__ == "__main__":
    main()
