"""Supervised subprocesses: running one command to its end, the machinery behind `ctx.run`.

Each command runs in its own session (so its own process group), with stdin
from /dev/null and stdout and stderr merged into one pipe (`_spawn.py` starts
it). Output is read as bytes in chunks and handed to an `OutputSink`
(`output.py`), which masks secrets and appends to the build's log as data
arrives; nothing holds the whole output.

Stopping (timeout, cancel, Ctrl-C) sends SIGTERM to the group and to every
process found by `_proctree`, waits up to the kill grace while still draining
output, then sends SIGKILL to whatever is left. A main process that exits while
a descendant still holds the output pipe gets `DRAIN_SECONDS` for the pipe to
close, then the rest of its group is killed, so such a build cannot hang a run.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from . import _proctree
from ._spawn import Child, start_command
from ._subreaper import subreaper
from .output import CommandStream, OutputSink

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "DRAIN_SECONDS",
    "Control",
    "ProcessOutcome",
    "StopReason",
    "run_process",
]

DRAIN_SECONDS = 1.0
_CHUNK = 64 * 1024
# Upper bound on waiting for SIGKILLed processes to die (they are normally gone in ms).
_KILL_WAIT = 2.0
# Without a pidfd (macOS, old kernels) process exit is noticed by polling.
_POLL_SECONDS = 0.05


class StopReason:
    """Why a build's processes are being stopped."""

    TIMEOUT = "timeout"
    CANCEL = "cancel"


class Control:
    """Stop requests for one build, shared by the scheduler and `ctx.run`.

    `stop()` may be called from any thread (or a signal handler's thread); it
    wakes a `run_process` blocked on output through a self-pipe.
    """

    def __init__(self, kill_grace: float = 5.0) -> None:
        self.kill_grace = kill_grace
        self.event = threading.Event()
        self.reason: str | None = None
        self.detail: str | None = None
        self.kill_now = False
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._closed = False

    @property
    def wake_fd(self) -> int:
        return self._read_fd

    def stop(self, reason: str, detail: str | None = None, *, kill_now: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            self.detail = detail
        if kill_now:
            self.kill_now = True
        self.event.set()
        self._poke()

    def _poke(self) -> None:
        if not self._closed:
            with contextlib.suppress(OSError):
                os.write(self._write_fd, b"x")

    def drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._read_fd, 4096):
                pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self._read_fd, self._write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)


@attrs.frozen
class ProcessOutcome:
    """How a supervised command ended."""

    returncode: int
    duration: float
    stopped: str | None = None  # a StopReason when buildsys stopped it
    pipe_held: bool = False  # exited, but a descendant kept its output open
    tail: tuple[str, ...] = ()  # this command's last lines of output, for messages


class _Supervisor:
    """State of one running command; lives for one `run_process` call."""

    def __init__(
        self,
        proc: Child | subprocess.Popen[bytes],
        control: Control,
        token: str,
        stream: CommandStream,
    ) -> None:
        self.proc = proc
        self.control = control
        self.token = token
        self.stream = stream
        self.pgid = proc.pid
        self.eof = False
        self.exited_at: float | None = None
        self.term_sent_at: float | None = None
        self.killed = False
        self.pipe_held = False

    def _members(self) -> set[int]:
        root = self.proc.pid if self.exited_at is None else None
        return _proctree.find_build_processes(root, self.token)

    def terminate(self) -> None:
        self.term_sent_at = time.monotonic()
        _proctree.signal_all(self.pgid, self._members(), signal.SIGTERM)

    def kill(self) -> None:
        self.killed = True
        signalled: set[int] = set()
        give_up = time.monotonic() + _KILL_WAIT
        # Processes may fork while we signal: repeat until a pass finds nobody,
        # then wait for the killed to die so orphans re-parented to us are reaped.
        while True:
            members = self._members()
            _proctree.signal_all(self.pgid, members, signal.SIGKILL)
            signalled |= members
            _proctree.reap_orphans()
            alive = [p for p in signalled if not _proctree.is_zombie(p)]
            if (not members and not alive) or time.monotonic() > give_up:
                break
            time.sleep(0.005)
        _proctree.reap_orphans()

    def anything_left(self) -> bool:
        _proctree.reap_orphans()
        if _proctree.group_alive(self.pgid):
            return True
        return any(not _proctree.is_zombie(p) for p in self._members())


