"""Starting one command: in its own session, stdin from /dev/null, output into one pipe.

`os.posix_spawn` where it can (Linux, a command run where buildsys runs), else
`subprocess.Popen`; either way with no descriptor inherited beyond stdin,
stdout and stderr, signals Python ignores restored, and the pid recorded
(`_proctree.track`) before anything may reap orphans.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO, Protocol

from . import _proctree
from .programs import program_on_path

if TYPE_CHECKING:
    import subprocess

__all__ = ["Child", "start_command"]


class Child(Protocol):
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


def start_command(
    argv: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[bytes, bytes],
    token: str,
) -> Child | subprocess.Popen[bytes]:
    path = env.get(b"PATH")
    executable = program_on_path(argv[0], None if path is None else os.fsdecode(path))
    # os.posix_spawn cannot change directory: it serves only commands
    # that run where buildsys runs, which is where builds usually run.
    here = cwd is None or os.fspath(cwd) == os.getcwd()  # noqa: PTH109
    with _proctree.spawning:
        proc: Child | subprocess.Popen[bytes] | None = None
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
