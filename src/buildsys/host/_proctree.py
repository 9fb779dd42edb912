"""Finding every process a build started, including ones that left its process group.

A build's commands run in their own session, so signalling the process group
reaches most of them. A descendant that calls `setsid` (a daemonising tool, a
test runner's watchdog) leaves that group; on Linux two things still find it:

* every command is started with a per-build token in its environment, which
  descendants inherit, so `/proc/<pid>/environ` names the build it belongs to;
* while a run (or a lone `ctx.run`) is under way, buildsys makes its process
  a child subreaper (`_subreaper.py`), so orphans are re-parented to it
  instead of init and stay visible in `/proc` until it reaps them.

This module keeps what tells a build's processes from the host program's
own: the commands started, the tokens, the groups and sessions seen. It
finds them, kills them (`kill_run`: every process still carrying one of a
run's tokens, or in one of its commands' groups, and their descendants) and
reaps those re-parented here.

Orphans re-parented to us are reaped by pid (`waitpid(pid)`), never with
`waitpid(-1)`, which would steal the exit statuses `subprocess` waits for;
and only pids known to come from builds (seen carrying a token, or in the
session or process group of a command buildsys started or of a process
seen carrying a token: a zombie's environment can no longer be read), so
the children that the host program or a builder start themselves keep
their exit statuses and are never killed.
On other systems only the process group is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

from . import _procfs
from ._procfs import IS_LINUX, PROC, Stat

__all__ = [
    "TOKEN_VAR",
    "find_build_processes",
    "forget_sessions",
    "group_alive",
    "is_zombie",
    "kill_adopted",
    "kill_children",
    "kill_run",
    "reap_orphans",
    "run_prefix",
    "signal_all",
    "spawn_count",
    "spawning",
    "track",
    "untrack",
]

TOKEN_VAR = "BUILDSYS_BUILD_TOKEN"
_TOKEN_NEEDLE = f"\0{TOKEN_VAR}=".encode()
# How long killing what a run left behind may take (SIGKILLed processes are
# normally gone in milliseconds; one stuck in the kernel is given up on).
_KILL_WAIT = 2.0


class _SpawnGate:
    """Spawns share it; reaping holds it alone.

    An orphan reaper must never run while a command is being started and its
    pid is not yet recorded as one `subprocess` will wait for; but starts
    need not wait for each other, and at `-j8` a lock around each one kept
    workers queueing behind it.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
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


def _new_tag() -> str:
    """What every token this process makes starts with: another process's
    tokens (a parent buildsys's, inherited by the host) never match it."""
    return f"{os.urandom(6).hex()}."


# `with spawning:` around starting a command and recording its pid with `track`.
spawning = _SpawnGate()
_tag = [_new_tag()]
_spawned: set[int] = set()
# What tells a build's process (a zombie too) from the host program's own
# children, which buildsys must never wait for: the process groups (and
# sessions) of the commands it started, with each command's token; pids seen
# carrying a token; the sessions and groups those were in.
_build_groups: dict[int, str] = {}
_adopted: set[int] = set()
_build_sessions: set[int] = set()
# Tokens of commands whose context was not made by a run of this process
# (a `BuildContext` built by hand), so not starting with `_tag`.
_foreign_tokens: set[str] = set()
# Commands started so far: a run that started none has nothing to clean up.
# (Racing increments may lose one, never leave it unchanged.)
_spawns = [0]


def run_prefix() -> str:
    """A fresh prefix for the tokens of one run's commands."""
    return f"{_tag[0]}{os.urandom(4).hex()}."


def spawn_count() -> int:
    """How many commands this process has started (to tell whether any did since)."""
    return _spawns[0]


def track(pid: int, token: str) -> None:
    """Record a pid that buildsys itself waits for; call inside `with spawning:`."""
    _spawned.add(pid)
    _build_groups[pid] = token
    _spawns[0] += 1
    if not token.startswith(_tag[0]):
        _foreign_tokens.add(token)


def untrack(pid: int) -> None:
    _spawned.discard(pid)  # after the wait: the reaper no longer sees it as a child


def forget_sessions() -> None:
    """Forget the sessions seen and the tokens made elsewhere, once no run or
    command is under way: a later one's processes are told apart afresh."""
    _foreign_tokens.clear()
    _build_sessions.clear()


# -- reading /proc ---------------------------------------------------------------


def _token_of(pid: int) -> str | None:
    """The build token in a process's environment, if it has one and it can be read."""
    env = _procfs.environ_of(pid)
    if env is None:
        return None
    start = env.find(_TOKEN_NEEDLE)
    if start < 0:
        return None
    start += len(_TOKEN_NEEDLE)
    end = env.find(b"\0", start)
    return env[start : end if end >= 0 else len(env)].decode(errors="replace")


def _known(stat: Stat) -> bool:
    """Whether a process (a zombie too, whose environment is gone) is known to be a build's:
    seen carrying a token, or in the session or group of one that was, or of a command."""
    if stat.pid in _adopted or stat.pid in _build_sessions:
        return True
    return any(i in _build_groups or i in _build_sessions for i in (stat.pgid, stat.sid))


def _note_sessions(stats: Iterator[Stat]) -> None:
    """Remember the sessions and groups of live build processes: a zombie in one is a build's."""
    for stat in stats:
        _build_sessions.add(stat.sid)
        _build_sessions.add(stat.pgid)


