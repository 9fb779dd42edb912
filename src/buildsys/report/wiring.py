"""Wiring a run's reporters: which ones it gets, checked and registered as plugins
for its length, and the observer that turns executor callbacks into hook calls."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ..errors import UsageError

if TYPE_CHECKING:
    from ..masking import Masker
    from ..plugin.manager import PluginHost
    from ..results import BuildResult
    from ..spec import BuildSpec

__all__ = ["HookObserver", "ReportOptions", "check_report_paths", "reporters"]


class ReportOptions(Protocol):
    """What a run's options say about reporting (the engine's `RunOptions` has these)."""

    @property
    def progress(self) -> str: ...  # "rich", "plain" or "none"
    @property
    def verbose(self) -> bool: ...
    @property
    def stream(self) -> TextIO | None: ...
    @property
    def report_json(self) -> str | None: ...
    @property
    def junit_xml(self) -> str | None: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def check_report_paths(options: ReportOptions) -> None:
    """A report that cannot be written is a usage error, found before anything runs."""
    for option, value in (
        ("--report-json", options.report_json),
        ("--junit-xml", options.junit_xml),
    ):
        if value is None:
            continue
        from .._files import check_writable

        try:
            check_writable(Path(value))
        except OSError as exc:
            raise UsageError(f"{option} {value}: cannot write there: {exc}") from None


@contextlib.contextmanager
def reporters(
    plugins: PluginHost,
    options: ReportOptions,
    *,
    root: Path,
    named: Sequence[str],
    masker: Masker,
    warnings: Sequence[str],
    errors: list[str],
) -> Iterator[None]:
    """The reporters `options` ask for, registered while the block runs.

    `warnings` are printed when the run starts; reports that cannot be written
    are appended to `errors`, for the command line to turn into a failure.
    """
    names = _register(plugins, options, root, named, masker, warnings, errors)
    try:
        yield
    finally:
        for name in names:
            plugin = plugins.pm.get_plugin(name)
            if plugin is not None:
                plugins.pm.unregister(plugin)


def _register(
    plugins: PluginHost,
    opts: ReportOptions,
    root: Path,
    named: Sequence[str],
    masker: Masker,
    warnings: Sequence[str],
    errors: list[str],
) -> list[str]:
    names: list[str] = []
    if opts.progress != "none" or opts.verbose:
        from . import console

        cls = console.ConsoleReporter
        if opts.progress == "rich":
            from .live import LiveReporter

            cls = LiveReporter
        reporter = cls(
            stream=opts.stream,
            verbose=opts.verbose,
            progress=opts.progress != "none",
            root=root,
            named=named,
            masker=masker,
        )
        reporter.warnings.extend(warnings)
        plugins.register_reporter(reporter, "buildsys.console")
        names.append("buildsys.console")
        if opts.verbose:
            plugins.register_reporter(console.OutputPrinter(reporter), "buildsys.output")
            names.append("buildsys.output")
    if opts.report_json:
        from . import json_report

        plugins.register_reporter(
            json_report.JsonReporter(Path(opts.report_json), masker, errors), "buildsys.json"
        )
        names.append("buildsys.json")
    if opts.junit_xml:
        from . import junit

        plugins.register_reporter(
            junit.JUnitReporter(Path(opts.junit_xml), masker, errors), "buildsys.junit"
        )
        names.append("buildsys.junit")
    return names


class HookObserver:
    """Turns executor callbacks into hook calls."""

    def __init__(self, plugins: PluginHost, specs: Mapping[str, BuildSpec]) -> None:
        self.plugins = plugins
        self.specs = specs
        self.wants_output = plugins.has_impl("buildsys_build_output")
        self._lock = threading.Lock()
        # Called per build, and per output line: bound once.
        self._started = plugins.caller("buildsys_build_started")
        self._finished = plugins.caller("buildsys_build_finished")
        self._output = plugins.caller("buildsys_build_output")

    def started(self, job: _Named, attempt: int, ctx: Any) -> None:
        self._started(build=self.specs[job.name], attempt=attempt)

    def finished(self, result: BuildResult) -> None:
        self._finished(build=self.specs[result.name], result=result)

    def output(self, name: str, line: str) -> None:
        self._output(build=self.specs[name], line=line)

    def say(self, message: str) -> None:
        import sys

        print(f"buildsys: {message}", file=sys.stderr, flush=True)