_TOKEN_BYTES = _proctree.TOKEN_VAR.encode()


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[bytes, bytes],
    control: Control,
    sink: OutputSink,
    token: str,
) -> ProcessOutcome:
    """Run one command to its end under `control`; output goes to `sink`.

    `env` is already encoded (see `BuildContext`); the build's token is added.
    Raises `OSError` (e.g. `FileNotFoundError`) when the command cannot start.
    This process is a child subreaper while it runs (see `_subreaper.subreaper`).
    """
    with subreaper:
        return _run(argv, cwd, {**env, _TOKEN_BYTES: token.encode()}, control, sink, token)


def _run(
    argv: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[bytes, bytes],
    control: Control,
    sink: OutputSink,
    token: str,
) -> ProcessOutcome:
    started = time.monotonic()
    proc = start_command(argv, cwd, env, token)
    stream = sink.stream()
    sup = _Supervisor(proc, control, token, stream)
    assert proc.stdout is not None
    out_fd = proc.stdout.fileno()
    pidfd = _pidfd(proc.pid)
    # select.poll, not selectors: this runs once per command, and the thin API is cheaper.
    poller = select.poll()
    try:
        poller.register(out_fd, select.POLLIN)
        poller.register(control.wake_fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        _supervise(sup, poller, out_fd, control.wake_fd, pidfd)
    finally:
        if proc.poll() is None:  # an exception (e.g. a full disk) cut supervision short
            sup.kill()
        if pidfd is not None:
            os.close(pidfd)
        proc.stdout.close()
        stream.close()
        returncode = proc.wait()
        _proctree.untrack(proc.pid)
    return ProcessOutcome(
        returncode=returncode,
        duration=time.monotonic() - started,
        stopped=control.reason if (sup.term_sent_at is not None or sup.killed) else None,
        pipe_held=sup.pipe_held,
        tail=stream.lines.text(),
    )


def _supervise(
    sup: _Supervisor, poller: select.poll, out_fd: int, wake_fd: int, pidfd: int | None
) -> None:
    control = sup.control
    while True:
        now = time.monotonic()
        if control.event.is_set() and sup.term_sent_at is None and not sup.killed:
            if control.kill_now:
                sup.kill()
            else:
                sup.terminate()
        if control.kill_now and not sup.killed and sup.term_sent_at is not None:
            sup.kill()
        if sup.exited_at is None and sup.proc.poll() is not None:
            sup.exited_at = now
        deadlines: list[float] = []
        if sup.term_sent_at is not None and not sup.killed:
            deadlines.append(sup.term_sent_at + control.kill_grace)
        if sup.exited_at is not None and not sup.eof:
            deadlines.append(sup.exited_at + DRAIN_SECONDS)
        if sup.exited_at is not None and sup.eof:
            # Main process gone and output closed: done, unless we are stopping
            # the build and something of it is still alive (e.g. ignores SIGTERM
            # with its output redirected elsewhere).
            if sup.term_sent_at is None or sup.killed or not sup.anything_left():
                return
            deadlines.append(now + _POLL_SECONDS)
        for deadline in deadlines:
            if now >= deadline:
                if sup.exited_at is not None and not sup.eof and sup.term_sent_at is None:
                    sup.pipe_held = True
                sup.kill()
                if sup.exited_at is not None:
                    _drain_after_kill(sup, out_fd)
                    return
                break
        if pidfd is None and sup.exited_at is None:
            deadlines.append(now + _POLL_SECONDS)
        if deadlines:
            timeout_ms: int | None = math.ceil(max(0.0, min(deadlines) - time.monotonic()) * 1000)
        else:
            timeout_ms = None
        for fd, _ in poller.poll(timeout_ms):
            if fd == out_fd:
                _read_some(sup, poller, out_fd)
            elif fd == wake_fd:
                control.drain_wake()
            elif fd == pidfd:
                poller.unregister(fd)
                sup.proc.poll()  # reap now: a zombie leader keeps its group alive
                sup.exited_at = time.monotonic()


def _read_some(sup: _Supervisor, poller: select.poll, out_fd: int) -> None:
    try:
        data = os.read(out_fd, _CHUNK)
    except BlockingIOError:
        return
    if data:
        sup.stream.write(data)
    else:
        sup.eof = True
        poller.unregister(out_fd)


def _drain_after_kill(sup: _Supervisor, out_fd: int) -> None:
    """Read what the killed holders left in the pipe, without waiting on a live writer."""
    os.set_blocking(out_fd, False)
    end = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < end:
        try:
            data = os.read(out_fd, _CHUNK)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not data:
            return
        sup.stream.write(data)


if sys.platform == "win32":  # pragma: no cover - SPEC: POSIX only, and says so
    raise ImportError("buildsys supports Linux and macOS; Windows is out of scope for now")
