"""Writing files so that a reader never sees half of one: a temporary file, then a rename."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_writable", "write_atomic"]


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write via a temporary file and a rename, in the same directory (str as UTF-8).

    The file gets the mode any new file gets (0666 less the umask), as a CI
    step running as another user may need to read a report: mkstemp's 0600
    would carry over through the rename. (And tempfile costs milliseconds to
    import, shutil and random with it.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(path: Path) -> None:
    """Raise OSError now if a report could not be written to `path` later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    fd, tmp = _temp_beside(path)
    os.close(fd)
    tmp.unlink()


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new file beside `path`, open for writing, with the umask's mode."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}"
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
