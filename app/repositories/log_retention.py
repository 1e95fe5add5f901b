"""Request-log retention: delete the rows older than a cutoff in short batches.

Each batch is one DELETE of at most `batch_size` rows, picked oldest first through the
(created_at) index, committed on its own: it holds row locks on those rows only, for the few
milliseconds the batch takes, so the log writer's inserts (new rows, other ids) never wait on it.
"""
from sqlalchemy import bindparam, func, select, text

from ..extensions import db
from ..models import ApiKey, Project, RequestLog, User

# The shortest retention `flask logs prune` accepts: a monthly budget's window is seeded from
# the logs of its month (up to 31 days back), so a shorter one would forget spent money.
MIN_DAYS = 32
DEFAULT_BATCH = 10_000

_DELETE = text(
    "DELETE FROM request_logs WHERE id IN ("
    "SELECT id FROM request_logs WHERE created_at < :cutoff ORDER BY created_at LIMIT :n)"
).bindparams(bindparam("cutoff"), bindparam("n"))


def count_older(cutoff):
    """How many rows are older than cutoff (what a prune would delete)."""
    return db.session.scalar(select(func.count()).select_from(RequestLog)
                             .where(RequestLog.created_at < cutoff))


def delete_batch(cutoff, batch_size=DEFAULT_BATCH):
    """Delete up to batch_size rows older than cutoff, oldest first, and commit; how many."""
    result = db.session.execute(_DELETE, {"cutoff": cutoff, "n": batch_size})
    db.session.commit()
    return result.rowcount


def prune(cutoff, batch_size=DEFAULT_BATCH, progress=None):
    """Delete every row older than cutoff, batch by batch; returns how many were deleted.
    progress(total) is called after each batch."""
    total = 0
    while True:
        count = delete_batch(cutoff, batch_size)
        total += count
        if progress is not None and count:
            progress(total)
        if count < batch_size:
            return total


def lifetime_budgets():
    """How many keys, users and projects have a budget without a period: a budget over their
    whole life, whose spent amount is seeded from the logs kept."""
    total = 0
    for model in (ApiKey, User, Project):
        total += db.session.scalar(select(func.count()).select_from(model).where(
            model.max_budget_usd.is_not(None), model.budget_period.is_(None)))
    return total
