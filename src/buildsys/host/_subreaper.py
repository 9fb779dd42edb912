"""The child subreaper flag: held while any run or lone command of this process needs it.

While it is set, orphans of a build's processes are re-parented to this
process instead of init, so `_proctree` still finds (and reaps) them. The flag
belongs to the host program, which may run builds from several threads at
once: `subreaper` counts its holders under a lock, sets the flag when the
first arrives and, when the last leaves, kills and reaps what builds left
among its children before putting the flag back as it was (it may already
have been set by the host). A run ends with `end_run`, so nothing of a build
outlives it; except in the `buildsys` command, which holds the flag until it
exits, and whose exit hands what builds left running (a Gradle daemon) on to
init. On other systems there is no flag, and only process groups are signalled.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import _proctree
from ._procfs import IS_LINUX

if TYPE_CHECKING:
    import ctypes

__all__ = ["end_run", "subreaper"]

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


class _Subreaper:
    """The child subreaper flag, held while any run or lone command needs it.

    A run holds it (`with subreaper.held():`) and each command does too
    (`with subreaper:`), which sets the flag if no holder has yet, noting what
    it was: a run that starts no command never touches it. When the last holder
    leaves, it kills and reaps the builds' processes left among this
    process's children, while the flag still makes orphans come here, then
    puts the flag back. Holders may come and go from any thread.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._engaged = False
        # The flag as it was found when set, or None where it cannot be used.
        self._found: int | None = None
        self._for_life = False

    @property
    def for_life(self) -> bool:
        return self._for_life

    def hold_for_life(self) -> None:
        """For a program that ends when its run does (the `buildsys` command): hold
        the flag until it exits. What builds leave running is then not killed when a
        run ends; the exit hands it on, as any orphan, to init (or another subreaper)."""
        with self._lock:
            if self._for_life:
                return
            self._for_life = True
        self.hold()

    def hold(self, *, engage: bool = False) -> None:
        with self._lock:
            self._holders += 1
            if engage and not self._engaged:
                self._engaged = True
                self._found = _engage_subreaper()

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders or not self._engaged:
                return
            try:
                if self._found is not None:
                    _proctree.kill_children()
            finally:
                _proctree.forget_sessions()
                if self._found == 0:
                    _set_subreaper(0)
                self._engaged = False
                self._found = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold it around a run without setting it: the run's commands do."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> None:
        self.hold(engage=True)

    def __exit__(self, *exc: object) -> None:
        self.release()


def _libc() -> ctypes.CDLL:
    import ctypes  # only when a run starts: 1 ms that `buildsys --version` never pays

    return ctypes.CDLL(None, use_errno=True)


def _get_subreaper() -> int | None:
    """prctl(PR_GET_CHILD_SUBREAPER): 0 or 1, or None where it cannot be read."""
    import ctypes

    found = ctypes.c_int(0)
    try:
        ok = _libc().prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(found), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return None
    return (1 if found.value else 0) if ok else None


def _set_subreaper(value: int) -> bool:
    try:
        return bool(_libc().prctl(_PR_SET_CHILD_SUBREAPER, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _engage_subreaper() -> int | None:
    """Set the flag; return what it was (0 or 1), or None if it cannot be used here."""
    if not IS_LINUX:
        return None
    found = _get_subreaper()
    if found == 0 and not _set_subreaper(1):
        return None
    return found


subreaper = _Subreaper()


def end_run(prefix: str) -> None:
    """Kill what is left of the run whose tokens start with `prefix` and reap what
    of it was re-parented here (`_proctree.kill_run`); call it once the run's
    commands have ended, while still holding `subreaper`. In a program that holds
    it for life, only what has exited is reaped.
    """
    if not IS_LINUX:
        return
    if subreaper.for_life:
        _proctree.reap_orphans()
        return
    _proctree.kill_run(prefix)


def _after_fork() -> None:
    """A forked child is no subreaper; fresh locks too: another thread may have held one."""
    subreaper._reset()


os.register_at_fork(after_in_child=_after_fork)
