"""Budget periods: the window a budget counts in. Periods reset on their boundary by themselves,
because every window has its own id (no cron job)."""
from datetime import datetime, timedelta

PERIODS = ("daily", "weekly", "monthly")


def window(period, now):
    """(start, end, id) of the budget window containing now (naive UTC); (None, None, "all")
    for a budget without a period. Weeks start on Monday."""
    if period is None:
        return None, None, "all"
    day = datetime(now.year, now.month, now.day)
    if period == "daily":
        return day, day + timedelta(days=1), day.strftime("d%Y%m%d")
    if period == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7), start.strftime("w%Y%m%d")
    if period == "monthly":
        start = datetime(now.year, now.month, 1)
        end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1)
        return start, end, start.strftime("m%Y%m")
    raise ValueError(f"unknown budget period {period!r}; expected one of {PERIODS} or None")
