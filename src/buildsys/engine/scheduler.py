"""Running many builds at once: the scheduling model.

A run is a set of jobs, each a name with dependencies, a timeout and a retry
count. The scheduler keeps a ready heap ordered by position in the file: a job
enters it when the last of its dependencies succeeds (or was cached). Whenever
a slot is free, the first ready job starts on a worker thread (reused from a
small pool), so with `-j2` and jobs of 3 s, 1 s, 1 s, 1 s the three short ones
share the second slot while the long one runs: no batches, no waiting for a
round.

Scheduling state changes only under one lock. A worker that finishes a job
records its result and, if a slot and a ready job allow, starts that job
itself: no hand-off to another thread between one short build and the next,
which on a run of thousands of short commands was half the cost of each. The
thread that called `execute()` starts the first jobs, applies `cancel()`, and
wakes on the nearest deadline. At a job's deadline its `Control` is stopped,
which kills the processes started through `ctx.run` (SIGTERM, kill grace,
SIGKILL) and sets `ctx.cancelled` for Python code. A worker that does not
return is abandoned and reported `timed_out` (or `cancelled`): its slot is
freed, a fresh worker takes its place, and `execute()` does not wait for it.
How long it gets first depends on what it is doing: while a command of its
`ctx.run` is still under way, the kill grace plus `ABANDON_SLACK`; once none
is (or if none ever was), only `RETURN_SLACK` more, since cooperative Python
code returns well within it and nothing is left for buildsys to kill.
Workers are daemon threads and not a `ThreadPoolExecutor`, whose workers are
joined at interpreter exit and would hang it on a callable that never returns.

When a job fails, its transitive dependents are `skipped`, naming it. With
`continue_on_failure=False` the first failure also stops every running job
and marks every pending one `cancelled`.

A run leaves the calling process as it found it. It holds the child
subreaper flag only while it is under way (`_subreaper.subreaper`), and when
it ends, however it ends (an exception on the calling thread included), it
stops what is still running, waits a bounded time for those commands, then
kills what its builds left: every command carries a token starting with the
run's own prefix, which `_subreaper.end_run` looks for.

This module is the state machine, `_Schedule`, one per `execute_jobs` call of
a `ParallelExecutor` (`executor.py`, beside the `Executor` interface). Where
each job stands is in `_ledger.py`, an attempt and its deadlines in
`_attempt.py`, what a worker does in `_workers.py`, and how an attempt's end
becomes a result in `_outcome.py`.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from .._durations import format_duration
from ..host import _proctree, _subreaper
from ..host.context import SharedEnvironment
from ..host.process import StopReason
from ..masking import Masker
from ..results import BuildResult, ExecutionResult, Status
from ._attempt import ABANDON_SLACK, Attempt, Progress, Setup, begin
from ._ledger import Ledger
from ._logdirs import new_run_dir
from ._outcome import Ended, classify, internal_error, verb
from ._workers import WorkerPool, run_attempt
from .job import Job, Observer

__all__ = ["LEFTOVER_WAIT", "Limits"]

# How long the end of a run waits for commands still under way (of workers it
# gave up on, or all of them when execute() is leaving by an exception) once
# it has had them SIGKILLed: run_process may take that long to make sure.
LEFTOVER_WAIT = ABANDON_SLACK + 1.0

_WAKE = object()


class Limits(Protocol):
    """The executor's settings a schedule reads, each time as they are then."""

    max_concurrency: int
    build_timeout: float | None
    continue_on_failure: bool
    kill_grace: float


