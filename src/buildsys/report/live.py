"""`--progress rich`: the plain reporter's lines, plus a live panel of running builds.

The panel (rich's `Live`) shows each running build with a spinner and its
elapsed time, and how many builds are done; finished builds scroll above it
as the plain reporter's lines. `auto` picks this on a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from ..plugin.marker import hookimpl
from ..results import BuildResult, ExecutionResult
from ..spec import BuildSpec
from .console import ConsoleReporter

__all__ = ["LiveReporter"]


class _Panel:
    """The live renderable: rebuilt by rich on each refresh, from shared state."""

    def __init__(self, reporter: LiveReporter) -> None:
        self.reporter = reporter

    def __rich__(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        with self.reporter.state_lock:
            running = sorted(self.reporter.running.items(), key=lambda item: item[1])
            done, total = self.reporter.done, self.reporter.total
        for name, started in running:
            table.add_row(Spinner("dots"), name, f"{now - started:5.1f}s")
        table.add_row("", f"[dim]{done}/{total} done, {len(running)} running[/dim]", "")
        return table


class LiveReporter(ConsoleReporter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from rich.console import Console

        self.console = Console(file=self._stream, highlight=False, soft_wrap=True)
        self.state_lock = threading.Lock()
        self.running: dict[str, float] = {}
        self.done = 0
        self.total = 0
        self._live: Any = None

    def write(self, text: str) -> None:
        from rich.markup import escape

        with self._lock:
            self.console.print(escape(self.masker.text(text)))

    @hookimpl
    def buildsys_run_started(self, builds: Sequence[BuildSpec], max_concurrency: int) -> None:
        from rich.live import Live

        self.total = len(builds)
        super().buildsys_run_started(builds, max_concurrency)
        self._live = Live(_Panel(self), console=self.console, refresh_per_second=8, transient=True)
        self._live.start()

    @hookimpl
    def buildsys_build_started(self, build: BuildSpec, attempt: int) -> None:
        with self.state_lock:
            self.running[build.name] = time.monotonic()
        super().buildsys_build_started(build, attempt)

    @hookimpl
    def buildsys_build_finished(self, build: BuildSpec, result: BuildResult) -> None:
        with self.state_lock:
            self.running.pop(build.name, None)
            self.done += 1
        super().buildsys_build_finished(build, result)

    @hookimpl
    def buildsys_run_finished(self, result: ExecutionResult) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        super().buildsys_run_finished(result)
