"""Where a build's output goes: masked and appended to its log as it arrives.

Output is handled as bytes in chunks: secrets are masked across chunk
boundaries, and each command's output is split into display lines (each cut
at `DISPLAY_LINE_LIMIT`) for its tail and for whoever watches the build, so
nothing holds a command's whole output.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..masking import Masker, StreamMasker

__all__ = ["DISPLAY_LINE_LIMIT", "TAIL_LINES", "CommandStream", "OutputSink"]

DISPLAY_LINE_LIMIT = 64 * 1024
TAIL_LINES = 20


def _cap(line: bytes) -> bytes:
    if len(line) <= DISPLAY_LINE_LIMIT:
        return line
    return line[:DISPLAY_LINE_LIMIT] + f" [... {len(line) - DISPLAY_LINE_LIMIT} bytes cut]".encode()


class _Lines:
    """Splits one command's output into display lines; keeps the last `TAIL_LINES`."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self._on_line = on_line
        self.tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
        self._partial = b""
        self._dropped = 0

    def feed(self, data: bytes) -> None:
        lines = data.split(b"\n")
        first = self._partial + lines[0] if self._partial else lines[0]
        # Keep at most one display line of a newline-less flood, counting the rest.
        if len(first) > DISPLAY_LINE_LIMIT:
            self._dropped += len(first) - DISPLAY_LINE_LIMIT
            first = first[:DISPLAY_LINE_LIMIT]
        if len(lines) == 1:
            self._partial = first
            return
        self._emit(first, self._dropped)
        self._dropped = 0
        for line in lines[1:-1]:
            self._emit(line, 0)
        last = lines[-1]
        if len(last) > DISPLAY_LINE_LIMIT:
            self._dropped = len(last) - DISPLAY_LINE_LIMIT
            last = last[:DISPLAY_LINE_LIMIT]
        self._partial = last

    def _emit(self, line: bytes, dropped: int) -> None:
        line = line.removesuffix(b"\r")
        line = line + f" [... {dropped} bytes cut]".encode() if dropped else _cap(line)
        self.tail.append(line)
        if self._on_line is not None:
            self._on_line(line.decode("utf-8", "replace"))

    def finish(self) -> None:
        """Emit an unterminated last line."""
        if self._partial or self._dropped:
            self._emit(self._partial, self._dropped)
        self._partial = b""
        self._dropped = 0

    def text(self) -> tuple[str, ...]:
        return tuple(line.decode("utf-8", "replace") for line in self.tail)


class OutputSink:
    """Where a build's output goes: masked and appended to its log as it arrives.

    One sink serves every command of a build (they share the log); each
    command gets its own `stream()`, which splits its lines for its tail and
    for `on_line`, so concurrent commands never splice each other's lines.
    """

    def __init__(
        self,
        log: BinaryIO | Path,
        masker: Masker,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        # A path is opened by `open()` (or the first write), so that the thread
        # that runs the build, not the scheduler, pays for creating the file.
        self._path = log if isinstance(log, Path) else None
        self._log: BinaryIO | None = None if isinstance(log, Path) else log
        self._masker = masker
        self._on_line = on_line
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create (truncate) the log file now."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> BinaryIO:
        if self._log is None:
            assert self._path is not None
            self._log = self._path.open("wb")
        return self._log

    def close(self) -> None:
        with self._lock:
            if self._log is not None and self._path is not None:
                self._log.close()

    def note(self, text: str) -> None:
        """Append buildsys's own text (e.g. a traceback) to the log, masked."""
        lines = _Lines(self._on_line)
        self._write(self._masker.data(text.encode("utf-8", "replace")), lines)
        lines.finish()

    def stream(self) -> CommandStream:
        return CommandStream(self, self._masker.stream(), _Lines(self._on_line))

    def _write(self, data: bytes, lines: _Lines) -> None:
        if not data:
            return
        with self._lock:
            log = self._open_locked()
            log.write(data)
            log.flush()
        lines.feed(data)


class CommandStream:
    """One command's output into a sink, masked across chunk boundaries."""

    def __init__(self, sink: OutputSink, masker: StreamMasker, lines: _Lines) -> None:
        self._sink = sink
        self._masker = masker
        self.lines = lines

    def write(self, chunk: bytes) -> None:
        self._sink._write(self._masker.feed(chunk), self.lines)

    def close(self) -> None:
        self._sink._write(self._masker.flush(), self.lines)
        self.lines.finish()
