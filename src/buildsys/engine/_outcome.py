"""How an attempt ended, as a `BuildResult`: success, failure, timeout or cancel.

The one boundary where what a build's code returned or raised becomes a
status: a `BuildFailed` keeps its message, code and suggestions, any other
exception is an unexpected error naming where it was raised, and a stop
buildsys made (timeout, cancel) wins over what the code did on being stopped.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

import attrs

from ..artifacts import Artifact
from ..errors import BuildFailed
from ..host.process import StopReason
from ..masking import Masker
from ..results import BuildError, BuildResult, Status
from ._attempt import Attempt, Progress, now_utc
from .job import Job

__all__ = [
    "Ended",
    "classify",
    "describe_exception",
    "error_from",
    "internal_error",
    "origin",
    "unstarted",
    "verb",
]


class Ended(enum.Enum):
    """How a worker left an attempt (or the scheduler gave up on it)."""

    RETURNED = "returned"  # the value: (what fn returned, its artifacts' details)
    RAISED = "raised"  # the value: the exception
    ABANDONED = "abandoned"  # the worker never returned in time


def classify(
    attempt: Attempt,
    prog: Progress,
    kind: Ended,
    value: object,
    ended: float | None,
    *,
    masker: Masker,
) -> BuildResult:
    """The result of an attempt that ended as `kind` with `value` (at `ended`, if not now)."""
    job = attempt.job
    ctx = attempt.ctx
    finished = time.monotonic()
    finished_at = now_utc()
    if ended is not None:
        # An abandoned attempt ended when buildsys gave up on it, not when
        # the scheduling thread got round to recording that.
        finished_at -= timedelta(seconds=finished - ended)
        finished = ended
    assert prog.first_start is not None
    base = {
        "name": job.name,
        "platform": job.platform,
        "started_at": prog.first_started_at,
        "finished_at": finished_at,
        "duration": finished - prog.first_start,
        "attempts": prog.attempts,
        "warnings": ctx.warnings,
        "artifacts": ctx.artifacts,
        "log_path": str(ctx.log_path),
    }
    stop = ctx.control.reason
    details: tuple[Artifact, ...] = ()
    if kind is Ended.RETURNED:
        value, details = value  # type: ignore[misc]
        if isinstance(value, BuildResult):
            if value.name == job.name:
                return value
            # Results are keyed by job: one filed under another name would
            # leave this job without a result and overwrite nothing sensible.
            return attrs.evolve(
                value,
                name=job.name,
                warnings=(
                    *value.warnings,
                    f"the build returned a result named {value.name!r}; recorded as {job.name!r}",
                ),
            )
    if stop == StopReason.TIMEOUT:
        error = _timeout_error(attempt, kind, value, masker)
        return BuildResult(status=Status.TIMED_OUT, errors=(error,), **base)  # type: ignore[arg-type]
    if stop == StopReason.CANCEL:
        return BuildResult(
            status=Status.CANCELLED,
            reason=ctx.control.detail or "cancelled",
            **base,  # type: ignore[arg-type]
        )
    if kind is Ended.RAISED:
        error = error_from(value, masker.text)
        return BuildResult(status=Status.FAILED, errors=(error,), **base)  # type: ignore[arg-type]
    return BuildResult(
        status=Status.SUCCEEDED,
        flaky=prog.attempts > 1,
        artifact_details=details,
        **base,  # type: ignore[arg-type]
    )


def _timeout_error(attempt: Attempt, kind: Ended, value: object, masker: Masker) -> BuildError:
    job = attempt.job
    ctx = attempt.ctx
    limit = ctx.control.detail or "its limit"
    where = job.timeout_source or "the build_timeout given to ParallelExecutor"
    # What the build's code raised on being stopped may carry hints about
    # what it was doing (the engine adds catalogue and plugin suggestions).
    hints: tuple[str, ...] = ()
    context: dict[str, object] = {"timeout": limit}
    if kind is Ended.RAISED and isinstance(value, BuildFailed):
        mask = masker.text
        hints = tuple(mask(s) for s in value.suggestions)
        if "toolchain" in value.context:
            context["toolchain"] = _mask_value(value.context["toolchain"], mask)
    return BuildError(
        f"{job.name} timed out after {limit}; buildsys stopped its processes",
        code="BUILD_TIMEOUT",
        suggestions=tuple(
            dict.fromkeys(
                (
                    f"if the build needs longer, raise its timeout ({where})",
                    "or pass --timeout DURATION for this run",
                    f"see what it was doing in its log: {ctx.log_path}",
                    *hints,
                )
            )
        ),
        context=context,
    )


def error_from(exc: object, mask: Callable[[str], str]) -> BuildError:
    """The error a build's exception is reported as, masked."""
    if isinstance(exc, BuildFailed):
        return BuildError(
            message=mask(exc.message),
            code=exc.code,
            suggestions=tuple(mask(s) for s in exc.suggestions),
            context={k: _mask_value(v, mask) for k, v in exc.context.items()},
            transient=exc.transient,
        )
    assert isinstance(exc, BaseException)
    return BuildError(
        message=mask(f"{describe_exception(exc)}{origin(exc)}"),
        code="UNEXPECTED_ERROR",
        suggestions=(
            "this looks like a bug in the code the build ran; see the traceback in the log",
        ),
        context={"exception": type(exc).__name__},
    )


def internal_error(name: str, exc: BaseException, mask: Callable[[str], str]) -> BuildError:
    """The error for `name` when buildsys's own bookkeeping of it raised."""
    return BuildError(
        message=mask(
            f"buildsys failed while recording {name}: {describe_exception(exc)}{origin(exc)}"
        ),
        code="INTERNAL_ERROR",
        suggestions=(
            "this is a bug in buildsys or in an observer or plugin it calls; please report it",
        ),
        context={"exception": type(exc).__name__},
    )


def unstarted(job: Job, status: Status, reason: str) -> BuildResult:
    """The result of a job that never started (skipped or cancelled)."""
    return BuildResult(name=job.name, platform=job.platform, status=status, reason=reason)


def describe_exception(exc: BaseException) -> str:
    """ "ValueError: bad input", or just "KeyboardInterrupt" when it has no text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def origin(exc: BaseException) -> str:
    """ " at file:line" where `exc` was raised, or "" if that is unknown."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else None
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _mask_value(value: object, mask: Callable[[str], str]) -> object:
    """Mask strings inside a context value (argv lists, nested tables)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v, mask) for v in value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v, mask) for k, v in value.items()}
    return value


def verb(status: Status) -> str:
    """How a status reads after a job's name: "failed", "timed out", ..."""
    return {
        Status.FAILED: "failed",
        Status.TIMED_OUT: "timed out",
        Status.CANCELLED: "was cancelled",
        Status.SKIPPED: "was skipped",
    }.get(status, status.value)
