"""Reading the end of a log without reading the whole file."""

from __future__ import annotations

import os
from pathlib import Path

from ..host.output import DISPLAY_LINE_LIMIT

__all__ = ["read_tail"]

_BLOCK = 64 * 1024
_MAX_SCAN = 4 * 1024 * 1024


def read_tail(path: str | os.PathLike[str] | None, lines: int = 20) -> list[str]:
    """The last `lines` lines of a log, decoded for display, each capped at 64 KiB."""
    if path is None:
        return []
    try:
        with Path(path).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            data = b""
            pos = end
            while pos > 0 and data.count(b"\n") <= lines and end - pos < _MAX_SCAN:
                step = min(_BLOCK, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError:
        return []
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    if pos > 0 and chunks:
        chunks = chunks[1:]  # the first is probably a partial line
    out: list[str] = []
    for chunk in chunks[-lines:]:
        chunk = chunk.removesuffix(b"\r")
        if len(chunk) > DISPLAY_LINE_LIMIT:
            cut = len(chunk) - DISPLAY_LINE_LIMIT
            chunk = chunk[:DISPLAY_LINE_LIMIT] + f" [... {cut} bytes cut]".encode()
        out.append(chunk.decode("utf-8", "replace"))
    return out
