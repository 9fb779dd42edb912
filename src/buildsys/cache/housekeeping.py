"""Taking stock of the cache and making room: entries, sizes, eviction and clean.

Eviction and clean are the only operations that delete live data, so only
they take the cache's `lock` (flock): two evictions would double-count, and a
clean must not race one. "Last used" is a manifest's mtime (a lookup touches
it): eviction removes the least recently used manifests first, then the blobs
no manifest references. Unreferenced blobs and temporary files younger than
`BLOB_GRACE_SECONDS` are kept, as a concurrent store may be about to list
them (`store.py` says why lookups and stores need no lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import attrs

from .blobs import BlobStore
from .manifest import Corrupt, parse_manifest

__all__ = ["BLOB_GRACE_SECONDS", "CacheEntry", "CacheInfo", "clean", "entries", "evict", "info"]

BLOB_GRACE_SECONDS = 600.0
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@attrs.frozen
class CacheInfo:
    directory: Path
    entries: int
    size: int  # bytes of blobs and manifests


class CacheEntry(NamedTuple):
    key: str
    size: int  # bytes of the manifest plus the content it lists
    last_used: float


def _files(directory: Path, sub: str) -> Iterator[os.DirEntry[str]]:
    """Every file of blobs/ or manifests/ (temporary dotfiles included)."""
    try:
        fans = list(os.scandir(directory / sub))
    except OSError:
        return
    for fan in fans:
        if not fan.is_dir(follow_symlinks=False):
            continue
        try:
            yield from os.scandir(fan.path)
        except OSError:
            continue


def entries(directory: Path, blobs: BlobStore) -> Iterator[CacheEntry]:
    """(key, size, last_used) of each entry, in no particular order."""
    for item in _files(directory, "manifests"):
        if item.name.startswith(".") or not item.name.endswith(".json"):
            continue
        key = item.name[: -len(".json")]
        try:
            st = item.stat(follow_symlinks=False)
            manifest = parse_manifest(Path(item.path).read_text("utf-8"), key)
        except (OSError, UnicodeDecodeError, Corrupt):
            continue
        size = st.st_size + sum(f.size for f in manifest.files if f.symlink is None)
        if manifest.log_blob is not None:
            size += blobs.size_or(manifest.log_blob, 0)
        yield CacheEntry(key, size, st.st_mtime)


def info(directory: Path) -> CacheInfo:
    """Entry count and bytes on disk (blobs, manifests, and temporary files)."""
    count = size = 0
    for sub in ("manifests", "blobs"):
        for item in _files(directory, sub):
            with contextlib.suppress(OSError):
                size += item.stat(follow_symlinks=False).st_size
                if sub == "manifests" and not item.name.startswith("."):
                    count += 1
    return CacheInfo(directory, count, size)


@contextlib.contextmanager
def _locked(directory: Path, *, blocking: bool) -> Iterator[bool]:
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def clean(directory: Path) -> None:
    """Empty the cache (waits for a running eviction or clean). OSErrors propagate."""
    with _locked(directory, blocking=True):
        for item in list(os.scandir(directory)):
            if item.name in ("manifests", "blobs") or item.name.startswith(".trash-"):
                # Rename first: the tree disappears at once for concurrent readers.
                trash = directory / f".trash-{secrets.token_hex(8)}"
                if item.name.startswith(".trash-"):
                    trash = Path(item.path)
                else:
                    os.rename(item.path, trash)  # noqa: PTH104
                shutil.rmtree(trash, ignore_errors=True)


def evict(directory: Path, max_size: int, grace: float) -> int:
    """Remove least recently used entries, then unreferenced blobs, until under max_size.

    Returns the number of entries removed; skips (0) if another process is
    evicting. OSErrors taking the lock propagate.
    """
    with _locked(directory, blocking=False) as held:
        return _evict(directory, max_size, grace) if held else 0


def _evict(directory: Path, max_size: int, grace: float) -> int:
    now = time.time()
    total = 0
    manifests: list[tuple[float, str, str, int, set[str]]] = []
    for item in _files(directory, "manifests"):
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if item.name.startswith("."):
            if now - st.st_mtime >= grace:
                with contextlib.suppress(OSError):
                    os.unlink(item.path)  # noqa: PTH108
            else:
                total += st.st_size
            continue
        key = item.name.removesuffix(".json")
        try:
            manifest = parse_manifest(Path(item.path).read_text("utf-8"), key)
        except (OSError, UnicodeDecodeError, Corrupt):
            with contextlib.suppress(OSError):
                os.unlink(item.path)  # noqa: PTH108
            continue
        shas = {f.sha256 for f in manifest.files if f.symlink is None}
        if manifest.log_blob is not None:
            shas.add(manifest.log_blob)
        manifests.append((st.st_mtime, key, item.path, st.st_size, shas))
        total += st.st_size
    blobs: dict[str, tuple[str, int, float]] = {}
    for item in _files(directory, "blobs"):
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if item.name.startswith(".") and now - st.st_mtime >= grace:
            with contextlib.suppress(OSError):
                os.unlink(item.path)  # noqa: PTH108
            continue
        total += st.st_size
        if not item.name.startswith("."):
            blobs[item.name] = (item.path, st.st_size, st.st_mtime)
    refs = Counter(sha for m in manifests for sha in m[4])

    # Young unreferenced blobs are kept (a store may be about to list them):
    # they count as used space that eviction cannot free, not as a reason to
    # go on deleting manifests.
    kept = 0

    def drop_blob(sha: str) -> int:
        """Delete an unreferenced blob unless it is young; bytes freed."""
        nonlocal kept
        path, size, _ = blobs.pop(sha)
        try:
            if now - os.lstat(path).st_mtime < grace:  # re-checked: a store may reuse it
                kept += size
                return 0
            os.unlink(path)  # noqa: PTH108
        except OSError:
            return 0
        return size

    for sha in [s for s in blobs if refs[s] == 0]:
        total -= drop_blob(sha)
    removed = 0
    for _mtime, _key, path, size, shas in sorted(manifests):
        if total - kept <= max_size:
            break
        try:
            os.unlink(path)  # noqa: PTH108
        except OSError:
            continue
        removed += 1
        total -= size
        for sha in shas:
            refs[sha] -= 1
            if refs[sha] == 0 and sha in blobs:
                total -= drop_blob(sha)
    return removed