class _Schedule:
    """One `execute_jobs` call, owned by the calling thread: its loop, the workers'
    turns, deadlines and cancels; where each job stands is kept in its `ledger`."""

    def __init__(
        self,
        limits: Limits,
        jobs: Sequence[Job],
        fn: Callable[[str], object],
        presets: Mapping[str, BuildResult],
        *,
        log_dir: Path | None,
        masker: Masker,
        observer: Observer | None,
        environ: Mapping[str, str] | None,
    ) -> None:
        self.limits = limits
        self.fn = fn
        self.masker = masker
        self.observer = observer
        # Scheduling state is changed only with this held (see the module docstring).
        self.lock = threading.Lock()
        # Wakes the calling thread: a cancel, or the last running job finished.
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.closed = False
        self.pool = WorkerPool()
        self.killing = False
        self.parent_context = contextvars.copy_context()
        token_prefix = _proctree.run_prefix()
        # Attempts given up on while their worker was still in them.
        self.abandoned: list[Attempt] = []
        self.ledger = Ledger.of(jobs, observer)
        self.started_wall = time.monotonic()
        run_logs = log_dir if log_dir is not None else new_run_dir()
        run_logs.mkdir(parents=True, exist_ok=True)
        self.setup = Setup(
            log_dir=run_logs,
            masker=masker,
            environ=SharedEnvironment(os.environ if environ is None else environ),
            token_prefix=token_prefix,
            observer=observer,
            wake=self._wake,
        )
        self.cancel_applied = False
        self.kill_applied = False
        # Jobs ready from the start first; recording a preset then readies the
        # dependents it unblocks, each exactly once.
        self.ledger.ready_from_start(presets)
        for name, result in presets.items():
            if name in self.ledger.progress:
                self._record(name, result)
        self.ledger.check_acyclic()

    @property
    def cancel_reason(self) -> str | None:
        return self.ledger.cancel_reason

    def request_cancel(self, reason: str, *, kill: bool) -> None:
        """Thread-safe: the scheduling thread applies it when it next wakes."""
        if self.ledger.cancel_reason is None:
            self.ledger.cancel_reason = reason
        if kill:
            self.killing = True
        self.inbox.put(_WAKE)

    def _wake(self) -> None:
        """Thread-safe: make the scheduling thread look at the running attempts again."""
        self.inbox.put(_WAKE)

    # -- the loop --------------------------------------------------------------

    def loop(self) -> ExecutionResult:
        # The subreaper flag is the host's: held for the run only (its commands set it).
        with _subreaper.subreaper.held():
            spawns = _proctree.spawn_count()
            try:
                self._schedule()
            finally:
                self._end(spawns)
        self.ledger.settle_leftovers()
        return ExecutionResult(
            results=self.ledger.results(),
            total_duration=time.monotonic() - self.started_wall,
            interrupted=False,
        )

    def _schedule(self) -> None:
        while True:
            with self.lock:
                self._apply_cancel()
                self._start_ready()
                if not self.ledger.running and not (self.ledger.ready and not self.cancel_reason):
                    self.closed = True
                    return
                wake_at = [
                    t for t in map(Attempt.next_wake, self.ledger.running.values()) if t is not None
                ]
            self._wait(min(wake_at) if wake_at else None)
            with self.lock:
                self._check_deadlines()

    def _end(self, spawns: int) -> None:
        """Leave nothing of the run behind, however the loop ended."""
        with self.lock:
            self.closed = True
            # Still running only when the loop is leaving by an exception (Ctrl-C).
            leftovers = [*self.ledger.running.values(), *self.abandoned]
        self.pool.close()
        for attempt in leftovers:
            attempt.ctx.control.stop(StopReason.CANCEL, "the run ended", kill_now=True)
        busy = [a for a in leftovers if a.ctx.commands_running]
        until = time.monotonic() + LEFTOVER_WAIT
        while any(a.ctx.commands_running for a in busy) and time.monotonic() < until:
            # Woken by a command ending (on_commands_done), or a short poll.
            with contextlib.suppress(queue.Empty):
                self.inbox.get(timeout=0.05)
        if _proctree.spawn_count() != spawns:
            _subreaper.end_run(self.setup.token_prefix)

    def _wait(self, until: float | None) -> None:
        """Sleep until `until`, or until woken (a cancel, the last job done, a new deadline)."""
        timeout = None if until is None else max(0.0, until - time.monotonic())
        with contextlib.suppress(queue.Empty):
            self.inbox.get(timeout=timeout)
        # One wake-up for everything already waiting.
        with contextlib.suppress(queue.Empty):
            while True:
                self.inbox.get_nowait()

    def _check_deadlines(self) -> None:
        """Stop attempts past their deadline, abandon stopped ones past their time
        (calling thread only, lock held)."""
        now = time.monotonic()
        for attempt in list(self.ledger.running.values()):
            if attempt.abandon_at is None:
                if attempt.deadline is not None and now >= attempt.deadline:
                    limit = format_duration(attempt.job.timeout or self.limits.build_timeout or 0)
                    attempt.ctx.control.stop(StopReason.TIMEOUT, limit)
                    attempt.give_up_after_stop(now, self.limits.kill_grace)
                continue
            attempt.recheck_commands(now)
            if now >= attempt.abandon_at:
                # The worker ignored the stop: report it and stop waiting for it.
                self.abandoned.append(attempt)
                retry = self._finish(attempt, (Ended.ABANDONED, None), ended=attempt.abandon_at)
                if retry is not None:
                    self._launch(retry)

    def _apply_cancel(self) -> None:
        reason = self.cancel_reason
        if reason is None:
            return
        if self.killing and not self.kill_applied:
            self.kill_applied = True
            for attempt in self.ledger.running.values():
                attempt.ctx.control.stop(StopReason.CANCEL, reason, kill_now=True)
        if self.cancel_applied:
            return
        self.cancel_applied = True
        now = time.monotonic()
        for attempt in self.ledger.running.values():
            attempt.ctx.control.stop(StopReason.CANCEL, reason, kill_now=self.killing)
            attempt.give_up_after_stop(now, self.limits.kill_grace)
        self.ledger.cancel_unstarted(reason)

    # -- starting and running attempts -------------------------------------------

    def _start_ready(self, *, keep: bool = False) -> Attempt | None:
        """Start ready jobs while slots are free; with `keep`, the first one started is
        returned for the calling worker to run, the others go to the pool."""
        kept: Attempt | None = None
        while self.ledger.ready and len(self.ledger.running) < self.limits.max_concurrency:
            if self.cancel_reason is not None or self.closed:
                break
            _, name = heapq.heappop(self.ledger.ready)
            prog = self.ledger.progress[name]
            if prog.result is not None:
                continue
            try:
                attempt = self._start(prog)
            # Not BaseException: on the calling thread, Ctrl-C must stay Ctrl-C.
            except Exception as exc:  # noqa: BLE001 - must not stall the run
                self._fail_internally(name, exc)
                continue
            if keep and kept is None:
                kept = attempt
            else:
                self._launch(attempt)
        return kept

    def _start(self, prog: Progress) -> Attempt:
        """Make the job's next attempt running (call `_launch` or run it yourself)."""
        job = prog.job
        timeout = job.timeout if job.timeout is not None else self.limits.build_timeout
        attempt = begin(prog, self.setup, kill_grace=self.limits.kill_grace, timeout=timeout)
        self.ledger.running[job.name] = attempt
        if attempt.deadline is not None:
            self.inbox.put(_WAKE)  # the calling thread may be asleep past this deadline
        if self.observer is not None:
            try:
                self.observer.started(job, prog.attempts, attempt.ctx)
            except BaseException:
                # No worker will run it: a slot held by it would never be freed.
                del self.ledger.running[job.name]
                attempt.ctx.control.close()
                raise
        return attempt

    def _launch(self, attempt: Attempt) -> None:
        self.pool.submit(self._work_from, attempt)

    def _work_from(self, attempt: Attempt | None) -> None:
        """A worker's turn: run the attempt, record it, and run the next ready job, if any."""
        while attempt is not None:
            outcome = self.parent_context.copy().run(run_attempt, self.fn, attempt)
            with self.lock:
                if self.ledger.running.get(attempt.job.name) is not attempt:
                    # Abandoned: its slot went to another worker, and only this
                    # worker could still have used its control's descriptors.
                    attempt.ctx.control.close()
                    return
                name = attempt.job.name
                try:
                    retry = self._finish(attempt, outcome)
                    attempt = retry or self._start_ready(keep=True)
                except BaseException as exc:  # noqa: BLE001 - see _fail_internally
                    self._fail_internally(name, exc)
                    # The scheduling thread starts what is ready once woken below.
                    attempt = None
                    self.inbox.put(_WAKE)
                if not self.ledger.running or self.cancel_reason is not None:
                    self.inbox.put(_WAKE)

    # -- results -------------------------------------------------------------

    def _fail_internally(self, name: str, exc: BaseException) -> None:
        """Record that bookkeeping for `name` raised (a bug, or an observer's
        callback): the job fails with the error, rather than the worker dying and
        leaving `execute()` waiting for a result that never comes. What this
        leaves undecided the end of the run settles."""
        self.ledger.fail(name, internal_error(name, exc, self.masker.text))

    def _finish(
        self, attempt: Attempt, outcome: tuple[Ended, object], *, ended: float | None = None
    ) -> Attempt | None:
        """Record how the attempt ended (at `ended`, if not now); returns the retry it
        started, if any."""
        del self.ledger.running[attempt.job.name]
        prog = self.ledger.progress[attempt.job.name]
        kind, value = outcome
        if kind is not Ended.ABANDONED:
            attempt.ctx.control.close()
        result = self._classify(attempt, prog, kind, value, ended)
        retryable = result.status in (Status.FAILED, Status.TIMED_OUT)
        if retryable and prog.attempts <= attempt.job.retries and self.cancel_reason is None:
            return self._start(prog)
        self._record(attempt.job.name, result)
        return None

    def _classify(
        self, attempt: Attempt, prog: Progress, kind: Ended, value: object, ended: float | None
    ) -> BuildResult:
        return classify(attempt, prog, kind, value, ended, masker=self.masker)

    def _record(self, name: str, result: BuildResult) -> None:
        if self.ledger.record(name, result) and not self.limits.continue_on_failure:
            self.request_cancel(
                f"cancelled because {name!r} {verb(result.status)} (stop-on-failure)", kill=False
            )
