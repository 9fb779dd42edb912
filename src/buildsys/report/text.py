"""The plain console's wording, on plain values: shared by the console reporter
and by `replay`, which prints a no-op run without importing results or plugins."""

from __future__ import annotations

from collections.abc import Sequence

from .._durations import format_duration

__all__ = ["WORD", "run_header", "summary_table", "took", "verdict"]

# Status value -> the word progress lines use.
WORD = {
    "succeeded": "ok",
    "cached": "cached",
    "failed": "FAILED",
    "timed_out": "TIMED OUT",
    "cancelled": "cancelled",
    "skipped": "skipped",
}


def took(seconds: float) -> str:
    """A duration for people: milliseconds below a tenth of a second, else as in builds.toml."""
    return f"{seconds * 1000:.0f}ms" if seconds < 0.1 else format_duration(seconds)


def run_header(builds: int, max_concurrency: int) -> str:
    return f"buildsys: {builds} builds, up to {max_concurrency} at a time"


def summary_table(rows: Sequence[tuple[str, str, str, str, str]]) -> list[str]:
    """(build, platform, status, time, details) rows, columns aligned, under a header."""
    table = [("build", "platform", "status", "time", "details"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in table
    ]


def verdict(
    head: str,
    *,
    succeeded: int,
    cached: int,
    failed: int,
    cancelled: int,
    skipped: int,
    seconds: float,
) -> str:
    """The run's last line: "buildsys: ok: 3 succeeded, 2 cached in 1.2s"."""
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
