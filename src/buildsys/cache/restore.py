"""Restoring an entry into the project: path checks, verified copies, atomic replace.

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
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .blobs import BlobStore
from .hashing import StatMemo
from .manifest import Corrupt, Manifest, ManifestFile, unsafe_path_reason

__all__ = ["CacheMiss", "place_file", "restore_files", "within"]

_CHUNK = 1024 * 1024


class CacheMiss(Exception):
    """A restore could not be completed; run the build instead. `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def within(path: str, root: str) -> bool:
    return path == root or os.path.commonpath([path, root]) == root


def restore_files(
    manifest: Manifest,
    root: Path,
    blobs: BlobStore,
    memo: StatMemo | None,
    *,
    evict: Callable[[str], None],
    warn: Callable[[str], None],
) -> list[str]:
    """Put the manifest's files into `root` where missing or different; the paths written.

    `evict(reason)` evicts the manifest, `warn` reports project-side trouble;
    either way `CacheMiss` is raised.
    """
    for f in manifest.files:
        reason = unsafe_path_reason(f.path)
        if reason is not None:
            evict(f"unsafe path {f.path!r} ({reason})")
            raise CacheMiss(f"unsafe path {f.path!r} in the cache entry")
    root_real = os.path.realpath(root)
    written: list[str] = []
    for f in manifest.files:
        try:
            parent = _safe_parent(root_real, f.path)
        except Corrupt as exc:
            evict(str(exc))
            raise CacheMiss(str(exc)) from None
        except OSError as exc:
            warn(f"cannot restore {f.path} ({exc}); running the build")
            raise CacheMiss(f"cannot restore {f.path}: {exc}") from None
        dest = os.path.join(parent, f.path.rpartition("/")[2])  # noqa: PTH118
        try:
            if f.symlink is not None:
                if not _link_matches(dest, f.symlink):
                    _place_symlink(dest, f.symlink)
                    written.append(f.path)
                continue
            state = _file_state(dest, f, root, memo)
            if state == "same":
                continue
            if state == "mode":
                os.chmod(dest, f.mode & 0o777)  # noqa: PTH101
            else:
                place_file(blobs, dest, f)
            written.append(f.path)
        except Corrupt as exc:
            blobs.discard(f.sha256)
            evict(str(exc))
            raise CacheMiss(str(exc)) from None
        except OSError as exc:
            warn(f"cannot restore {f.path} ({exc}); running the build")
            raise CacheMiss(f"cannot restore {f.path}: {exc}") from None
    return written


def _safe_parent(root_real: str, rel: str) -> str:
    """The real path of `rel`'s parent directory, created as needed, inside `root_real`.

    Raises Corrupt if it would lie outside (through a symlink), OSError
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
            if not within(step, root_real):
                raise Corrupt(f"{rel!r} leads outside the project through a symlink")
            if not os.path.isdir(step):  # noqa: PTH112
                raise NotADirectoryError(f"{step} is not a directory")
        elif not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(f"{step} is not a directory")
        current = step
    return current


def _link_matches(dest: str, target: str) -> bool:
    try:
        return os.readlink(dest) == target  # noqa: PTH115
    except OSError:
        return False


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


def place_file(blobs: BlobStore, dest: str, f: ManifestFile) -> None:
    """Copy the blob beside `dest`, verifying it, then rename it into place."""
    try:
        src = blobs.path(f.sha256).open("rb")
    except FileNotFoundError:
        raise Corrupt(f"blob {f.sha256[:16]} of {f.path} is missing") from None
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
                    raise Corrupt(f"blob {f.sha256[:16]} of {f.path} does not match its hash")
                os.fchmod(out.fileno(), f.mode & 0o777)
            Path(tmp).replace(dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # noqa: PTH108
            raise


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
