"""flask logs prune: request-log retention (LOG_RETENTION_DAYS)."""
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from .models import utcnow
from .repositories import log_retention

logs_cli = AppGroup("logs", help="Request logs: retention.")


@logs_cli.command("prune")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Delete the request logs older than this many days (at least "
                   f"{log_retention.MIN_DAYS}). Default: LOG_RETENTION_DAYS; 0 keeps everything.")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000),
              default=log_retention.DEFAULT_BATCH, show_default=True,
              help="Rows per DELETE; each batch is committed on its own, so no lock is held "
                   "longer than one batch.")
@click.option("--dry-run", is_flag=True, help="Count the rows a prune would delete; delete none.")
def logs_prune(days, batch_size, dry_run):
    """Delete the request logs older than the retention, in batches; prints how many."""
    if days is None:
        days = current_app.config.get("LOG_RETENTION_DAYS", 0)
    if not days:
        click.echo("log retention is off (LOG_RETENTION_DAYS=0 and no --days): nothing deleted")
        return
    if days < log_retention.MIN_DAYS:
        raise click.BadParameter(
            f"{days} is shorter than {log_retention.MIN_DAYS} days: monthly budgets are counted "
            "from the logs of their month", param_hint="--days / LOG_RETENTION_DAYS")
    cutoff = utcnow() - timedelta(days=days)
    lifetime = log_retention.lifetime_budgets()
    if lifetime:
        click.echo(f"note: {lifetime} key(s), user(s) or project(s) have a budget without a "
                   "period; what they spent before the cutoff stops counting once the budget's "
                   "counter is seeded again from the logs", err=True)
    if dry_run:
        count = log_retention.count_older(cutoff)
        click.echo(f"would delete {count} request log(s) older than "
                   f"{cutoff.isoformat(timespec='seconds')} UTC ({days} days)")
        return
    started = time.monotonic()
    count = log_retention.prune(cutoff, batch_size)
    click.echo(f"deleted {count} request log(s) older than {cutoff.isoformat(timespec='seconds')}"
               f" UTC ({days} days) in {time.monotonic() - started:.1f} s")
