"""Blobs: file contents named by their sha256, written once and verified as they are read.

A blob appears by renaming a complete temporary file (a dotfile) from its own
directory, mode 0444, so a reader sees all of it or none. Two processes
writing one blob write the same bytes, so whichever rename lands last changes
nothing. A blob is reused only after it hashed to its name: a damaged one of
the right size is replaced, never listed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["BlobStore", "SourceError"]

_CHUNK = 1024 * 1024
_SMALL = 1024 * 1024  # files up to this size are read once, into memory, when stored
_BLOB_MODE = 0o444
_TMP = ".tmp-"  # every dotfile under blobs/ and manifests/ is a temporary file
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class SourceError(Exception):
    """A file to be stored could not be read or changed meanwhile (not the cache's fault)."""


class BlobStore:
    """The `blobs/` directory of one cache."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = directory
        self.fsync = fsync  # fsync blobs before renaming them: durability at a price

    # One Path built from a string, not three joins: thousands per run.
    def path(self, sha256: str) -> Path:
        return Path(f"{self.directory}/blobs/{sha256[:2]}/{sha256}")

    def discard(self, sha256: str) -> None:
        with contextlib.suppress(OSError):
            self.path(sha256).unlink()

    def size_or(self, sha256: str, default: int) -> int:
        try:
            return self.path(sha256).stat().st_size
        except OSError:
            return default

    def verify(self, sha256: str, size: int | None, *, content: bool) -> str | None:
        """Why the blob is unusable, or None if it is fine. A blob found bad is deleted."""
        path = self.path(sha256)
        try:
            st = path.stat()
            if size is not None and st.st_size != size:
                self.discard(sha256)
                return f"blob {sha256[:16]} is truncated or grown"
            if content:
                with path.open("rb") as fh:
                    if hashlib.file_digest(fh, "sha256").hexdigest() != sha256:
                        self.discard(sha256)
                        return f"blob {sha256[:16]} does not match its hash"
        except FileNotFoundError:
            return f"blob {sha256[:16]} is missing"
        except OSError as exc:
            return f"blob {sha256[:16]} is unreadable ({exc})"
        return None

    def put(self, path: str, label: str) -> tuple[str, int, int]:
        """Store one file as a blob (write-once); its sha256, size and permission bits.

        OSErrors reading the source become SourceError (FileNotFoundError
        stays itself for the log); OSErrors writing the cache propagate.
        """
        try:
            fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
        except FileNotFoundError:
            if label == "the log":
                raise
            raise SourceError(f"{label}: vanished") from None
        except OSError as exc:
            raise SourceError(f"{label}: {exc}") from None
        with os.fdopen(fd, "rb") as src:
            try:
                st = os.fstat(src.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise SourceError(f"{label}: not a regular file")
                data: bytes | None = None
                if st.st_size <= _SMALL:
                    data = src.read()
                    sha = hashlib.sha256(data).hexdigest()
                else:
                    sha = hashlib.file_digest(src, "sha256").hexdigest()
            except OSError as exc:
                raise SourceError(f"{label}: {exc}") from None
            size = len(data) if data is not None else st.st_size
            mode = stat.S_IMODE(st.st_mode) & 0o777
            blob = self.path(sha)
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
                            raise SourceError(f"{label}: {exc}") from None
                        if h.hexdigest() != sha:
                            raise SourceError(f"{label} changed while being stored")
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


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
