"""One run at a time per project: an exclusive lock in `.buildsys/`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["project_lock", "state_dir", "try_project_lock"]

_GITIGNORE = "# buildsys keeps its logs, cache and lock here; none of it belongs in git.\n*\n"


def state_dir(root: Path) -> Path:
    """`.buildsys/` beside builds.toml, created with its own .gitignore."""
    path = root / ".buildsys"
    path.mkdir(exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text(_GITIGNORE)
    return path


@contextlib.contextmanager
def project_lock(
    root: Path,
    *,
    on_wait: Callable[[str], None],
    stop: threading.Event | None = None,
    poll: float = 0.1,
) -> Iterator[bool]:
    """Hold the project's lock; if another run holds it, say so once and wait.

    Yields False if `stop` was set while waiting (the lock is then not held).
    """
    with _lock_file(root) as fd:
        waited = False
        while not _take(fd):
            if not waited:
                waited = True
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                on_wait(
                    f"another buildsys run (pid {holder}) is using {root}; "
                    "waiting for it to finish..."
                )
            if stop is not None and stop.wait(poll):
                yield False
                return
            if stop is None:
                threading.Event().wait(poll)
        with _holding(fd):
            yield True


@contextlib.contextmanager
def try_project_lock(root: Path) -> Iterator[bool]:
    """Hold the project's lock if it is free; yields False at once if another run holds it."""
    with _lock_file(root) as fd:
        if not _take(fd):
            yield False
            return
        with _holding(fd):
            yield True


@contextlib.contextmanager
def _lock_file(root: Path) -> Iterator[int]:
    fd = os.open(state_dir(root) / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def _take(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _holding(fd: int) -> Iterator[None]:
    """The lock is taken: say who holds it (for a waiting run's message) until released."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
