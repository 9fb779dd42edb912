"""Supervised subprocesses: the machinery behind `ctx.run`.

Each command runs in its own session (so its own process group), with stdin
from /dev/null and stdout and stderr merged into one pipe. Output is read as
bytes in chunks and handed to an `OutputSink`, which masks secrets and appends
to the build's log as data arrives; nothing holds the whole output.

Stopping (timeout, cancel, Ctrl-C) sends SIGTERM to the group and to every
process found by `_proctree`, waits up to the kill grace while still draining
output, then sends SIGKILL to whatever is left. A main process that exits while
a descendant still holds the output pipe gets `DRAIN_SECONDS` for the pipe to
close, then the rest of its group is killed, so such a build cannot hang a run.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import attrs

from ..masking import Masker, StreamMasker
from . import _proctree

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "DISPLAY_LINE_LIMIT",
    "DRAIN_SECONDS",
    "Control",
    "OutputSink",
    "ProcessOutcome",
    "StopReason",
    "find_program",
    "program_candidates",
    "run_process",
]

DISPLAY_LINE_LIMIT = 64 * 1024
DRAIN_SECONDS = 1.0
TAIL_LINES = 20
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


def _cap(line: bytes) -> bytes:
    if len(line) <= DISPLAY_LINE_LIMIT:
        return line
    return line[:DISPLAY_LINE_LIMIT] + f" [... {len(line) - DISPLAY_LINE_LIMIT} bytes cut]".encode()


class _Lines:
    """Splits one command's output into display lines; keeps the last `TAIL_LINES`."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self._on_line = on_line
        self.tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
        self._partial = b""
        self._dropped = 0

    def feed(self, data: bytes) -> None:
        lines = data.split(b"\n")
        first = self._partial + lines[0] if self._partial else lines[0]
        # Keep at most one display line of a newline-less flood, counting the rest.
        if len(first) > DISPLAY_LINE_LIMIT:
            self._dropped += len(first) - DISPLAY_LINE_LIMIT
            first = first[:DISPLAY_LINE_LIMIT]
        if len(lines) == 1:
            self._partial = first
            return
        self._emit(first, self._dropped)
        self._dropped = 0
        for line in lines[1:-1]:
            self._emit(line, 0)
        last = lines[-1]
        if len(last) > DISPLAY_LINE_LIMIT:
            self._dropped = len(last) - DISPLAY_LINE_LIMIT
            last = last[:DISPLAY_LINE_LIMIT]
        self._partial = last

    def _emit(self, line: bytes, dropped: int) -> None:
        line = line.removesuffix(b"\r")
        line = line + f" [... {dropped} bytes cut]".encode() if dropped else _cap(line)
        self.tail.append(line)
        if self._on_line is not None:
            self._on_line(line.decode("utf-8", "replace"))

    def finish(self) -> None:
        """Emit an unterminated last line."""
        if self._partial or self._dropped:
            self._emit(self._partial, self._dropped)
        self._partial = b""
        self._dropped = 0

    def text(self) -> tuple[str, ...]:
        return tuple(line.decode("utf-8", "replace") for line in self.tail)


class OutputSink:
    """Where a build's output goes: masked and appended to its log as it arrives.

    One sink serves every command of a build (they share the log); each
    command gets its own `stream()`, which splits its lines for its tail and
    for `on_line`, so concurrent commands never splice each other's lines.
    """

    def __init__(
        self,
        log: BinaryIO | Path,
        masker: Masker,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        # A path is opened by `open()` (or the first write), so that the thread
        # that runs the build, not the scheduler, pays for creating the file.
        self._path = log if isinstance(log, Path) else None
        self._log: BinaryIO | None = None if isinstance(log, Path) else log
        self._masker = masker
        self._on_line = on_line
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create (truncate) the log file now."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> BinaryIO:
        if self._log is None:
            assert self._path is not None
            self._log = self._path.open("wb")
        return self._log

    def close(self) -> None:
        with self._lock:
            if self._log is not None and self._path is not None:
                self._log.close()

    def note(self, text: str) -> None:
        """Append buildsys's own text (e.g. a traceback) to the log, masked."""
        lines = _Lines(self._on_line)
        self._write(self._masker.data(text.encode("utf-8", "replace")), lines)
        lines.finish()

    def stream(self) -> _Stream:
        return _Stream(self, self._masker.stream(), _Lines(self._on_line))

    def _write(self, data: bytes, lines: _Lines) -> None:
        if not data:
            return
        with self._lock:
            log = self._open_locked()
            log.write(data)
            log.flush()
        lines.feed(data)


class _Stream:
    """One command's output into a sink, masked across chunk boundaries."""

    def __init__(self, sink: OutputSink, masker: StreamMasker, lines: _Lines) -> None:
        self._sink = sink
        self._masker = masker
        self.lines = lines

    def write(self, chunk: bytes) -> None:
        self._sink._write(self._masker.feed(chunk), self.lines)

    def close(self) -> None:
        self._sink._write(self._masker.flush(), self.lines)
        self.lines.finish()


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
        self, proc: _Child | subprocess.Popen[bytes], control: Control, token: str, stream: _Stream
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


_WHICH: dict[tuple[str, str | None], str] = {}


def _program(name: str, search_path: str | None) -> str | None:
    """`name` found on the command's PATH, memoised: Popen's own search costs a
    path join per PATH entry on every spawn. Only hits are kept, so a tool that
    appears later is still found; a stale hit fails to start and is reported
    like any missing command.
    """
    if "/" in name:
        return None
    key = (name, search_path)
    found = _WHICH.get(key)
    if found is None:
        # Relative entries resolve against the command's cwd: Popen's own search decides.
        found = find_program(name, os.defpath if search_path is None else search_path, None)
        if found is None:
            return None
        _WHICH[key] = found
    return found


def find_program(name: str, search_path: str, cwd: str | None) -> str | None:
    """The executable that running `name` would start, as exec searches for it:
    `name` itself if it has a slash, else the first in a `search_path` entry;
    relative ones (and an empty one, `.`) taken from `cwd`, or, without a
    `cwd`, ending the search with None.

    What `shutil.which` does, without importing shutil (and with it bz2, lzma
    and zlib: 2 ms of every start).
    """
    for candidate in program_candidates(name, search_path, cwd):
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):  # noqa: PTH112
            return candidate
    return None


