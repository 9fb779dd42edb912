"""Finding every process a build started, including ones that left its process group.

A build's commands run in their own session, so signalling the process group
reaches most of them. A descendant that calls `setsid` (a daemonising tool, a
test runner's watchdog) leaves that group; on Linux two things still find it:

* every command is started with a per-build token in its environment, which
  descendants inherit, so `/proc/<pid>/environ` names the build it belongs to;
* buildsys makes itself a child subreaper, so orphans are re-parented to it
  instead of init and stay visible in `/proc` until it reaps them.

Orphans re-parented to us are reaped by pid (`waitpid(pid)`), never with
`waitpid(-1)`, which would steal the exit statuses `subprocess` waits for;
and only pids known to come from builds (seen carrying a token, or in the
process group of a command buildsys started), so the children that the host
program or a builder start themselves keep their exit statuses.
On other systems only the process group is signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = [
    "TOKEN_VAR",
    "enable_subreaper",
    "find_build_processes",
    "group_alive",
    "is_zombie",
    "kill_adopted",
    "reap_orphans",
    "signal_all",
    "spawning",
    "track",
    "untrack",
]

TOKEN_VAR = "BUILDSYS_BUILD_TOKEN"
_PROC = "/proc"
_PR_SET_CHILD_SUBREAPER = 36
_IS_LINUX = sys.platform.startswith("linux")


class _SpawnGate:
    """Spawns share it; reaping holds it alone.

    An orphan reaper must never run while a command is being started and its
    pid is not yet recorded as one `subprocess` will wait for; but starts
    need not wait for each other, and at `-j8` a lock around each one kept
    workers queueing behind it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._spawning = 0
        self._reaping = False

    def __enter__(self) -> None:
        with self._cond:
            while self._reaping:
                self._cond.wait()
            self._spawning += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._spawning -= 1
            if not self._spawning:
                self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            while self._reaping or self._spawning:
                self._cond.wait()
            self._reaping = True
        try:
            yield
        finally:
            with self._cond:
                self._reaping = False
                self._cond.notify_all()


# `with spawning:` around starting a command and recording its pid with `track`.
spawning = _SpawnGate()
_spawned: set[int] = set()
# Process groups of commands buildsys started, and pids seen carrying a build
# token: the only orphans reap_orphans() may wait for.
_build_groups: set[int] = set()
_adopted: set[int] = set()
_subreaper_state: list[bool] = []


def enable_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux only); idempotent."""
    if _subreaper_state:
        return _subreaper_state[0]
    ok = False
    if _IS_LINUX:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            ok = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            ok = False
    _subreaper_state.append(ok)
    return ok


def track(pid: int) -> None:
    """Record a pid that buildsys itself waits for; call inside `with spawning:`."""
    _spawned.add(pid)
    _build_groups.add(pid)


def untrack(pid: int) -> None:
    _spawned.discard(pid)  # after the wait: the reaper no longer sees it as a child


def _children_of_self() -> list[int]:
    me = os.getpid()
    pids: list[int] = []
    task_dir = f"{_PROC}/{me}/task"
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return [pid for pid, ppid in _ppids() if ppid == me]
    for tid in tasks:
        try:
            with open(f"{task_dir}/{tid}/children", "rb") as fh:
                pids.extend(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            return [pid for pid, ppid in _ppids() if ppid == me]
    return pids


def kill_adopted() -> None:
    """SIGKILL and reap every child of this process that buildsys did not spawn itself.

    Only for a process that runs nothing but builds (the CLI after an
    interrupt): as a subreaper, such children can only be build orphans, even
    ones that cleared their environment and so carry no token.
    """
    if not _IS_LINUX:
        return
    for _ in range(5):
        with spawning.alone():
            strays = [p for p in _children_of_self() if p not in _spawned]
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


def _pgid_of(pid: int) -> int | None:
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[2]) if len(fields) > 2 else None


def reap_orphans() -> None:
    """Reap exited build orphans that were re-parented to us, one pid at a time."""
    if not _IS_LINUX:
        return
    with spawning.alone():
        for pid in _children_of_self():
            if pid in _spawned:
                continue
            if pid not in _adopted and _pgid_of(pid) not in _build_groups:
                continue  # the host program's own child: not ours to wait for
            try:
                reaped, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                reaped = pid
            except OSError:
                continue
            if reaped == pid:
                _adopted.discard(pid)
        _prune()


def _prune() -> None:
    """Forget groups and pids that no longer exist, so a reused pid is never taken for ours."""
    for pid in list(_adopted):
        if not os.path.exists(f"{_PROC}/{pid}"):
            _adopted.discard(pid)
    for pgid in list(_build_groups):
        if pgid not in _spawned and not group_alive(pgid):
            _build_groups.discard(pgid)


def _ppids() -> Iterator[tuple[int, int]]:
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{_PROC}/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            yield int(entry), int(fields[1])


def _has_token(pid: int, needle: bytes) -> bool:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as fh:
            return needle in b"\0" + fh.read()
    except OSError:
        return False


def find_build_processes(root_pid: int | None, token: str) -> set[int]:
    """Live processes that descend from `root_pid` or carry the build's token."""
    if not _IS_LINUX:
        return set()
    me = os.getpid()
    needle = f"\0{TOKEN_VAR}={token}\0".encode()
    children: dict[int, list[int]] = {}
    found: set[int] = set()
    for pid, ppid in _ppids():
        children.setdefault(ppid, []).append(pid)
        if pid != me and _has_token(pid, needle):
            found.add(pid)
    stack = [root_pid] if root_pid is not None else []
    stack.extend(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(me)
    _adopted.update(found)  # one call: atomic, and readers iterate over copies
    return found


def signal_all(pgid: int | None, pids: set[int], sig: signal.Signals) -> None:
    """Send `sig` to a process group and to each pid, ignoring those already gone."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_zombie(pid: int) -> bool:
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")
