"""A run's options: what the command line (or `buildsys.run()`) overrides of builds.toml."""

from __future__ import annotations

from typing import TextIO

import attrs

from .._converters import check_concurrency, check_timeout, strs

__all__ = ["RunOptions"]


def _max_concurrency(value: int | None) -> int | None:
    return check_concurrency("max_concurrency", value)


def _timeout(value: float | str | None) -> float | None:
    return check_timeout("timeout", value)


@attrs.frozen
class RunOptions:
    """Command-line (or API) overrides of a run; `None` keeps what builds.toml says."""

    max_concurrency: int | None = attrs.field(default=None, converter=_max_concurrency)
    strategy: str | None = None  # "parallel" or "stop-on-failure"
    # Overrides every build's timeout; a duration string ("10s") is read as the CLI reads it.
    timeout: float | None = attrs.field(default=None, converter=_timeout)
    profile: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=strs)
    args: tuple[str, ...] = attrs.field(default=(), converter=strs)
    cache: bool | None = None
    report_json: str | None = None
    junit_xml: str | None = None
    progress: str = "none"  # "rich", "plain" or "none"; the CLI resolves "auto"
    verbose: bool = False
    stream: TextIO | None = None  # where console output goes (default: stdout)
    # Set by the command line: a run that can be replayed is recorded under it (journal.py).
    replay_key: bytes | None = None
    # `buildsys check`: also ask builders' check_build() of every build up front;
    # a run asks it only of builds about to run (not those served from the cache).
    check_builds: bool = False
