"""What crosses the executor seam: the `Job` an executor runs and the `Observer` it tells.

Both are plain: a `Job` is serialisable data with no callables, so an executor
that runs builds elsewhere (a cluster) can take the same values as the thread
pool does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from .._converters import strs
from ..host.context import BuildContext
from ..results import BuildResult

__all__ = ["Job", "Observer"]


@attrs.frozen
class Job:
    """One unit of work for an executor: plain data, no callables."""

    name: str
    platform: str = ""
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=strs)
    timeout: float | None = None
    retries: int = 0
    # Where the timeout came from, so a timed-out build says where to raise it.
    timeout_source: str | None = None
    # Variables set for this job, on top of the executor's environment.
    env: Mapping[str, str] | None = None
    cwd: str | None = None


class Observer(Protocol):
    """Callbacks the executor makes holding its scheduling lock, so one at a time
    (from the calling thread or a worker); `output` comes from workers, unlocked."""

    def started(self, job: Job, attempt: int, ctx: BuildContext) -> None: ...

    def finished(self, result: BuildResult) -> None: ...

    def output(self, name: str, line: str) -> None: ...
