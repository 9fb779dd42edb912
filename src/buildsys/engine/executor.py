"""The executor seam: what the engine needs of an executor, and the thread-pool one.

`Executor` is the interface the engine relies on: `execute_jobs` takes plain,
serialisable `Job` values, so an executor that runs builds elsewhere (a
cluster) can stand beside `ParallelExecutor`, which runs them on worker
threads of this process under the scheduler (`scheduler.py`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from .._converters import check_concurrency, check_timeout
from ..host.facts import usable_cpus
from ..masking import Masker
from ..results import BuildResult, ExecutionResult
from .job import Job, Observer
from .scheduler import _Schedule

__all__ = ["Executor", "ParallelExecutor"]


class Executor(Protocol):
    """What the engine needs from an executor."""

    def execute_jobs(
        self,
        jobs: Sequence[Job],
        fn: Callable[[str], object],
        *,
        presets: Mapping[str, BuildResult] | None = None,
    ) -> ExecutionResult: ...

    def cancel(self, reason: str | None = None) -> None: ...

    def kill(self) -> None: ...


def _kill_grace(value: object) -> float:
    """Seconds between SIGTERM and SIGKILL: a number >= 0 (0 kills at once)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"kill_grace must be a number of seconds, got {value!r}")
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"kill_grace cannot be negative, got {value!r}")
    return float(value)


class ParallelExecutor:
    """Runs callables by name on a bounded set of worker threads.

    `execute(names, fn)` calls `fn(name)` for each name, at most
    `max_concurrency` at a time. An exception fails that name (a `BuildFailed`
    keeps its message, code and suggestions); a returned `BuildResult` is used
    as is; anything else counts as success. `cancel()` is thread-safe.
    Never installs signal handlers, changes directory or the environment; the
    child subreaper flag is set only while a run needs it; and when
    `execute()` returns or raises, nothing its builds started is left running.

    Each name's output goes to `<log_dir>/<name>.log` (its `log_path`). Without
    a `log_dir`, every `execute()` gets a directory of its own inside one
    `buildsys-logs-*` directory of this process in the system's temporary
    directory; that is removed when the interpreter exits (by `atexit`, so not
    after `os._exit` or a kill): copy logs you want to keep before then.
    """

    def __init__(
        self,
        max_concurrency: int | None = None,
        build_timeout: float | str | None = None,
        continue_on_failure: bool = True,
        *,
        kill_grace: float = 5.0,
        log_dir: str | os.PathLike[str] | None = None,
        masker: Masker | None = None,
        observer: Observer | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.max_concurrency = (
            check_concurrency("max_concurrency", max_concurrency) or usable_cpus()
        )
        self.build_timeout = check_timeout("build_timeout", build_timeout)
        self.continue_on_failure = continue_on_failure
        self.kill_grace = _kill_grace(kill_grace)
        self._log_dir = Path(log_dir) if log_dir is not None else None
        self._masker = masker or Masker()
        self._observer = observer
        self.environ = environ  # None: this process's environment, as execute() finds it
        self._lock = threading.Lock()
        self._active: _Schedule | None = None
        # execute() calls entered but whose run is not yet set up, and whether
        # one has ever been: a cancel() before the first execute(), or while
        # one is starting, is kept for it; one between two runs is not.
        self._starting = 0
        self._used = False
        self._pending_cancel: str | None = None
        self._pending_kill = False

    # -- thread-safe controls ------------------------------------------------

    def cancel(self, reason: str | None = None) -> None:
        """Stop the run in progress (or starting, or, before the first `execute()`,
        that one): running builds are stopped, pending ones cancelled. A cancel
        once a run has finished, with no other under way, does nothing: it must
        not cancel a later, unrelated `execute()`."""
        reason = reason or "the run was cancelled"
        with self._lock:
            if self._active is not None:
                self._active.request_cancel(reason, kill=False)
            elif self._awaiting_run() and self._pending_cancel is None:
                self._pending_cancel = reason

    def kill(self) -> None:
        """Like `cancel()`, but SIGKILL every build's processes now, without a grace period."""
        with self._lock:
            if self._active is not None:
                self._active.request_cancel("the run was killed", kill=True)
            elif self._awaiting_run():
                self._pending_cancel = self._pending_cancel or "the run was killed"
                self._pending_kill = True

    def _awaiting_run(self) -> bool:
        """Whether a cancel with no run active is for one about to start (lock held)."""
        return self._starting > 0 or not self._used

    # -- running --------------------------------------------------------------

    def execute(self, names: Iterable[str], fn: Callable[[str], object]) -> ExecutionResult:
        """Call `fn(name)` for every name, in parallel; see the class docstring."""
        if isinstance(names, str):
            # A str is an iterable of one-letter names: never what was meant.
            raise TypeError(f"execute() takes a list of names, e.g. [{names!r}], not a single str")
        return self.execute_jobs([Job(name) for name in names], fn)

    def execute_jobs(
        self,
        jobs: Sequence[Job],
        fn: Callable[[str], object],
        *,
        presets: Mapping[str, BuildResult] | None = None,
    ) -> ExecutionResult:
        """Run `jobs` honouring their dependencies; `presets` are results decided beforehand."""
        with self._lock:
            self._starting += 1
            self._used = True
        try:
            schedule = _Schedule(
                self,
                jobs,
                fn,
                presets or {},
                log_dir=self._log_dir,
                masker=self._masker,
                observer=self._observer,
                environ=self.environ,
            )
        except BaseException:
            with self._lock:
                self._starting -= 1
                if not self._starting:
                    self._pending_cancel, self._pending_kill = None, False
            raise
        with self._lock:
            self._starting -= 1
            self._active = schedule
            if self._pending_cancel is not None:
                schedule.request_cancel(self._pending_cancel, kill=self._pending_kill)
            self._pending_cancel, self._pending_kill = None, False
        try:
            return schedule.loop()
        finally:
            with self._lock:
                self._active = None
