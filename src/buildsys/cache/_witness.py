"""Stat facts that vouch for a toolchain fingerprint between runs.

A fingerprint names the files it depends on (the tool binaries it ran, the
PATH candidates it looked at, version files it read). What `os.stat` says of
each, followed through symlinks, is kept as `[mode, size, mtime_ns, inode,
ctime_ns]`, or None for a path that does not exist (a tool installed there
later must be noticed). While every path still says the same, the fingerprint
stands: the engine reuses it instead of asking the tools again, and a replay
serves the run. Following symlinks, one stat covers a whole chain of links: a
link retargeted, or the file at its end replaced, changes the stat.

Facts are trusted only when taken well after the file last changed (the
racy-git rule of `_racy`, on both mtime and ctime): a tool rewritten within one
timestamp tick of the run that recorded it could otherwise keep its stat.

Plain lists and ints: `replay` checks these without importing attrs.
"""

from __future__ import annotations

import os

from .._racy import racy_window_ns

__all__ = ["facts", "trusted"]


def facts(path: str) -> list[int] | None:
    """The stat facts of `path` (following symlinks), None if it cannot be stat'ed."""
    try:
        st = os.stat(path)  # noqa: PTH116 - on the replay's path: os-level
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    return [st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def trusted(found: list[int] | None, recorded_ns: int) -> bool:
    """Whether facts taken at `recorded_ns` (or later) can vouch for the file."""
    if found is None:
        return True
    mtime_ns, ctime_ns = found[2], found[4]
    return max(mtime_ns, ctime_ns) + racy_window_ns(mtime_ns) <= recorded_ns
