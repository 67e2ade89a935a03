"""CPU time spent by the processes a request passes through, read from /proc.

On a shared, noisy machine the CPU a request costs is a steadier figure than requests per
second: other load slows every process down but hardly changes how much work each request
does. With every core busy, throughput is cores / CPU per request, so the ratio of two CPU
costs estimates the ratio of their throughputs on a quiet machine.
"""

from __future__ import annotations

import os
import resource
import subprocess

TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def children_seconds() -> float:
    """User + system CPU seconds of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database` (the server's pooled connections)."""
    out = subprocess.run(
        [
            "psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Atc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [int(pid) for pid in out.split()]


class Meter:
    """CPU seconds used by named groups of processes, and by the children reaped meanwhile
    (the load generator), from now on."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        now = {name: sum(process_seconds(p) for p in pids) for name, pids in self.groups.items()}
        now["wrk"] = children_seconds()
        return now

    def seconds(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self.start[name] for name in now}