def program_candidates(name: str, search_path: str, cwd: str | None) -> list[str]:
    """The paths `find_program` tries for `name`, in order."""
    if "/" in name:
        return [name if cwd is None else os.path.join(cwd, name)]  # noqa: PTH118
    candidates = []
    for directory in search_path.split(os.pathsep):
        if not os.path.isabs(directory):  # noqa: PTH117 - str in, str out
            if cwd is None:
                break
            directory = os.path.join(cwd, directory)  # noqa: PTH118
        candidates.append(os.path.join(directory, name))  # noqa: PTH118
    return candidates


_TOKEN_BYTES = _proctree.TOKEN_VAR.encode()


class _Child(Protocol):
    """What supervision needs of a started command; `subprocess.Popen` is one."""

    pid: int
    stdout: BinaryIO | None

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


class _Spawned:
    """A command started with `os.posix_spawn`, waited for like a `Popen`."""

    def __init__(self, pid: int, stdout: BinaryIO) -> None:
        self.pid = pid
        self.stdout: BinaryIO | None = stdout
        self.returncode: int | None = None

    def _reaped(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:  # reaped elsewhere: what Popen reports too
                self.returncode = 0
            else:
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reaped(os.WNOHANG)

    def wait(self) -> int:
        while (code := self._reaped(0)) is None:
            pass
        return code


def _inherited_fds() -> list[int] | None:
    """Descriptors above stderr that a command would inherit, or None if unknown.

    Python opens everything close-on-exec; these came from the parent (a
    make jobserver, a pipe a CI runner waits on). `Popen(close_fds=True)`
    closes them in the child; a posix_spawn close action does the same.
    """
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]  # noqa: PTH208
    except OSError:
        return None
    inherited = []
    for fd in fds:
        if fd <= 2:
            continue
        try:
            if os.get_inheritable(fd):
                inherited.append(fd)
        except OSError:
            continue  # the listing's own descriptor, already closed
    return inherited


_RESTORED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)
# Set when this C library cannot start a session with posix_spawn: Popen only.
_NO_SPAWN: list[bool] = []
_DEVNULL_ACTION = (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)


def _spawn_actions() -> list[tuple[int | str, ...]] | None:
    """stdin from /dev/null and every inherited descriptor closed, or None for Popen.

    Listed again for every command (a few microseconds): a program using
    buildsys as a library may make a descriptor inheritable at any time.
    """
    if _NO_SPAWN or sys.platform != "linux":
        return None
    inherited = _inherited_fds()
    if inherited is None:
        return None
    return [_DEVNULL_ACTION, *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited)]


def _spawn(argv: Sequence[str], executable: str, env: Mapping[bytes, bytes]) -> _Spawned | None:
    """Start `argv` with posix_spawn, or None where only Popen can (then nothing ran).

    posix_spawn does in one call, with the GIL released, what Popen does in
    a few hundred microseconds of Python per command, which on a run of many
    short commands is the scheduler's main cost.
    """
    actions = _spawn_actions()
    if actions is None:
        return None
    read_fd, write_fd = os.pipe()
    try:
        pid = os.posix_spawn(
            executable,
            list(argv),
            env,
            file_actions=[
                *actions,
                (os.POSIX_SPAWN_DUP2, write_fd, 1),
                (os.POSIX_SPAWN_DUP2, write_fd, 2),
            ],
            setsid=True,
            # What Popen's restore_signals does: Python ignores these, and an
            # ignored signal stays ignored across exec (`yes | head` would loop).
            setsigdef=_RESTORED_SIGNALS,
        )
    except NotImplementedError:  # no POSIX_SPAWN_SETSID in this C library
        os.close(read_fd)
        _NO_SPAWN.append(True)
        return None
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return _Spawned(pid, os.fdopen(read_fd, "rb", buffering=0))


def _popen(
    argv: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[bytes, bytes],
    token: str,
) -> _Child | subprocess.Popen[bytes]:
    path = env.get(b"PATH")
    executable = _program(argv[0], None if path is None else os.fsdecode(path))
    # os.posix_spawn cannot change directory: it serves only commands
    # that run where buildsys runs, which is where builds usually run.
    here = cwd is None or os.fspath(cwd) == os.getcwd()  # noqa: PTH109
    with _proctree.spawning:
        proc: _Child | subprocess.Popen[bytes] | None = None
        if here and (executable is not None or "/" in argv[0]):
            proc = _spawn(argv, executable or argv[0], env)
        if proc is None:
            import subprocess  # only where posix_spawn cannot do it

            proc = subprocess.Popen(
                list(argv),
                executable=executable,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                bufsize=0,
            )
        _proctree.track(proc.pid, token)
    return proc


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
    This process is a child subreaper while it runs (see `_proctree.subreaper`).
    """
    with _proctree.subreaper:
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
    proc = _popen(argv, cwd, env, token)
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
