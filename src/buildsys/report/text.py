"""The plain console's wording, on plain values: every line the console reporter
prints is made here, and `replay` prints a no-op run with these same functions
without importing results, attrs or plugins."""

from __future__ import annotations

from collections.abc import Sequence

from .._durations import format_duration

__all__ = [
    "WORD",
    "build_finished",
    "build_started",
    "build_warning",
    "output_line",
    "run_header",
    "run_summary",
    "summary_row",
    "summary_table",
    "took",
    "verdict",
]

# Status value -> the word progress lines use.
WORD = {
    "succeeded": "ok",
    "cached": "cached",
    "failed": "FAILED",
    "timed_out": "TIMED OUT",
    "cancelled": "cancelled",
    "skipped": "skipped",
}

Row = tuple[str, str, str, str, str]


def took(seconds: float) -> str:
    """A duration for people: milliseconds below a tenth of a second, else as in builds.toml."""
    return f"{seconds * 1000:.0f}ms" if seconds < 0.1 else format_duration(seconds)


def run_header(builds: int, max_concurrency: int) -> str:
    return f"buildsys: {builds} builds, up to {max_concurrency} at a time"


def build_started(name: str, attempt: int) -> str:
    again = f" (attempt {attempt})" if attempt > 1 else ""
    return f"[{name}] started{again}"


def build_finished(name: str, status: str, seconds: float | None, detail: str | None) -> str:
    """A build's line as it ends: "[app] ok in 1.2s", then ": detail" if there is one.
    `seconds` is None for a build that never started."""
    line = f"[{name}] {WORD[status]}"
    if seconds is not None:
        line += f" in {took(seconds)}"
    if detail is not None:
        line += f": {detail}"
    return line


def build_warning(name: str, warning: str) -> str:
    return f"[{name}] warning: {warning}"


def output_line(name: str, line: str) -> str:
    """`-v`: a line of a build's output, prefixed with the build's name."""
    return f"{name} | {line}"


def summary_row(
    name: str,
    platform: str,
    status: str,
    seconds: float | None,
    detail: str,
    *,
    flaky_attempts: int | None = None,
) -> Row:
    """A build's row of the summary table; `flaky_attempts`: it passed on that attempt."""
    if flaky_attempts is not None:
        detail = f"flaky: passed on attempt {flaky_attempts}" + (f"; {detail}" if detail else "")
    return (name, platform, status, took(seconds) if seconds is not None else "-", detail)


def summary_table(rows: Sequence[Row]) -> list[str]:
    """(build, platform, status, time, details) rows, columns aligned, under a header."""
    table = [("build", "platform", "status", "time", "details"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in table
    ]


def verdict(
    *,
    ok: bool,
    interrupted: bool,
    succeeded: int,
    cached: int,
    failed: int,
    cancelled: int,
    skipped: int,
    seconds: float,
) -> str:
    """The run's last line: "buildsys: ok: 3 succeeded, 2 cached in 1.2s"."""
    head = "interrupted" if interrupted else ("ok" if ok else "FAILED")
    parts = [
        f"{count} {word}"
        for count, word in (
            (succeeded, "succeeded"),
            (cached, "cached"),
            (failed, "failed"),
            (cancelled, "cancelled"),
            (skipped, "skipped"),
        )
        if count
    ]
    return f"buildsys: {head}: {', '.join(parts) or 'nothing to build'} in {took(seconds)}"


def run_summary(rows: Sequence[Row], details: Sequence[str], last: str) -> str:
    """What the console prints when a run ends: the table, `details` (failures and
    the like) under it, and the verdict `last`."""
    return "\n".join(["", *summary_table(rows), *details, "", last])