# -- finding and ending builds' processes ---------------------------------------------


def find_build_processes(root_pid: int | None, token: str) -> set[int]:
    """Live processes that descend from `root_pid` or carry the build's token."""
    if not IS_LINUX:
        return set()
    me = os.getpid()
    needle = f"\0{TOKEN_VAR}={token}\0".encode()
    children: dict[int, list[int]] = {}
    stats: dict[int, Stat] = {}
    found: set[int] = set()
    for stat in _procfs.stats():
        stats[stat.pid] = stat
        children.setdefault(stat.ppid, []).append(stat.pid)
        if stat.pid != me and not stat.zombie and needle in (_procfs.environ_of(stat.pid) or b""):
            found.add(stat.pid)
    stack = [root_pid] if root_pid is not None else []
    stack.extend(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(me)
    _note_sessions(stats[p] for p in found if p in stats and not stats[p].zombie)
    _adopted.update(found)  # one call: atomic, and readers iterate over copies
    return found


def kill_run(prefix: str) -> None:
    """Kill what is left of a run's builds and reap what of it was re-parented here.

    Every live process carrying a token that starts with `prefix`, in the
    group of one of its commands, or descending from one of those; call it
    once the run's commands have ended, while still holding the subreaper
    flag (through `_subreaper.end_run`).
    """
    if not IS_LINUX:
        return
    me = os.getpid()
    groups = {g for g, t in list(_build_groups.items()) if t.startswith(prefix)}
    give_up = time.monotonic() + _KILL_WAIT
    while True:
        children: dict[int, list[int]] = {}
        stats: dict[int, Stat] = {}
        found: set[int] = set()
        for stat in _procfs.stats():
            stats[stat.pid] = stat
            children.setdefault(stat.ppid, []).append(stat.pid)
            if stat.pid == me or stat.zombie:
                continue
            if stat.pgid in groups or (_token_of(stat.pid) or "").startswith(prefix):
                found.add(stat.pid)
        stack = list(found)
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in found and child != me:
                    found.add(child)
                    stack.append(child)
        alive = {p for p in found if not stats[p].zombie}
        _note_sessions(stats[p] for p in alive)
        _adopted.update(found)  # zombies among them too, so that they are reaped
        signal_all(None, alive, signal.SIGKILL)
        reap_orphans()
        if not alive or time.monotonic() > give_up:
            break
        time.sleep(0.005)
    # Forget sessions nothing lives in any more (from the last look: new ones are not the run's).
    _build_sessions.intersection_update({i for s in stats.values() for i in (s.pgid, s.sid)})
    for pgid in groups:
        if pgid not in _spawned and not group_alive(pgid):
            _build_groups.pop(pgid, None)


def _is_ours(stat: Stat) -> bool:
    """Whether a child of this process (not one it waits for itself) came from a build."""
    if _known(stat):
        return True
    token = _token_of(stat.pid)
    return token is not None and (token.startswith(_tag[0]) or token in _foreign_tokens)


def kill_children() -> None:
    """SIGKILL and reap this process's children that came from builds, round after
    round: each one killed hands its own children to this process (a subreaper)."""
    give_up = time.monotonic() + _KILL_WAIT
    while True:
        with spawning.alone():
            stats = [
                s
                for p in _procfs.children_of_self()
                if p not in _spawned and (s := _procfs.stat_of(p))
            ]
        found = [s for s in stats if _is_ours(s)]
        if not found:
            break
        # Before reaping: a zombie in the session of a live one is a build's too.
        _note_sessions(s for s in found if not s.zombie)
        _adopted.update(s.pid for s in found)
        signal_all(None, {s.pid for s in found}, signal.SIGKILL)
        reap_orphans()
        if time.monotonic() > give_up:
            break
        time.sleep(0.005)
    _prune()


def kill_adopted() -> None:
    """SIGKILL and reap every child of this process that buildsys did not spawn itself.

    Only for a process that runs nothing but builds (the CLI after an
    interrupt): as a subreaper, such children can only be build orphans, even
    ones that cleared their environment and so carry no token.
    """
    if not IS_LINUX:
        return
    for _ in range(5):
        with spawning.alone():
            strays = [p for p in _procfs.children_of_self() if p not in _spawned]
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


def reap_orphans() -> None:
    """Reap exited build orphans that were re-parented to us, one pid at a time."""
    if not IS_LINUX:
        return
    with spawning.alone():
        for pid in _procfs.children_of_self():
            if pid in _spawned:
                continue
            stat = _procfs.stat_of(pid)
            if stat is None or not _known(stat):
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
        if not os.path.exists(f"{PROC}/{pid}"):
            _adopted.discard(pid)
    for pgid in list(_build_groups):
        if pgid not in _spawned and not group_alive(pgid):
            _build_groups.pop(pgid, None)


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
    stat = _procfs.stat_of(pid)
    return stat is None or stat.zombie


def _after_fork() -> None:
    """A forked child has none of these children, and must make other tokens."""
    # Fresh locks too: another thread may have held one at the fork.
    _tag[0] = _new_tag()
    spawning._reset()
    for state in (_spawned, _build_groups, _build_sessions, _adopted, _foreign_tokens):
        state.clear()


os.register_at_fork(after_in_child=_after_fork)
