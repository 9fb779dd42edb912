"""The racy-git rule's window: how close to its hashing a file's mtime may be
before the hash cannot vouch for the file any more.

A file written again within one tick of the file system's timestamps keeps
its mtime, so a hash taken in that tick may describe content that has since
changed, with every stat field the same. Such an entry must be hashed again.
How long a tick is depends on the file system: one that keeps sub-second
timestamps (ext4, xfs, btrfs, tmpfs, APFS) is stamped from the kernel's
coarse clock, which ticks every 1 to 10 ms; one that keeps whole seconds
(ext3, HFS+) or two (FAT) needs seconds. A timestamp with a sub-second part
can only come from the first kind. The window is two ticks of the coarsest
clock: the coarse clock lags the one `time.time_ns()` reads by up to a tick.
"""

from __future__ import annotations

import os

__all__ = ["COARSE_WINDOW_NS", "FINE_WINDOW_NS", "racy_window_ns", "vouches"]

FINE_WINDOW_NS = 20_000_000  # two ticks of a kernel clock at HZ=100
COARSE_WINDOW_NS = 2_000_000_000  # FAT keeps even seconds


def racy_window_ns(mtime_ns: int) -> int:
    """The window for a file whose mtime is `mtime_ns`."""
    return COARSE_WINDOW_NS if mtime_ns % 1_000_000_000 == 0 else FINE_WINDOW_NS


def vouches(
    st: os.stat_result,
    mtime_ns: int,
    ino: int,
    ctime_ns: int,
    recorded_ns: int,
    window_ns: int | None = None,
) -> bool:
    """Whether facts recorded at `recorded_ns` still describe the file `st` is of:
    the same mtime, inode and ctime, and that mtime outside the racy window."""
    window = racy_window_ns(mtime_ns) if window_ns is None else window_ns
    return (
        st.st_mtime_ns == mtime_ns
        and st.st_ino == ino
        and st.st_ctime_ns == ctime_ns
        and mtime_ns + window <= recorded_ns
    )
