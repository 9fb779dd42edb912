"""What a run produces: one `BuildResult` per build and the `ExecutionResult` of the run."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from ._converters import strs
from .artifacts import Artifact

__all__ = ["BuildError", "BuildResult", "ExecutionResult", "Status"]


class Status(enum.Enum):
    """Final state of a build. Values are what reports write."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    CACHED = "cached"
    # Lower-case aliases, as SPEC and the reports spell the statuses.
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    cancelled = "cancelled"
    skipped = "skipped"
    cached = "cached"

    @property
    def ok(self) -> bool:
        """Whether this status lets dependents run."""
        return self in (Status.SUCCEEDED, Status.CACHED)

    @property
    def is_failure(self) -> bool:
        """Failed or timed out."""
        return self in (Status.FAILED, Status.TIMED_OUT)


def _status(value: Status | str) -> Status:
    """A `Status`, or its value as reports write it ("failed")."""
    if isinstance(value, Status):
        return value
    try:
        return Status(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown build status {value!r}; expected one of: {allowed}") from None


def _errors(value: Iterable[BuildError]) -> tuple[BuildError, ...]:
    return tuple(value)


def _results(value: Iterable[BuildResult]) -> tuple[BuildResult, ...]:
    return tuple(value)


def _artifacts(value: Iterable[Artifact]) -> tuple[Artifact, ...]:
    return tuple(value)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@attrs.frozen
class BuildError:
    """One problem with a build, phrased for the person who has to fix it."""

    message: str
    code: str = "BUILD_FAILED"
    suggestions: tuple[str, ...] = attrs.field(default=(), converter=strs)
    context: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_frozen_mapping, eq=False, hash=False
    )
    transient: bool = False


@attrs.frozen
class BuildResult:
    """The outcome of one build."""

    name: str
    platform: str
    status: Status = attrs.field(converter=_status)
    reason: str | None = None
    duration: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    flaky: bool = False
    artifacts: tuple[str, ...] = attrs.field(default=(), converter=strs)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=strs)
    errors: tuple[BuildError, ...] = attrs.field(default=(), converter=_errors)
    log_path: str | None = None
    # Size and sha256 of each artifact, in the order of `artifacts`.
    artifact_details: tuple[Artifact, ...] = attrs.field(default=(), converter=_artifacts)


def _counter(*statuses: Status) -> Any:
    """A field computed from `results` when the result is made (never passed in)."""

    def count(self: ExecutionResult) -> int:
        return sum(1 for r in self.results if r.status in statuses)

    return attrs.field(init=False, default=attrs.Factory(count, takes_self=True))


@attrs.frozen
class ExecutionResult:
    """The outcome of a run. The counts and verdicts are fields derived from
    `results` (so `attrs.asdict` and `attrs.fields` list them, as SPEC does).
    The counts partition the results: a build served from the cache is counted
    in `cached_count` only, a timed-out one in `failure_count`."""

    results: tuple[BuildResult, ...] = attrs.field(converter=_results)
    total_duration: float = 0.0
    interrupted: bool = False
    #: Builds that ran and succeeded (not those served from the cache).
    success_count: int = _counter(Status.SUCCEEDED)
    #: Builds that failed or timed out.
    failure_count: int = _counter(Status.FAILED, Status.TIMED_OUT)
    skipped_count: int = _counter(Status.SKIPPED)
    cancelled_count: int = _counter(Status.CANCELLED)
    cached_count: int = _counter(Status.CACHED)
    #: True when no build was cancelled and the run was not interrupted.
    all_completed: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: not self.interrupted and self.cancelled_count == 0, takes_self=True
        ),
    )
    #: True when nothing failed, timed out or was cancelled.
    ok: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: (
                self.failure_count == 0 and self.cancelled_count == 0 and not self.interrupted
            ),
            takes_self=True,
        ),
    )

    def __bool__(self) -> bool:
        return self.ok

    def __getitem__(self, name: str) -> BuildResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)
