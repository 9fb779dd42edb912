"""The build cache's storage: content-addressed blobs and one manifest per key.

Layout, under the cache directory (`.buildsys/cache`, or a `cache-dir` shared
between projects and users)::

    blobs/<aa>/<sha256>          file contents, named by their hash, mode 0444
    manifests/<aa>/<key>.json    what a key restores: paths, hashes, modes, links, log
    lock                         taken by eviction and clean only

`Cache` is the one way in: manifests are `manifest.py`, blobs `blobs.py`,
writing an entry back into the project `restore.py`, and listing, eviction
and clean `housekeeping.py`. This module holds the rule they keep together.

Why no lock for lookups and stores. Every file in the cache appears by
renaming a complete temporary file from the same directory, so a reader sees
the old file or the new one, never half of one. Blobs are named by their
content: two processes writing the same blob write the same bytes, and
whichever rename lands last changes nothing. A store writes its blobs before
its manifest, so a manifest never becomes visible before what it lists. Two
stores of one key write equivalent manifests (same inputs, same key) and the
last one wins. And nothing is trusted on the way out: a manifest is parsed and
checked, every blob is hashed as it is read, and anything that fails is
reported as a warning, evicted and treated as a miss. The only operation that
deletes live data is eviction (and clean), so only it takes `lock` (flock), to
keep two evictions from double-counting. An eviction can still race a store:
it might delete a blob a store has just written but whose manifest isn't
written yet. Unreferenced blobs younger than a grace period (`BLOB_GRACE_SECONDS`,
and a store touches a blob it reuses) are therefore kept; if the race happens
anyway the cost is one verified miss, never a wrong restore.

Cache trouble never fails a build: an unusable directory, a full disk or a
read-only cache turns into `warnings` and misses. After the first failure to
write into the cache, further stores of this `Cache` are skipped, so a full
disk yields one warning, not one per build.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from . import housekeeping
from .blobs import BlobStore, SourceError
from .hashing import StatMemo, link_digest
from .housekeeping import BLOB_GRACE_SECONDS, CacheEntry, CacheInfo
from .manifest import (
    Corrupt,
    Manifest,
    ManifestFile,
    check_key,
    manifest_to_json,
    parse_manifest,
    unsafe_path_reason,
)
from .restore import CacheMiss, place_file, restore_files, within

__all__ = [
    "BLOB_GRACE_SECONDS",
    "Cache",
    "CacheEntry",
    "CacheInfo",
    "CacheMiss",
    "Manifest",
    "ManifestFile",
    "unsafe_path_reason",
]

_MANIFEST_MODE = 0o644


class Cache:
    """A local content-addressed cache of build outputs; see the module docstring.

    Thread-safe: the engine may look up, restore and store from several
    worker threads at once.
    """

    def __init__(
        self, directory: Path, *, max_size: int | None = None, fsync: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.max_size = max_size
        self.blobs = BlobStore(self.directory, fsync=fsync)
        self.warnings: list[str] = []
        self._warn_lock = threading.Lock()
        self._store_disabled = False
        self.usable = True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.usable = False
            self._warn(f"cache directory {self.directory} is unusable ({exc}); caching is off")

    @property
    def fsync(self) -> bool:
        """Whether blobs are fsynced before they are renamed: durability at a price."""
        return self.blobs.fsync

    @fsync.setter
    def fsync(self, value: bool) -> None:
        self.blobs.fsync = value

    # -- helpers -------------------------------------------------------------

    def _warn(self, message: str) -> None:
        with self._warn_lock:
            self.warnings.append(f"cache: {message}")

    def take_warnings(self) -> list[str]:
        """The warnings collected so far, removing them (for reporting per build)."""
        with self._warn_lock:
            taken, self.warnings[:] = list(self.warnings), []
        return taken

    def blob_path(self, sha256: str) -> Path:
        return self.blobs.path(sha256)

    # One Path built from a string, not three joins: thousands per run.
    def manifest_path(self, key: str) -> Path:
        return Path(f"{self.directory}/manifests/{key[:2]}/{key}.json")

    def _discard_manifest(self, key: str, reason: str, ino: int | None = None) -> None:
        """Warn and evict the manifest of `key` (only the file we read, if `ino` is given)."""
        self._warn(f"entry {key[:16]} is unusable ({reason}); evicted it, treating as a miss")
        path = self.manifest_path(key)
        with contextlib.suppress(OSError):
            if ino is None or path.lstat().st_ino == ino:
                path.unlink()

    # -- lookup --------------------------------------------------------------

    def lookup(self, key: str, *, verify: bool = True) -> Manifest | None:
        """The manifest stored for `key`, or None on a miss.

        A manifest that is damaged, or lists a blob that is missing, of the
        wrong size or (with `verify`, the default) of the wrong content, is
        reported, evicted and treated as a miss. `verify=False` checks blobs
        by size only, which avoids reading every blob on every hit; it stays
        safe because `restore` verifies each blob it copies.
        """
        check_key(key)
        if not self.usable:
            return None
        path = self.manifest_path(key)
        try:
            with path.open("rb") as fh:
                ino = os.fstat(fh.fileno()).st_ino
                raw = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn(f"cannot read entry {key[:16]} ({exc}); treating as a miss")
            return None
        try:
            manifest = parse_manifest(raw.decode("utf-8"), key)
        except (Corrupt, UnicodeDecodeError) as exc:
            self._discard_manifest(key, f"corrupt manifest: {exc}", ino)
            return None
        blobs: list[tuple[str, int | None]] = [
            (f.sha256, f.size) for f in manifest.files if f.symlink is None
        ]
        # The log is checked when it is copied (copy_log); a hit does not need it.
        if manifest.log_blob is not None and verify:
            blobs.append((manifest.log_blob, None))
        for sha, size in blobs:
            problem = self.blobs.verify(sha, size, content=verify)
            if problem is not None:
                self._discard_manifest(key, problem, ino)
                return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last used, for LRU eviction
        return manifest

    # -- restore -------------------------------------------------------------

    def restore(self, manifest: Manifest, root: Path, *, memo: StatMemo | None = None) -> list[str]:
        """Put the manifest's files into `root` where missing or different.

        Returns the relative paths written (or whose mode was fixed). Raises
        `CacheMiss` if the entry can't be restored; see `restore.py`.
        A `memo` makes comparing already-present outputs cheap.
        """
        return restore_files(
            manifest,
            root,
            self.blobs,
            memo,
            evict=functools.partial(self._discard_manifest, manifest.key),
            warn=self._warn,
        )

    # -- store ---------------------------------------------------------------

    def store(
        self,
        key: str,
        root: Path,
        files: Sequence[str],
        log_path: Path | None,
        meta: Mapping[str, str],
    ) -> Manifest | None:
        """Store `files` (relative to `root`; directories are walked) and the log under `key`.

        Returns the manifest written, or None (with a warning) if anything
        went wrong: never raises for cache or file trouble.
        """
        check_key(key)
        if not self.usable or self._store_disabled:
            return None
        root_real = os.path.realpath(root)
        try:
            entries = _collect(root_real, files)
            listed: list[ManifestFile] = []
            for rel, path, st in entries:
                if stat.S_ISLNK(st.st_mode):
                    try:
                        target = os.readlink(path)  # noqa: PTH115
                    except OSError as exc:
                        raise SourceError(f"{rel}: {exc}") from None
                    listed.append(
                        ManifestFile(
                            rel, link_digest(target), len(os.fsencode(target)), 0o777, target
                        )
                    )
                else:
                    sha, size, mode = self.blobs.put(path, rel)
                    listed.append(ManifestFile(rel, sha, size, mode, None))
            log_blob = None
            if log_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    log_blob = self.blobs.put(str(log_path), "the log")[0]
            manifest = Manifest(key, tuple(listed), log_blob, time.time(), dict(meta))
            self._write_manifest(manifest)
        except SourceError as exc:
            self._warn(f"not storing entry {key[:16]}: {exc}")
            return None
        except OSError as exc:
            self._store_disabled = True
            self._warn(
                f"cannot write to {self.directory} ({exc}); not storing anything more in this run"
            )
            return None
        return manifest

    def _write_manifest(self, manifest: Manifest) -> None:
        from .._files import write_atomic

        path = self.manifest_path(manifest.key)
        write_atomic(path, manifest_to_json(manifest))
        with contextlib.suppress(OSError):  # write_atomic's mkstemp makes it 0600
            path.chmod(_MANIFEST_MODE)

    # -- logs ----------------------------------------------------------------

    def log_path_for(self, manifest: Manifest) -> Path | None:
        """Where the entry's log blob lies (unverified; prefer `read_log`/`copy_log`)."""
        return None if manifest.log_blob is None else self.blob_path(manifest.log_blob)

    def read_log(self, manifest: Manifest) -> bytes | None:
        """The original run's log, verified against its hash; None if absent or bad."""
        if manifest.log_blob is None or not self.usable:
            return None
        sha = manifest.log_blob
        try:
            data = self.blob_path(sha).read_bytes()
        except OSError as exc:
            self._discard_manifest(manifest.key, f"log blob unreadable ({exc})")
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            self.blobs.discard(sha)
            self._discard_manifest(manifest.key, f"log blob {sha[:16]} does not match its hash")
            return None
        return data

    def copy_log(self, manifest: Manifest, dest: Path) -> bool:
        """Copy the original run's log to `dest` (verified, atomically, streamed)."""
        if manifest.log_blob is None or not self.usable:
            return False
        size = self.blobs.size_or(manifest.log_blob, 0)
        log = ManifestFile("log", manifest.log_blob, size, 0o644)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            place_file(self.blobs, str(dest), log)
        except Corrupt as exc:
            self.blobs.discard(manifest.log_blob)
            self._discard_manifest(manifest.key, str(exc))
            return False
        except OSError as exc:
            self._warn(f"cannot copy the cached log to {dest} ({exc})")
            return False
        return True

    # -- housekeeping --------------------------------------------------------

    def entries(self) -> Iterator[CacheEntry]:
        """(key, size, last_used) of each entry, in no particular order."""
        if not self.usable:
            return
        yield from housekeeping.entries(self.directory, self.blobs)

    def info(self) -> CacheInfo:
        """Entry count and bytes on disk (blobs, manifests, and temporary files)."""
        if not self.usable:
            return CacheInfo(self.directory, 0, 0)
        return housekeeping.info(self.directory)

    def clean(self) -> None:
        """Empty the cache (waits for a running eviction or clean)."""
        if not self.usable:
            return
        try:
            housekeeping.clean(self.directory)
        except OSError as exc:
            self._warn(f"cannot clean {self.directory} ({exc})")

    def trim(self) -> int:
        """`evict(max_size)` if the cache has a `max_size`; call once per run, at its end."""
        return 0 if self.max_size is None else self.evict(self.max_size)

    def evict(self, max_size: int, *, grace: float = BLOB_GRACE_SECONDS) -> int:
        """Remove least recently used entries, then unreferenced blobs, until under max_size.

        Returns the number of entries removed. Skips (returning 0) if another
        process is evicting. Unreferenced blobs and temporary files younger
        than `grace` seconds are kept: a concurrent store may be about to
        reference them.
        """
        if not self.usable:
            return 0
        try:
            return housekeeping.evict(self.directory, max_size, grace)
        except OSError as exc:
            self._warn(f"cannot evict from {self.directory} ({exc})")
            return 0


def _collect(root_real: str, files: Sequence[str]) -> list[tuple[str, str, os.stat_result]]:
    """(rel, real path, lstat) of each file to store; directories are walked, links kept."""
    out: dict[str, tuple[str, os.stat_result]] = {}

    def add(rel: str) -> None:
        reason = unsafe_path_reason(rel)
        if reason is not None:
            raise SourceError(f"{rel!r} is not a path inside the project ({reason})")
        head, _, name = rel.rpartition("/")
        parent = os.path.realpath(os.path.join(root_real, head)) if head else root_real  # noqa: PTH118
        if not within(parent, root_real):
            raise SourceError(f"{rel!r} lies outside the project through a symlink")
        path = os.path.join(parent, name)  # noqa: PTH118
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise SourceError(f"{rel}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            try:
                names = sorted(child.name for child in Path(path).iterdir())
            except OSError as exc:
                raise SourceError(f"{rel}: {exc.strerror or exc}") from None
            for child in names:
                add(f"{rel}/{child}")
        elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            out[rel] = (path, st)
        else:
            raise SourceError(f"{rel}: not a regular file, symlink or directory")

    for rel in files:
        add(rel)
    return [(rel, path, st) for rel, (path, st) in sorted(out.items())]
