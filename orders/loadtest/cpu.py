"""Where the load test's CPU time goes: each part of the stack it started, and the machine.

On a machine shared with other work the throughput says little without this: the same
stack answers less when something else takes the cores. Read from Linux's ``/proc``; on
other systems there is nothing to read and the report says so.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROC: Final = Path("/proc")
# A word of a started process's command line -> the part of the stack it is (first match).
PARTS: Final = (("gunicorn", "web"), ("worker", "Celery workers"), ("beat", "Celery beat"))


@dataclass(frozen=True)
class Reading:
    """CPU seconds used so far: by each part's processes (with the children they had),
    by each of the database's server processes, by the processes this one has waited
    for, and by the whole machine (busy, and all its cores' time)."""

    parts: dict[str, float]
    database: dict[int, float]
    waited_for: float
    machine_busy: float
    machine_total: float


def read(database_pids: list[int]) -> Reading | None:
    """A reading, with the server processes ``database_pids`` (the database's sessions)."""
    if not (PROC / "stat").exists():
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    parts: dict[str, float] = {}
    for pid in _children(os.getpid()):
        part = _part(pid)
        if part:
            parts[part] = parts.get(part, 0.0) + _tree_seconds(pid)
    busy, total = _machine()
    database = {pid: _tree_seconds(pid) for pid in database_pids}
    return Reading(parts, database, usage.ru_utime + usage.ru_stime, busy, total)


def spent(before: Reading, after: Reading) -> dict[str, float]:
    """CPU seconds between two readings: per part, ``PostgreSQL`` (the database's sessions
    that are there at the end; one that ended meanwhile is not counted), ``Locust`` (the
    one process waited for between them), and the machine's ``busy`` and ``total``."""
    spent = {part: after.parts.get(part, 0.0) - before.parts.get(part, 0.0) for _, part in PARTS}
    spent["PostgreSQL"] = sum(seconds - before.database.get(pid, 0.0) for pid, seconds in after.database.items())
    spent["Locust"] = after.waited_for - before.waited_for
    spent["busy"] = after.machine_busy - before.machine_busy
    spent["total"] = after.machine_total - before.machine_total
    return spent


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in (PROC / str(pid) / "task").iterdir():
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return children


def _part(pid: int) -> str | None:
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    return next((part for word, part in PARTS if word in words), None)


def _tree_seconds(pid: int) -> float:
    """The process's own time, its waited-for children's, and its live children's trees."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        children = _children(pid)
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), counted after the name.
    own = sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(_tree_seconds(child) for child in children)


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot: idle and iowait are not busy."""
    ticks = [int(value) for value in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return (total - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), total / os.sysconf("SC_CLK_TCK")
