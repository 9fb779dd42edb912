"""The note a build's log gets when a replay serves it, as serving from the cache writes.

A build that ran in a recorded run has its own output in its log; the first
replay after it does what serving from the cache does: keeps that log beside
the new one (`NAME.cached.log`) and writes the note that names it. The note
is prepared when the journal is recorded (`journal.py`), and put in place by
`replay.py`, which imports this module only then.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["clear", "keep_log", "prepare_note", "same_content", "staging_dir"]

Note = tuple[str, str, str | None, bool, str | None]


def staging_dir(root: Path) -> Path:
    return root / ".buildsys" / "replay-notes"


def clear(directory: Path) -> None:
    """Remove the notes an earlier journal staged; none of them is current any more."""
    try:
        names = os.listdir(directory)  # noqa: PTH208
    except OSError:
        return
    import contextlib

    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))  # noqa: PTH108, PTH118


def prepare_note(staged: Path, note: str, original: str, blob: str | None, movable: bool) -> Note:
    """The first replay's work for a build that ran: what to write, where, and from
    what (note, original log, its blob, whether moving the log is the copy, staged file).

    The note's file is written now, in the cold run, beside the journal: a
    file created costs far more than one renamed, and the first replay after
    a cold build would otherwise create one per build.
    """
    try:
        staged.parent.mkdir(exist_ok=True)
        staged.write_text(note, encoding="utf-8")
    except OSError:
        return (note, original, blob, movable, None)
    return (note, original, blob, movable, str(staged))


def same_content(path: Path, sha256: str) -> bool:
    import hashlib

    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == sha256
    except OSError:
        return False


def keep_log(log: str, prepared: Note, *, unchanged: bool) -> None:
    """Keep a build's original log beside a note, as serving from the cache does.
    `unchanged`: the log is as the recorded run left it. Raises ValueError if
    the log's blob is damaged."""
    note, original, blob, movable, staged = prepared
    if movable and unchanged:
        os.replace(log, original)  # noqa: PTH105 - the log is still what was stored
    elif blob is not None:
        _copy_verified(blob, original)
    try:
        if staged is None:
            raise FileNotFoundError(staged)
        os.replace(staged, log)  # noqa: PTH105
    except OSError:
        with open(log, "w", encoding="utf-8") as fh:  # noqa: PTH123
            fh.write(note)


def _copy_verified(blob: str, dest: str) -> None:
    """Copy a log blob beside the new log, checking it against its name (its sha256)."""
    import hashlib

    with open(blob, "rb") as fh:  # noqa: PTH123
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != os.path.basename(blob):  # noqa: PTH119
        raise ValueError(f"{blob}: not the content its name says")
    # The project lock is held: no other buildsys writes here meanwhile.
    partial = f"{dest}.{os.getpid()}.partial"
    with open(partial, "wb") as fh:  # noqa: PTH123
        fh.write(data)
    os.replace(partial, dest)  # noqa: PTH105
