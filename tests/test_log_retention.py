"""flask logs prune: request-log retention (LOG_RETENTION_DAYS), batched deletes that leave newer
rows alone and never hold up the log writer's inserts."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import RequestLog, utcnow
from app.repositories import request_logs
from bench.prune_logs import PRUNE_DAYS, prune_while_inserting, seed
from tests.conftest import DATABASE_URL, create_key, log_row


def _rows(app, ages_in_days):
    now = utcnow()
    with app.app_context():
        assert request_logs.insert_batch([
            log_row(f"req_{i}", created_at=now - timedelta(days=age))
            for i, age in enumerate(ages_in_days)]) == []


def _request_ids(app):
    with app.app_context():
        return sorted(db.session.scalars(select(RequestLog.request_id)))


def test_prune_deletes_the_older_rows_in_batches_and_keeps_the_newer(app, runner):
    _rows(app, [400, 100, 40, 36, 34, 10, 0])
    result = runner.invoke(args=["logs", "prune", "--days", "35", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "deleted 4 request log(s) older than" in result.output
    assert _request_ids(app) == ["req_4", "req_5", "req_6"]
    again = runner.invoke(args=["logs", "prune", "--days", "35"])
    assert "deleted 0 request log(s)" in again.output


def test_dry_run_counts_and_deletes_nothing(app, runner):
    _rows(app, [100, 50, 1])
    result = runner.invoke(args=["logs", "prune", "--days", "40", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 2 request log(s) older than" in result.output
    assert len(_request_ids(app)) == 3


def test_retention_comes_from_the_setting_and_is_off_by_default(app_factory):
    plain = app_factory()
    _rows(plain, [100, 1])
    result = plain.test_cli_runner().invoke(args=["logs", "prune"])
    assert result.exit_code == 0, result.output
    assert "log retention is off" in result.output
    assert len(_request_ids(plain)) == 2
    kept = app_factory(LOG_RETENTION_DAYS=60)
    result = kept.test_cli_runner().invoke(args=["logs", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 request log(s)" in result.output and "(60 days)" in result.output
    assert _request_ids(kept) == ["req_1"]


def test_a_retention_shorter_than_a_monthly_budget_is_refused(app, runner):
    _rows(app, [40, 20])
    result = runner.invoke(args=["logs", "prune", "--days", "20"])
    assert result.exit_code == 2
    assert "shorter than 32 days" in result.output
    assert len(_request_ids(app)) == 2


def test_a_budget_without_a_period_is_pointed_out(app, runner):
    create_key(app, max_budget_usd=5)
    result = runner.invoke(args=["logs", "prune", "--days", "40"])
    assert result.exit_code == 0, result.output
    assert "1 key(s), user(s) or project(s) have a budget without a period" in result.output


def test_help_explains_each_option(runner):
    result = runner.invoke(args=["logs", "prune", "--help"])
    assert result.exit_code == 0
    for option in ("--days", "--batch-size", "--dry-run", "LOG_RETENTION_DAYS"):
        assert option in result.output


ROWS = 100_000  # bench/prune_logs.py measures a million


@pytest.mark.postgres
@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                    reason="the batched DELETE's locking is PostgreSQL's")
def test_prune_of_100k_rows_lets_inserts_through(app, runner):
    seconds, _ = seed(DATABASE_URL, ROWS)
    result, elapsed, inserts = prune_while_inserting(runner, DATABASE_URL, "--batch-size", "2000")
    assert result.exit_code == 0, result.output
    deleted = int(re.search(r"deleted (\d+) request log", result.output).group(1))
    print(f"\nseeded {ROWS} rows in {seconds:.1f} s; pruned {deleted} in {elapsed:.1f} s; "
          f"{len(inserts)} concurrent inserts, slowest {max(inserts) * 1000:.0f} ms")
    with app.app_context():
        kept = db.session.scalar(select(func.count()).select_from(RequestLog).where(
            RequestLog.request_id.like("seed_%")))
        probes = db.session.scalar(select(func.count()).select_from(RequestLog).where(
            RequestLog.request_id.like("probe_%")))
        oldest = db.session.scalar(select(func.min(RequestLog.created_at)))
    # The rows span 180 days evenly: the older half went, every newer one and every row
    # inserted meanwhile stayed.
    assert deleted + kept == ROWS and abs(kept - ROWS // 2) <= 2
    assert probes == len(inserts)
    assert utcnow() - timedelta(days=PRUNE_DAYS) < oldest + timedelta(minutes=5)
    # Inserts went on during the prune's 25 batches: none waited for it to finish (a lock held
    # for the whole prune would make one insert wait about as long as the prune took).
    assert len(inserts) >= 5
    assert max(inserts) < max(0.5, elapsed / 2)
