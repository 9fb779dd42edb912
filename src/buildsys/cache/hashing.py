"""Content hashes of build inputs, made cheap by a stat memo.

A cache key must depend on what files contain, never on their timestamps, yet
re-reading every input on every run would cost more than most builds save.
`StatMemo` remembers, per file, the `lstat` facts (size, mtime_ns, inode,
ctime_ns) seen when its content was last hashed, and trusts that hash while
those facts are unchanged.

The racy-git rule. A file system stores timestamps with a finite granularity
(a kernel clock tick, or whole seconds on some file systems), so a file written
again within the same tick as the moment it was hashed can keep its size and
mtime and look unchanged. Each memo entry therefore records when it was made
(taken *before* the file is read); an entry whose mtime lies within the racy
window of that moment is never trusted: the file is hashed again. The window
follows the file system's granularity (`_racy`: 20 ms where timestamps have a
sub-second part, 2 s where they are whole seconds). If the content turns out
the same, the entry is re-recorded, and once the file's mtime is older than
the window the entry becomes trustworthy, so a `touch` costs one re-hash on
the next run and nothing afterwards.

The stat facts are taken with `fstat` on the descriptor that is hashed, before
reading: a write during hashing then changes the mtime and ctime and the next
run re-hashes, instead of the memo pinning a hash of half-written content.

Symlinks are hashed as their link text (`"symlink:" + target`), never
followed: a link's meaning to a build is where it points. Other special files
(FIFOs, sockets, devices) are hashed by their type only; opening a FIFO would
block.

The memo file is a line format, not JSON: one `path<TAB>digest size mtime
inode ctime recorded` line per file, after a header holding a sha256 of the
body. Loading keeps each line as an unparsed string until it is looked up:
splitting 5000 lines measured ~1.5 ms, against ~3 ms for `json.loads` of the
same data as a dict of lists and ~5 ms for parsing every line up front; a
whole load of 6000 entries (read, checksum, split) took ~7 ms. The checksum
makes a damaged or hand-edited file load as an empty memo rather than as
wrong hashes. Saving goes through `write_atomic` (temporary file and rename),
so concurrent processes never see a torn file; the last writer wins, which at
worst costs the loser's entries one re-hash.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from .. import _racy
from ..config.patterns import FileTree, PatternSet

__all__ = ["StatMemo", "combine", "hash_inputs"]
_HEADER = "buildsys-statmemo 1"
_CHUNK = 1024 * 1024
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _hash_fd(fd: int) -> str:
    """sha256 of everything readable from `fd`; the one place that reads file contents."""
    h = hashlib.sha256()
    while chunk := os.read(fd, _CHUNK):
        h.update(chunk)
    return h.hexdigest()


def link_digest(target: str) -> str:
    """The digest of a symlink whose link text is `target`."""
    return hashlib.sha256(b"symlink:" + os.fsencode(target)).hexdigest()


def _special_digest(mode: int) -> str:
    return hashlib.sha256(f"special:{stat.S_IFMT(mode):o}".encode()).hexdigest()


@attrs.frozen
class _Entry:
    digest: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    recorded_ns: int  # when the entry was made, taken before the file was read

    def line_fields(self) -> str:
        return (
            f"{self.digest} {self.size} {self.mtime_ns} {self.ino} "
            f"{self.ctime_ns} {self.recorded_ns}"
        )

    @classmethod
    def parse(cls, fields: str) -> _Entry | None:
        parts = fields.split(" ")
        if len(parts) != 6 or len(parts[0]) != 64:
            return None
        try:
            return cls(parts[0], *(int(p) for p in parts[1:]))
        except ValueError:
            return None


def _memoisable(key: str) -> bool:
    """Paths the line format can hold: no tab or newline, encodable as UTF-8."""
    if "\t" in key or "\n" in key or "\r" in key:
        return False
    try:
        key.encode()
    except UnicodeEncodeError:
        return False
    return True


class StatMemo:
    """path -> content hash, trusted while the file's stat is unchanged and not racy.

    Thread-safe: `digest` may be called from many threads at once, and `save`
    alongside them. Entries are keyed by the joined path `root/rel`, so one
    memo can serve several roots.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        racy_window_ns: int | None = None,
    ) -> None:
        self.path = path
        self.racy_window_ns = racy_window_ns
        # Values stay unparsed strings (as loaded) until first looked up.
        self._entries: dict[str, str | _Entry] = {}
        self._lock = threading.Lock()
        self._dirty = False

    @classmethod
    def load(cls, path: Path, *, racy_window_ns: int | None = None) -> StatMemo:
        """The memo saved at `path`; empty if it is missing, unreadable or damaged."""
        memo = cls(path, racy_window_ns=racy_window_ns)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return memo
        header, _, body = text.partition("\n")
        name, _, checksum = header.rpartition(" ")
        if name != _HEADER or hashlib.sha256(body.encode()).hexdigest() != checksum:
            return memo
        try:
            raw = dict(line.split("\t", 1) for line in body.splitlines())
        except ValueError:
            return memo
        memo._entries.update(raw)
        return memo

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: str) -> _Entry | None:
        value = self._entries.get(key)
        if value is None or isinstance(value, _Entry):
            return value
        entry = _Entry.parse(value)
        with self._lock:
            if entry is None:
                self._entries.pop(key, None)
            elif self._entries.get(key) is value:
                self._entries[key] = entry
        return entry

    def _trusted(self, entry: _Entry, st: os.stat_result) -> bool:
        return entry.size == st.st_size and _racy.vouches(
            st, entry.mtime_ns, entry.ino, entry.ctime_ns, entry.recorded_ns, self.racy_window_ns
        )

    def digest(self, root: Path, rel: str) -> str:
        """sha256 hex of the file `root/rel`; a symlink's of its link text.

        Raises OSError (FileNotFoundError included) if the file can't be read.
        """
        # os.path rather than pathlib on this hot path: thousands of calls per run.
        key = os.path.join(root, rel)  # noqa: PTH118
        st = os.lstat(key)
        if stat.S_ISLNK(st.st_mode):
            return link_digest(os.readlink(key))  # noqa: PTH115
        if not stat.S_ISREG(st.st_mode):
            return _special_digest(st.st_mode)
        entry = self._lookup(key)
        if entry is not None and self._trusted(entry, st):
            return entry.digest
        recorded_ns = time.time_ns()
        fd = os.open(key, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK)
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode):  # replaced since the lstat
                return _special_digest(fst.st_mode)
            digest = _hash_fd(fd)
        finally:
            os.close(fd)
        if _memoisable(key):
            fresh = _Entry(
                digest, fst.st_size, fst.st_mtime_ns, fst.st_ino, fst.st_ctime_ns, recorded_ns
            )
            with self._lock:
                self._entries[key] = fresh
                self._dirty = True
        return digest

    def entry(self, root: Path, rel: str) -> tuple[str, int, int, int, int, int] | None:
        """(digest, size, mtime_ns, inode, ctime_ns, recorded_ns) last recorded for
        `root/rel`, or None: what `replay` re-checks without this module."""
        found = self._lookup(os.path.join(root, rel))  # noqa: PTH118
        if found is None:
            return None
        return (
            found.digest,
            found.size,
            found.mtime_ns,
            found.ino,
            found.ctime_ns,
            found.recorded_ns,
        )

    def forget(self, root: Path, rel: str) -> None:
        """Drop the entry of `root/rel`, e.g. after the engine rewrote the file."""
        with self._lock:
            if self._entries.pop(os.path.join(root, rel), None) is not None:  # noqa: PTH118
                self._dirty = True

    def save(self) -> bool:
        """Write the memo atomically, if anything changed; False if it could not be written.

        Never raises for an unwritable location: the memo is only an optimisation.
        """
        if self.path is None:
            return False
        with self._lock:
            if not self._dirty:
                return True
            items = list(self._entries.items())
            self._dirty = False
        body = "".join(
            f"{key}\t{value if isinstance(value, str) else value.line_fields()}\n"
            for key, value in items
        )
        checksum = hashlib.sha256(body.encode()).hexdigest()
        from .._files import write_atomic

        try:
            write_atomic(self.path, f"{_HEADER} {checksum}\n{body}")
        except OSError:
            with self._lock:
                self._dirty = True
            return False
        return True


def hash_inputs(
    root: Path, patterns: Sequence[str], memo: StatMemo, tree: FileTree | None = None
) -> tuple[tuple[str, str], ...]:
    """Sorted (relative POSIX path, digest) of every file `patterns` match under `root`,
    walked in `tree` (a `FileTree` of `root`: with git's rules, what git ignores is
    left out; default: every file).

    A file that vanishes between the walk and its hashing is left out, as if
    the walk had come a moment later. Any other read error (permission
    denied) propagates as OSError: without the content there is no honest
    key, so the caller must treat the build as uncacheable.
    """
    out: list[tuple[str, str]] = []
    for rel in PatternSet(patterns).files(root, tree):
        try:
            out.append((rel, memo.digest(root, rel)))
        except FileNotFoundError:
            continue
    return tuple(out)


def combine(parts: Iterable[str | bytes]) -> str:
    """sha256 hex over length-prefixed parts, so ("ab", "c") and ("a", "bc") differ."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()
