"""Plain console progress: a line as each build starts and ends, then a summary.

For each failure the summary shows its error, suggestions, log path and the
last lines of its log. Lines go out whole under a lock, since hooks fire from
several threads.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..masking import Masker
from ..plugin.marker import hookimpl
from ..results import BuildResult, ExecutionResult, Status
from ..spec import BuildSpec
from .tail import read_tail
from .text import (
    WORD,
    build_finished,
    build_started,
    build_warning,
    output_line,
    run_header,
    run_summary,
    summary_row,
    verdict,
)

__all__ = ["ConsoleReporter", "OutputPrinter"]

TAIL_LINES = 20


class ConsoleReporter:
    def __init__(
        self,
        *,
        stream: TextIO | None,
        verbose: bool,
        progress: bool,
        root: Path,
        named: Sequence[str],
        masker: Masker,
    ) -> None:
        self._stream = stream
        self.verbose = verbose
        self.progress = progress
        self.root = root
        self.named = set(named)
        self.masker = masker
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._gone = False  # the reader of the stream went away

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def write(self, text: str) -> None:
        line = self.masker.text(text) + "\n"
        with self._lock:
            if self._gone:
                return
            try:
                try:
                    self.stream.write(line)
                except UnicodeEncodeError:  # a lone surrogate from a plugin, say
                    encoding = getattr(self.stream, "encoding", None) or "utf-8"
                    self.stream.write(line.encode(encoding, "backslashreplace").decode(encoding))
                self.stream.flush()
            except BrokenPipeError:
                # `buildsys build | head`: nobody reads on; the run goes on regardless.
                self._gone = True

    @hookimpl
    def buildsys_run_started(self, builds: Sequence[BuildSpec], max_concurrency: int) -> None:
        for warning in self.warnings:
            self.write(f"warning: {warning}")
        if self.progress:
            self.write(run_header(len(builds), max_concurrency))

    @hookimpl
    def buildsys_build_started(self, build: BuildSpec, attempt: int) -> None:
        if self.progress:
            self.write(build_started(build.name, attempt))

    @hookimpl
    def buildsys_build_finished(self, build: BuildSpec, result: BuildResult) -> None:
        if not self.progress:
            return
        detail = result.reason or (result.errors[0].message if result.errors else None)
        seconds = result.duration if result.started_at is not None else None
        self.write(build_finished(build.name, result.status.value, seconds, detail))
        for warning in result.warnings:
            self.write(build_warning(build.name, warning))

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        if not self.progress:
            return
        rows = [
            summary_row(
                r.name,
                r.platform,
                r.status.value,
                r.duration if r.started_at is not None else None,
                r.reason or (r.errors[0].message if r.errors else ""),
                flaky_attempts=r.attempts if r.flaky else None,
            )
            for r in result.results
        ]
        details: list[str] = []
        for build in result.results:
            if build.status in (Status.FAILED, Status.TIMED_OUT):
                details.extend(self._failure(build))
        skipped_named = [
            r.name for r in result.results if r.status is Status.SKIPPED and r.name in self.named
        ]
        if skipped_named:
            details.append("")
            details.append(f"named on the command line but skipped: {', '.join(skipped_named)}")
        self.write(run_summary(rows, details, self._verdict(result, failed=bool(skipped_named))))

    def _failure(self, build: BuildResult) -> list[str]:
        lines = ["", f"--- {build.name} {WORD[build.status.value]} ---"]
        for error in build.errors:
            lines.append(f"error[{error.code}]: {error.message}")
            matched = error.context.get("matched_lines")
            if matched:
                lines.append("  matched in the log:")
                lines.extend(f"  > {line}" for line in matched)
            lines.extend(f"  hint: {s}" for s in error.suggestions)
            if error.context.get("toolchain"):
                lines.append(f"  toolchain: {error.context['toolchain']}")
        tail = read_tail(build.log_path, TAIL_LINES)
        if tail:
            lines.append(f"last {len(tail)} lines of {build.log_path}:")
            lines.extend(f"  | {line}" for line in tail)
        elif build.log_path:
            lines.append(f"log (empty): {build.log_path}")
        return lines

    def _verdict(self, result: ExecutionResult, *, failed: bool) -> str:
        """`failed`: the CLI exits 1 although no build failed (a named build was skipped)."""
        return verdict(
            ok=result.ok and not failed,
            interrupted=result.interrupted,
            succeeded=result.success_count,
            cached=result.cached_count,
            failed=result.failure_count,
            cancelled=result.cancelled_count,
            skipped=result.skipped_count,
            seconds=result.total_duration,
        )


class OutputPrinter:
    """`-v`: each output line of each build, prefixed with the build's name."""

    def __init__(self, console: ConsoleReporter) -> None:
        self.console = console

    @hookimpl
    def buildsys_build_output(self, build: BuildSpec, line: str) -> None:
        self.console.write(output_line(build.name, line))
