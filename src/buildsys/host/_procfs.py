"""Reading /proc: each process's ids and state, its environment, this process's children.

Plain `open()` and `os.listdir`: /proc is read thousands of times in a run, and
pathlib costs more on each. Everything returns None (or nothing) for a process
that is gone or not ours to read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

__all__ = ["IS_LINUX", "PROC", "Stat", "children_of_self", "environ_of", "stat_of", "stats"]

PROC = "/proc"
# Where /proc lists processes, their environments and their children this way.
IS_LINUX = sys.platform.startswith("linux")


class Stat:
    """What /proc/<pid>/stat says about a process (a plain class: a NamedTuple or
    attrs class costs a millisecond of every start to define)."""

    __slots__ = ("pgid", "pid", "ppid", "sid", "zombie")

    def __init__(self, pid: int, ppid: int, pgid: int, sid: int, zombie: bool) -> None:
        self.pid = pid
        self.ppid = ppid
        self.pgid = pgid
        self.sid = sid
        self.zombie = zombie


def _parse_stat(pid: int, stat: bytes) -> Stat | None:
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 4:
        return None
    return Stat(pid, int(fields[1]), int(fields[2]), int(fields[3]), fields[0] in (b"Z", b"X"))


def stat_of(pid: int) -> Stat | None:
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as fh:
            return _parse_stat(pid, fh.read())
    except OSError:
        return None


def stats() -> Iterator[Stat]:
    """Every process in /proc."""
    try:
        entries = os.listdir(PROC)
    except OSError:
        return
    for entry in entries:
        if entry.isdigit() and (stat := stat_of(int(entry))) is not None:
            yield stat


def environ_of(pid: int) -> bytes | None:
    """A process's environment with a leading NUL, or None (gone, not ours, or a zombie)."""
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as fh:
            return b"\0" + fh.read()
    except OSError:
        return None


def children_of_self() -> list[int]:
    me = os.getpid()
    pids: list[int] = []
    task_dir = f"{PROC}/{me}/task"
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return [s.pid for s in stats() if s.ppid == me]
    for tid in tasks:
        try:
            with open(f"{task_dir}/{tid}/children", "rb") as fh:
                pids.extend(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            return [s.pid for s in stats() if s.ppid == me]
    return pids
