"""What a request costs the server that serves it: the CPU time (user + system, every thread) its
worker processes spent over a measured window, read from /proc/<pid>/stat before and after,
divided by the requests completed in that window. PostgreSQL's and Redis's own CPU is not in it.

Pure arithmetic (ms_per_request, cost_ratio) is kept apart from the /proc reading so the tests can
check it without a server."""
import os
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
UTIME_FIELD = 14  # 1-based field numbers of /proc/<pid>/stat (proc(5))
STIME_FIELD = 15


def parse_cpu_seconds(stat_line):
    """utime + stime, in seconds, of one /proc/<pid>/stat line. The command name (field 2) is in
    parentheses and may hold spaces, so fields are counted from its closing parenthesis."""
    after_name = stat_line[stat_line.rindex(")") + 2:].split()
    first = 3  # after_name[0] is field 3 (state)
    ticks = int(after_name[UTIME_FIELD - first]) + int(after_name[STIME_FIELD - first])
    return ticks / TICKS_PER_SECOND


def cpu_seconds(pid):
    """CPU seconds used so far by one process; None when it is gone."""
    try:
        return parse_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def sample(pids):
    """{pid: CPU seconds so far} of the processes still alive."""
    found = {}
    for pid in pids:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            found[pid] = seconds
    return found


def spent(before, after):
    """CPU seconds spent between two samples. A process that appeared in between counts from zero
    (all its CPU is in the window); one that was gone by the end is lost (counted as nothing)."""
    return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


def ms_per_request(cpu_s, requests):
    """CPU milliseconds per completed request; None without requests."""
    if cpu_s is None or not requests:
        return None
    return 1000.0 * cpu_s / requests


def cost_ratio(cpu_ms, baseline_cpu_ms):
    """How many times a pass-through request's CPU a request costs; None when either is unknown."""
    if cpu_ms is None or not baseline_cpu_ms:
        return None
    return cpu_ms / baseline_cpu_ms


class Window:
    """CPU spent by `pids()` between start() and stop(); the pids are read again at the stop, so a
    worker started meanwhile is counted."""

    def __init__(self, pids):
        self.pids = pids
        self.before = {}

    def start(self):
        self.before = sample(self.pids())
        return self

    def stop(self, requests):
        after = sample(set(self.pids()) | set(self.before))
        cpu_s = spent(self.before, after)
        return {"cpu_s": round(cpu_s, 3), "processes": len(after), "requests": requests,
                "ms_per_request": ms_per_request(cpu_s, requests)}
