"""The build cache's storage: content-addressed blobs and one manifest per key.

Layout, under the cache directory (`.buildsys/cache`, or a `cache-dir` shared
between projects and users)::

    blobs/<aa>/<sha256>          file contents, named by their hash, mode 0444
    manifests/<aa>/<key>.json    what a key restores: paths, hashes, modes, links, log
    lock                         taken by eviction and clean only

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

"Last used" is the manifest's mtime: `lookup` touches it, eviction removes the
least recently used manifests first, then the blobs no manifest references.

Restore failure is an exception, `CacheMiss`: the engine catches it and runs
the build. It is raised for a blob that is missing or doesn't hash to its
name (that blob and the manifest are evicted), for a manifest path that would
write outside the project (the manifest is evicted), and for any OSError while
writing into the project (nothing is evicted). Each file is written to a
temporary file beside its destination and renamed into place only after its
content matched the hash, so an interrupted or failed restore leaves complete,
verified files or the previous ones, never a partial or unverified file.
Paths are checked twice: the manifest's text (no absolute paths, no `..` or
empty components, no path nested under another entry) when it is loaded, and
each destination's parent directory, resolved with `realpath`, against the
project's real path while restoring. A destination that is itself a symlink
is replaced (rename replaces the link), never written through. Restored modes
keep the permission bits only (no setuid/setgid from a shared cache).

Cache trouble never fails a build: an unusable directory, a full disk or a
read-only cache turns into `warnings` and misses. After the first failure to
write into the cache, further stores of this `Cache` are skipped, so a full
disk yields one warning, not one per build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import attrs

from .hashing import StatMemo, link_digest

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

BLOB_GRACE_SECONDS = 600.0
_FORMAT = "buildsys-cache-manifest"
_VERSION = 1
_KEY = re.compile(r"[0-9a-f]{16,128}")
_SHA = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
_SMALL = 1024 * 1024  # files up to this size are read once, into memory, when stored
_BLOB_MODE = 0o444
_MANIFEST_MODE = 0o644
_TMP = ".tmp-"  # every dotfile under blobs/ and manifests/ is a temporary file
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class CacheMiss(Exception):
    """A restore could not be completed; run the build instead. `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class ManifestFile:
    path: str  # relative POSIX path
    sha256: str  # of the content; for a symlink, hashing.link_digest(symlink)
    size: int  # bytes; for a symlink, of the link text
    mode: int  # permission bits (0o777 for a symlink)
    symlink: str | None = None  # the link text, for a symlink


@attrs.frozen
class Manifest:
    key: str
    files: tuple[ManifestFile, ...]
    log_blob: str | None  # sha256 of the stored log
    created: float  # time.time() of the store
    meta: Mapping[str, str]


@attrs.frozen
class CacheInfo:
    directory: Path
    entries: int
    size: int  # bytes of blobs and manifests


class CacheEntry(NamedTuple):
    key: str
    size: int  # bytes of the manifest plus the content it lists
    last_used: float


class _Corrupt(Exception):
    pass


class _SourceError(Exception):
    """A file to be stored could not be read or changed meanwhile (not the cache's fault)."""


def unsafe_path_reason(rel: str) -> str | None:
    """Why `rel` is not a safe relative POSIX path inside a project, or None if it is."""
    if not isinstance(rel, str) or not rel:
        return "empty path"
    if "\0" in rel:
        return "NUL in path"
    if rel.startswith("/"):
        return "absolute path"
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return f"{part or 'empty'!r} component"
    return None


def _within(path: str, root: str) -> bool:
    return path == root or os.path.commonpath([path, root]) == root


def _manifest_to_json(manifest: Manifest) -> str:
    return json.dumps(
        {
            "format": _FORMAT,
            "version": _VERSION,
            "key": manifest.key,
            "created": manifest.created,
            "log": manifest.log_blob,
            "meta": dict(manifest.meta),
            "files": [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": f.size,
                    "mode": f.mode,
                    "symlink": f.symlink,
                }
                for f in manifest.files
            ],
        },
        separators=(",", ":"),
    )


def _parse_file(raw: Any) -> ManifestFile:
    if not isinstance(raw, dict):
        raise _Corrupt("a file entry is not an object")
    path, sha, size, mode, link = (
        raw.get("path"),
        raw.get("sha256"),
        raw.get("size"),
        raw.get("mode"),
        raw.get("symlink"),
    )
    if not isinstance(path, str):
        raise _Corrupt("a file entry has no path")
    reason = unsafe_path_reason(path)
    if reason is not None:
        raise _Corrupt(f"unsafe path {path!r} ({reason})")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise _Corrupt(f"bad sha256 for {path!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _Corrupt(f"bad size for {path!r}")
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise _Corrupt(f"bad mode for {path!r}")
    if link is not None and (
        not isinstance(link, str) or not link or "\0" in link or link_digest(link) != sha
    ):
        raise _Corrupt(f"bad symlink for {path!r}")
    return ManifestFile(path, sha, size, mode, link)


def _parse_manifest(text: str, key: str) -> Manifest:
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError
        raise _Corrupt(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _Corrupt("not a JSON object")
    if data.get("format") != _FORMAT or data.get("version") != _VERSION:
        raise _Corrupt("unknown format or version")
    if data.get("key") != key:
        raise _Corrupt("written for another key")
    created, log, meta, files = (
        data.get("created"),
        data.get("log"),
        data.get("meta"),
        data.get("files"),
    )
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise _Corrupt("bad created time")
    if log is not None and (not isinstance(log, str) or not _SHA.fullmatch(log)):
        raise _Corrupt("bad log hash")
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise _Corrupt("bad meta")
    if not isinstance(files, list):
        raise _Corrupt("bad file list")
    parsed = tuple(_parse_file(raw) for raw in files)
    paths = {f.path for f in parsed}
    if len(paths) != len(parsed):
        raise _Corrupt("a path is listed twice")
    for f in parsed:
        parts = f.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in paths:
                raise _Corrupt(f"{f.path!r} is nested under another listed file")
    return Manifest(key, parsed, log, float(created), dict(meta))


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"cache key must be 16-128 lowercase hex digits, not {key!r}")


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
        self.fsync = fsync  # fsync blobs before renaming them: durability at a price
        self.warnings: list[str] = []
        self._warn_lock = threading.Lock()
        self._store_disabled = False
        self.usable = True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.usable = False
            self._warn(f"cache directory {self.directory} is unusable ({exc}); caching is off")

    # -- helpers -------------------------------------------------------------

    def _warn(self, message: str) -> None:
        with self._warn_lock:
            self.warnings.append(f"cache: {message}")

    def take_warnings(self) -> list[str]:
        """The warnings collected so far, removing them (for reporting per build)."""
        with self._warn_lock:
            taken, self.warnings[:] = list(self.warnings), []
        return taken

    # One Path built from a string, not three joins: thousands per run.
    def blob_path(self, sha256: str) -> Path:
        return Path(f"{self.directory}/blobs/{sha256[:2]}/{sha256}")

    def manifest_path(self, key: str) -> Path:
        return Path(f"{self.directory}/manifests/{key[:2]}/{key}.json")

    def _discard_manifest(self, key: str, reason: str, ino: int | None = None) -> None:
        """Warn and evict the manifest of `key` (only the file we read, if `ino` is given)."""
        self._warn(f"entry {key[:16]} is unusable ({reason}); evicted it, treating as a miss")
        path = self.manifest_path(key)
        with contextlib.suppress(OSError):
            if ino is None or path.lstat().st_ino == ino:
                path.unlink()

    def _discard_blob(self, sha256: str) -> None:
        with contextlib.suppress(OSError):
            self.blob_path(sha256).unlink()

    def _verify_blob(self, sha256: str, size: int | None, *, content: bool) -> str | None:
        """Why the blob is unusable, or None if it is fine. A blob found bad is deleted."""
        path = self.blob_path(sha256)
        try:
            st = path.stat()
            if size is not None and st.st_size != size:
                self._discard_blob(sha256)
                return f"blob {sha256[:16]} is truncated or grown"
            if content:
                with path.open("rb") as fh:
                    if hashlib.file_digest(fh, "sha256").hexdigest() != sha256:
                        self._discard_blob(sha256)
                        return f"blob {sha256[:16]} does not match its hash"
        except FileNotFoundError:
            return f"blob {sha256[:16]} is missing"
        except OSError as exc:
            return f"blob {sha256[:16]} is unreadable ({exc})"
        return None

    # -- lookup --------------------------------------------------------------

    def lookup(self, key: str, *, verify: bool = True) -> Manifest | None:
        """The manifest stored for `key`, or None on a miss.

        A manifest that is damaged, or lists a blob that is missing, of the
        wrong size or (with `verify`, the default) of the wrong content, is
        reported, evicted and treated as a miss. `verify=False` checks blobs
        by size only, which avoids reading every blob on every hit; it stays
        safe because `restore` verifies each blob it copies.
        """
        _check_key(key)
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
            manifest = _parse_manifest(raw.decode("utf-8"), key)
        except (_Corrupt, UnicodeDecodeError) as exc:
            self._discard_manifest(key, f"corrupt manifest: {exc}", ino)
            return None
        blobs: list[tuple[str, int | None]] = [
            (f.sha256, f.size) for f in manifest.files if f.symlink is None
        ]
        # The log is checked when it is copied (copy_log); a hit does not need it.
        if manifest.log_blob is not None and verify:
            blobs.append((manifest.log_blob, None))
        for sha, size in blobs:
            problem = self._verify_blob(sha, size, content=verify)
            if problem is not None:
                self._discard_manifest(key, problem, ino)
                return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last used, for LRU eviction
        return manifest

    def _size_or(self, sha256: str, default: int) -> int:
        try:
            return self.blob_path(sha256).stat().st_size
        except OSError:
            return default

    # -- restore -------------------------------------------------------------

    def restore(self, manifest: Manifest, root: Path, *, memo: StatMemo | None = None) -> list[str]:
        """Put the manifest's files into `root` where missing or different.

        Returns the relative paths written (or whose mode was fixed). Raises
        `CacheMiss` if the entry can't be restored; see the module docstring.
        A `memo` makes comparing already-present outputs cheap.
        """
        for f in manifest.files:
            reason = unsafe_path_reason(f.path)
            if reason is not None:
                self._discard_manifest(manifest.key, f"unsafe path {f.path!r} ({reason})")
                raise CacheMiss(f"unsafe path {f.path!r} in the cache entry")
        root_real = os.path.realpath(root)
        written: list[str] = []
        for f in manifest.files:
            try:
                parent = self._safe_parent(root_real, f.path)
            except _Corrupt as exc:
                self._discard_manifest(manifest.key, str(exc))
                raise CacheMiss(str(exc)) from None
            except OSError as exc:
                self._warn(f"cannot restore {f.path} ({exc}); running the build")
                raise CacheMiss(f"cannot restore {f.path}: {exc}") from None
            dest = os.path.join(parent, f.path.rpartition("/")[2])  # noqa: PTH118
            try:
                if f.symlink is not None:
                    if not self._link_matches(dest, f.symlink):
                        _place_symlink(dest, f.symlink)
                        written.append(f.path)
                    continue
                state = self._file_state(dest, f, root, memo)
                if state == "same":
                    continue
                if state == "mode":
                    os.chmod(dest, f.mode & 0o777)  # noqa: PTH101
                else:
                    self._place_file(dest, f)
                written.append(f.path)
            except _Corrupt as exc:
                self._discard_blob(f.sha256)
                self._discard_manifest(manifest.key, str(exc))
                raise CacheMiss(str(exc)) from None
            except OSError as exc:
                self._warn(f"cannot restore {f.path} ({exc}); running the build")
                raise CacheMiss(f"cannot restore {f.path}: {exc}") from None
        return written

    @staticmethod
    def _safe_parent(root_real: str, rel: str) -> str:
        """The real path of `rel`'s parent directory, created as needed, inside `root_real`.

        Raises _Corrupt if it would lie outside (through a symlink), OSError
        if a non-directory is in the way.
        """
        current = root_real
        for name in rel.split("/")[:-1]:
            step = os.path.join(current, name)  # noqa: PTH118
            try:
                st = os.lstat(step)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(step)  # noqa: PTH102
                st = os.lstat(step)
            if stat.S_ISLNK(st.st_mode):
                step = os.path.realpath(step)
                if not _within(step, root_real):
                    raise _Corrupt(f"{rel!r} leads outside the project through a symlink")
                if not os.path.isdir(step):  # noqa: PTH112
                    raise NotADirectoryError(f"{step} is not a directory")
            elif not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(f"{step} is not a directory")
            current = step
        return current

    @staticmethod
    def _link_matches(dest: str, target: str) -> bool:
        try:
            return os.readlink(dest) == target  # noqa: PTH115
        except OSError:
            return False

    @staticmethod
    def _file_state(dest: str, f: ManifestFile, root: Path, memo: StatMemo | None) -> str:
        """ "same", "mode" (content right, permissions wrong) or "differs"."""
        try:
            st = os.lstat(dest)
            if not stat.S_ISREG(st.st_mode) or st.st_size != f.size:
                return "differs"
            if memo is not None:
                digest = memo.digest(root, f.path)
            else:
                with Path(dest).open("rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return "differs"
        if digest != f.sha256:
            return "differs"
        return "same" if stat.S_IMODE(st.st_mode) == f.mode & 0o777 else "mode"

    def _place_file(self, dest: str, f: ManifestFile) -> None:
        """Copy the blob beside `dest`, verifying it, then rename it into place."""
        try:
            src = self.blob_path(f.sha256).open("rb")
        except FileNotFoundError:
            raise _Corrupt(f"blob {f.sha256[:16]} of {f.path} is missing") from None
        with src:
            fd, tmp = tempfile.mkstemp(prefix=".buildsys-restore-", dir=Path(dest).parent)
            try:
                h = hashlib.sha256()
                size = 0
                with os.fdopen(fd, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    if size != f.size or h.hexdigest() != f.sha256:
                        raise _Corrupt(f"blob {f.sha256[:16]} of {f.path} does not match its hash")
                    os.fchmod(out.fileno(), f.mode & 0o777)
                Path(tmp).replace(dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)  # noqa: PTH108
                raise

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
        _check_key(key)
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
                        raise _SourceError(f"{rel}: {exc}") from None
                    listed.append(
                        ManifestFile(
                            rel, link_digest(target), len(os.fsencode(target)), 0o777, target
                        )
                    )
                else:
                    sha, size, mode = self._put_blob(path, rel)
                    listed.append(ManifestFile(rel, sha, size, mode, None))
            log_blob = None
            if log_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    log_blob = self._put_blob(str(log_path), "the log")[0]
            manifest = Manifest(key, tuple(listed), log_blob, time.time(), dict(meta))
            self._write_manifest(manifest)
        except _SourceError as exc:
            self._warn(f"not storing entry {key[:16]}: {exc}")
            return None
        except OSError as exc:
            self._store_disabled = True
            self._warn(
                f"cannot write to {self.directory} ({exc}); not storing anything more in this run"
            )
            return None
        return manifest

    def _put_blob(self, path: str, label: str) -> tuple[str, int, int]:
        """Store one file as a blob (write-once); its sha256, size and permission bits.

        OSErrors reading the source become _SourceError (FileNotFoundError
        stays itself for the log); OSErrors writing the cache propagate.
        """
        try:
            fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
        except FileNotFoundError:
            if label == "the log":
                raise
            raise _SourceError(f"{label}: vanished") from None
        except OSError as exc:
            raise _SourceError(f"{label}: {exc}") from None
        with os.fdopen(fd, "rb") as src:
            try:
                st = os.fstat(src.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise _SourceError(f"{label}: not a regular file")
                data: bytes | None = None
                if st.st_size <= _SMALL:
                    data = src.read()
                    sha = hashlib.sha256(data).hexdigest()
                else:
                    sha = hashlib.file_digest(src, "sha256").hexdigest()
            except OSError as exc:
                raise _SourceError(f"{label}: {exc}") from None
            size = len(data) if data is not None else st.st_size
            mode = stat.S_IMODE(st.st_mode) & 0o777
            blob = self.blob_path(sha)
            try:
                # Reused only if sound: a damaged blob of the right size is replaced.
                if blob.stat().st_size == size and _file_sha256(blob) == sha:
                    with contextlib.suppress(OSError):
                        os.utime(blob)  # keep it out of eviction's grace-period sweep
                    return sha, size, mode
            except FileNotFoundError:
                pass
            blob.parent.mkdir(parents=True, exist_ok=True)
            tfd, tmp = tempfile.mkstemp(prefix=_TMP, dir=blob.parent)
            try:
                with os.fdopen(tfd, "wb") as out:
                    if data is not None:
                        out.write(data)
                    else:
                        h = hashlib.sha256()
                        try:
                            src.seek(0)
                            copied = 0
                            while chunk := src.read(_CHUNK):
                                h.update(chunk)
                                copied += len(chunk)
                                out.write(chunk)
                        except OSError as exc:
                            raise _SourceError(f"{label}: {exc}") from None
                        if h.hexdigest() != sha:
                            raise _SourceError(f"{label} changed while being stored")
                        size = copied
                    if self.fsync:
                        out.flush()
                        os.fsync(out.fileno())
                    os.fchmod(out.fileno(), _BLOB_MODE)
                Path(tmp).replace(blob)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)  # noqa: PTH108
                raise
        return sha, size, mode

    def _write_manifest(self, manifest: Manifest) -> None:
        from .._files import write_atomic

        path = self.manifest_path(manifest.key)
        write_atomic(path, _manifest_to_json(manifest))
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
            self._discard_blob(sha)
            self._discard_manifest(manifest.key, f"log blob {sha[:16]} does not match its hash")
            return None
        return data

    def copy_log(self, manifest: Manifest, dest: Path) -> bool:
        """Copy the original run's log to `dest` (verified, atomically, streamed)."""
        if manifest.log_blob is None or not self.usable:
            return False
        log = ManifestFile("log", manifest.log_blob, self._size_or(manifest.log_blob, 0), 0o644)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._place_file(str(dest), log)
        except _Corrupt as exc:
            self._discard_blob(manifest.log_blob)
            self._discard_manifest(manifest.key, str(exc))
            return False
        except OSError as exc:
            self._warn(f"cannot copy the cached log to {dest} ({exc})")
            return False
        return True

    # -- housekeeping --------------------------------------------------------

    def _files(self, sub: str) -> Iterator[os.DirEntry[str]]:
        """Every file of blobs/ or manifests/ (temporary dotfiles included)."""
        try:
            fans = list(os.scandir(self.directory / sub))
        except OSError:
            return
        for fan in fans:
            if not fan.is_dir(follow_symlinks=False):
                continue
            try:
                yield from os.scandir(fan.path)
            except OSError:
                continue

    def entries(self) -> Iterator[CacheEntry]:
        """(key, size, last_used) of each entry, in no particular order."""
        if not self.usable:
            return
        for item in self._files("manifests"):
            if item.name.startswith(".") or not item.name.endswith(".json"):
                continue
            key = item.name[: -len(".json")]
            try:
                st = item.stat(follow_symlinks=False)
                manifest = _parse_manifest(Path(item.path).read_text("utf-8"), key)
            except (OSError, UnicodeDecodeError, _Corrupt):
                continue
            size = st.st_size + sum(f.size for f in manifest.files if f.symlink is None)
            if manifest.log_blob is not None:
                size += self._size_or(manifest.log_blob, 0)
            yield CacheEntry(key, size, st.st_mtime)

    def info(self) -> CacheInfo:
        """Entry count and bytes on disk (blobs, manifests, and temporary files)."""
        entries = size = 0
        if self.usable:
            for sub in ("manifests", "blobs"):
                for item in self._files(sub):
                    with contextlib.suppress(OSError):
                        size += item.stat(follow_symlinks=False).st_size
                        if sub == "manifests" and not item.name.startswith("."):
                            entries += 1
        return CacheInfo(self.directory, entries, size)

    @contextlib.contextmanager
    def _locked(self, *, blocking: bool) -> Iterator[bool]:
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o666)
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

    def clean(self) -> None:
        """Empty the cache (waits for a running eviction or clean)."""
        if not self.usable:
            return
        try:
            with self._locked(blocking=True):
                for item in list(os.scandir(self.directory)):
                    if item.name in ("manifests", "blobs") or item.name.startswith(".trash-"):
                        # Rename first: the tree disappears at once for concurrent readers.
                        trash = self.directory / f".trash-{secrets.token_hex(8)}"
                        if item.name.startswith(".trash-"):
                            trash = Path(item.path)
                        else:
                            os.rename(item.path, trash)  # noqa: PTH104
                        shutil.rmtree(trash, ignore_errors=True)
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
            with self._locked(blocking=False) as held:
                return self._evict(max_size, grace) if held else 0
        except OSError as exc:
            self._warn(f"cannot evict from {self.directory} ({exc})")
            return 0

    def _evict(self, max_size: int, grace: float) -> int:
        now = time.time()
        total = 0
        manifests: list[tuple[float, str, str, int, set[str]]] = []
        for item in self._files("manifests"):
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
                manifest = _parse_manifest(Path(item.path).read_text("utf-8"), key)
            except (OSError, UnicodeDecodeError, _Corrupt):
                with contextlib.suppress(OSError):
                    os.unlink(item.path)  # noqa: PTH108
                continue
            shas = {f.sha256 for f in manifest.files if f.symlink is None}
            if manifest.log_blob is not None:
                shas.add(manifest.log_blob)
            manifests.append((st.st_mtime, key, item.path, st.st_size, shas))
            total += st.st_size
        blobs: dict[str, tuple[str, int, float]] = {}
        for item in self._files("blobs"):
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


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _collect(root_real: str, files: Sequence[str]) -> list[tuple[str, str, os.stat_result]]:
    """(rel, real path, lstat) of each file to store; directories are walked, links kept."""
    out: dict[str, tuple[str, os.stat_result]] = {}

    def add(rel: str) -> None:
        reason = unsafe_path_reason(rel)
        if reason is not None:
            raise _SourceError(f"{rel!r} is not a path inside the project ({reason})")
        head, _, name = rel.rpartition("/")
        parent = os.path.realpath(os.path.join(root_real, head)) if head else root_real  # noqa: PTH118
        if not _within(parent, root_real):
            raise _SourceError(f"{rel!r} lies outside the project through a symlink")
        path = os.path.join(parent, name)  # noqa: PTH118
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise _SourceError(f"{rel}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            try:
                names = sorted(child.name for child in Path(path).iterdir())
            except OSError as exc:
                raise _SourceError(f"{rel}: {exc.strerror or exc}") from None
            for child in names:
                add(f"{rel}/{child}")
        elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            out[rel] = (path, st)
        else:
            raise _SourceError(f"{rel}: not a regular file, symlink or directory")

    for rel in files:
        add(rel)
    return [(rel, path, st) for rel, (path, st) in sorted(out.items())]


def _place_symlink(dest: str, target: str) -> None:
    """Create the link beside `dest` and rename it over whatever is there (never followed)."""
    head = dest.rpartition("/")[0]
    tmp = f"{head}/.buildsys-link-{secrets.token_hex(8)}"
    Path(tmp).symlink_to(target)
    try:
        Path(tmp).replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # noqa: PTH108
        raise
