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
subreaper flag only while it is under way (`_proctree.subreaper`), and when
it ends, however it ends (an exception on the calling thread included), it
stops what is still running, waits a bounded time for those commands, then
kills what its builds left: every command carries a token starting with the
run's own prefix, which `_proctree.end_run` looks for.

`Executor` is the interface the engine relies on: `execute_jobs` takes plain,
serialisable `Job` values, so a distributed executor can stand in later.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import attrs

from .._converters import check_concurrency, check_timeout, strs
from .._durations import format_duration
from ..artifacts import Artifact, describe
from ..errors import BuildFailed
from ..host import _proctree
from ..host.context import BuildContext, SharedEnvironment, _current
from ..host.facts import usable_cpus
from ..host.process import Control, OutputSink, StopReason
from ..masking import Masker
from ..results import BuildError, BuildResult, ExecutionResult, Status

__all__ = ["Executor", "Job", "Observer", "ParallelExecutor"]

# How long a stopped worker with a command still under way has, beyond the
# kill grace, to return by itself: run_process may spend a couple of seconds
# making sure the SIGKILLed processes are gone.
ABANDON_SLACK = 2.0
# How long a stopped worker with no command under way has to return by itself:
# Python code that checks ctx.cancelled returns in milliseconds, and there is
# no process left whose kill grace would be worth waiting out.
RETURN_SLACK = 0.5
# How long the end of a run waits for commands still under way (of workers it
# gave up on, or all of them when execute() is leaving by an exception) once
# it has had them SIGKILLed: run_process may take that long to make sure.
LEFTOVER_WAIT = ABANDON_SLACK + 1.0


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


def _now() -> datetime:
    return datetime.now(UTC)


@attrs.define
class _Attempt:
    job: Job
    number: int
    ctx: BuildContext
    sink: OutputSink
    started: float
    started_at: datetime
    deadline: float | None
    abandon_at: float | None = None
    # Whether abandon_at allows for the kill grace of a command still running.
    awaiting_command: bool = False

    def next_wake(self) -> float | None:
        """When the scheduler must look at this attempt again without being told."""
        return self.abandon_at if self.abandon_at is not None else self.deadline

    def give_up_after_stop(self, now: float, kill_grace: float) -> None:
        """Set when to abandon this just-stopped attempt if its worker has not returned."""
        if self.abandon_at is not None:
            return
        # Read after control.stop(): ctx.run counts a command before looking
        # at the stop, so a command starting now is either seen here or refused.
        if self.ctx.commands_running:
            self.awaiting_command = True
            self.abandon_at = now + kill_grace + ABANDON_SLACK
        else:
            self.abandon_at = now + RETURN_SLACK

    def recheck_commands(self, now: float) -> None:
        """Once a stopped attempt's last command has ended, stop waiting out its kill grace."""
        if self.awaiting_command and not self.ctx.commands_running:
            self.awaiting_command = False
            assert self.abandon_at is not None
            self.abandon_at = min(self.abandon_at, now + RETURN_SLACK)


@attrs.define
class _Progress:
    """Everything the scheduling thread knows about one job."""

    job: Job
    index: int
    waiting_on: int
    first_start: float | None = None
    first_started_at: datetime | None = None
    attempts: int = 0
    result: BuildResult | None = None


_WAKE = object()


class _TempLogs:
    """Log directories for runs given no `log_dir`: one per run, inside one
    directory per process that is removed at interpreter exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parent: Path | None = None
        self._owner = 0

    def new_run(self) -> Path:
        """A fresh directory, so two runs' logs of the same name never collide."""
        import tempfile

        with self._lock:
            parent = self._parent
            # A forked child must not share (and later lose) its parent's
            # directory; nor can runs go on in one a temp cleaner removed.
            if parent is None or self._owner != os.getpid() or not parent.is_dir():
                import atexit

                parent = Path(tempfile.mkdtemp(prefix="buildsys-logs-"))
                atexit.register(_remove_logs, parent, os.getpid())
                self._parent, self._owner = parent, os.getpid()
        return Path(tempfile.mkdtemp(prefix="run-", dir=parent))


def _remove_logs(parent: Path, owner: int) -> None:
    # A forked child inherits this handler; only the process that made it removes it.
    if os.getpid() == owner:
        import shutil

        shutil.rmtree(parent, ignore_errors=True)


_TEMP_LOGS = _TempLogs()


class _WorkerPool:
    """Daemon worker threads, reused across jobs, grown on demand.

    A worker whose job never returns is simply left behind (it is a daemon, so
    it cannot hold up interpreter exit); the next submit starts a fresh worker
    when none is idle. Reuse matters: starting a thread per job costs a
    hand-shake with the new thread on every build.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                self._count += 1
                threading.Thread(
                    target=self._loop, name=f"buildsys-worker-{self._count}", daemon=True
                ).start()
        self._jobs.put((fn, args))

    def _loop(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            fn, args = item
            fn(*args)
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        """Let idle workers exit; busy (or abandoned) ones exit when they finish."""
        with self._lock:
            count = self._count
        for _ in range(count):
            self._jobs.put(None)


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
        self._active: _Run | None = None
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
            run = _Run(self, jobs, fn, presets or {})
        except BaseException:
            with self._lock:
                self._starting -= 1
                if not self._starting:
                    self._pending_cancel, self._pending_kill = None, False
            raise
        with self._lock:
            self._starting -= 1
            self._active = run
            if self._pending_cancel is not None:
                run.request_cancel(self._pending_cancel, kill=self._pending_kill)
            self._pending_cancel, self._pending_kill = None, False
        try:
            return run.loop()
        finally:
            with self._lock:
                self._active = None


class _Run:
    """The state of one `execute_jobs` call, owned by the calling thread."""

    def __init__(
        self,
        executor: ParallelExecutor,
        jobs: Sequence[Job],
        fn: Callable[[str], object],
        presets: Mapping[str, BuildResult],
    ) -> None:
        self.ex = executor
        self.fn = fn
        # Scheduling state is changed only with this held (see the module docstring).
        self.lock = threading.Lock()
        # Wakes the calling thread: a cancel, or the last running job finished.
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.closed = False
        self.pool = _WorkerPool()
        self.cancel_reason: str | None = None
        self.killing = False
        self.parent_context = contextvars.copy_context()
        # Every command of the run carries a token starting with this, so that
        # what the run leaves behind can be found and killed when it ends.
        self.token_prefix = _proctree.run_prefix()
        # Attempts given up on while their worker was still in them.
        self.abandoned: list[_Attempt] = []
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate job names: {', '.join(dupes)}")
        self.progress: dict[str, _Progress] = {}
        self.dependents: dict[str, list[str]] = {name: [] for name in names}
        for index, job in enumerate(jobs):
            deps = [d for d in job.depends_on if d in self.dependents]
            self.progress[job.name] = _Progress(job, index, len(deps))
            for dep in deps:
                self.dependents[dep].append(job.name)
        self.ready: list[tuple[int, str]] = []
        self.running: dict[str, _Attempt] = {}
        self.started_wall = time.monotonic()
        given = executor._log_dir
        self.log_dir = given if given is not None else _TEMP_LOGS.new_run()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # One snapshot per run, encoded once: copying os.environ decodes every
        # variable again, and spawning encodes every one.
        self.environ = SharedEnvironment(
            os.environ if executor.environ is None else executor.environ
        )
        self.failure_seen: str | None = None
        self.cancel_applied = False
        self.kill_applied = False
        # Jobs ready from the start first; recording a preset then readies the
        # dependents it unblocks, each exactly once.
        for name, prog in self.progress.items():
            if name not in presets and prog.waiting_on == 0:
                heapq.heappush(self.ready, (prog.index, name))
        for name, result in presets.items():
            if name in self.progress:
                self._record(name, result)
        self._check_acyclic()

    def request_cancel(self, reason: str, *, kill: bool) -> None:
        """Thread-safe: the scheduling thread applies it when it next wakes."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        if kill:
            self.killing = True
        self.inbox.put(_WAKE)

    def _wake(self) -> None:
        """Thread-safe: make the scheduling thread look at the running attempts again."""
        self.inbox.put(_WAKE)

    def _check_acyclic(self) -> None:
        reachable = len(self.ready) + sum(1 for p in self.progress.values() if p.result)
        if reachable == 0 and self.progress:
            raise ValueError("the jobs' dependencies form a cycle")

    # -- the loop --------------------------------------------------------------

    def loop(self) -> ExecutionResult:
        # The subreaper flag is the host's: held for the run only (its commands set it).
        with _proctree.subreaper.held():
            spawns = _proctree.spawn_count()
            try:
                self._schedule()
            finally:
                self._end(spawns)
        self._settle_leftovers()
        results = tuple(
            p.result
            for p in sorted(self.progress.values(), key=lambda p: p.index)
            if p.result is not None
        )
        return ExecutionResult(
            results=results,
            total_duration=time.monotonic() - self.started_wall,
            interrupted=False,
        )

    def _schedule(self) -> None:
        while True:
            with self.lock:
                self._apply_cancel()
                self._start_ready()
                if not self.running and not (self.ready and not self.cancel_reason):
                    self.closed = True
                    return
                wake_at = [
                    t for t in map(_Attempt.next_wake, self.running.values()) if t is not None
                ]
            self._wait(min(wake_at) if wake_at else None)
            with self.lock:
                self._check_deadlines()

    def _end(self, spawns: int) -> None:
        """Leave nothing of the run behind, however the loop ended."""
        with self.lock:
            self.closed = True
            # Still running only when the loop is leaving by an exception (Ctrl-C).
            leftovers = [*self.running.values(), *self.abandoned]
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
            _proctree.end_run(self.token_prefix)

    def _settle_leftovers(self) -> None:
        # Jobs never reached: their dependencies never settled (a cycle), or cancel.
        reason = self.cancel_reason
        for name, prog in self.progress.items():
            if prog.result is None:
                status = Status.CANCELLED if reason else Status.SKIPPED
                self._record(
                    name,
                    self._unstarted(prog.job, status, reason or "its dependencies never completed"),
                )

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
        now = time.monotonic()
        for attempt in list(self.running.values()):
            if attempt.abandon_at is None:
                if attempt.deadline is not None and now >= attempt.deadline:
                    limit = format_duration(attempt.job.timeout or self.ex.build_timeout or 0)
                    attempt.ctx.control.stop(StopReason.TIMEOUT, limit)
                    attempt.give_up_after_stop(now, self.ex.kill_grace)
                continue
            attempt.recheck_commands(now)
            if now >= attempt.abandon_at:
                # The worker ignored the stop: report it and stop waiting for it.
                self.abandoned.append(attempt)
                retry = self._finish(attempt, ("abandoned", None), ended=attempt.abandon_at)
                if retry is not None:
                    self._launch(retry)

    def _apply_cancel(self) -> None:
        reason = self.cancel_reason
        if reason is None:
            return
        if self.killing and not self.kill_applied:
            self.kill_applied = True
            for attempt in self.running.values():
                attempt.ctx.control.stop(StopReason.CANCEL, reason, kill_now=True)
        if self.cancel_applied:
            return
        self.cancel_applied = True
        now = time.monotonic()
        for attempt in self.running.values():
            attempt.ctx.control.stop(StopReason.CANCEL, reason, kill_now=self.killing)
            attempt.give_up_after_stop(now, self.ex.kill_grace)
        for _, name in self.ready:
            prog = self.progress[name]
            if prog.result is None:
                self._record(name, self._unstarted(prog.job, Status.CANCELLED, reason))
        self.ready.clear()
        for name, prog in self.progress.items():
            if prog.result is None and name not in self.running:
                self._record(name, self._unstarted(prog.job, Status.CANCELLED, reason))

    def _start_ready(self, *, keep: bool = False) -> _Attempt | None:
        """Start ready jobs while slots are free; with `keep`, the first one started is
        returned for the calling worker to run, the others go to the pool."""
        kept: _Attempt | None = None
        while self.ready and len(self.running) < self.ex.max_concurrency:
            if self.cancel_reason is not None or self.closed:
                break
            _, name = heapq.heappop(self.ready)
            if self.progress[name].result is not None:
                continue
            try:
                attempt = self._start(self.progress[name])
            # Not BaseException: on the calling thread, Ctrl-C must stay Ctrl-C.
            except Exception as exc:  # noqa: BLE001 - must not stall the run
                self._fail_internally(name, exc)
                continue
            if keep and kept is None:
                kept = attempt
            else:
                self._launch(attempt)
        return kept

    def _start(self, prog: _Progress) -> _Attempt:
        """Make the job's next attempt running (call `_launch` or run it yourself)."""
        job = prog.job
        prog.attempts += 1
        now = time.monotonic()
        if prog.first_start is None:
            prog.first_start = now
            prog.first_started_at = _now()
        log_path = self.log_dir / f"{job.name}.log"
        if prog.attempts > 1 and log_path.exists():
            log_path.replace(self.log_dir / f"{job.name}.attempt{prog.attempts - 1}.log")
        control = Control(self.ex.kill_grace)
        on_line = None
        observer = self.ex._observer
        if observer is not None and getattr(observer, "wants_output", False):
            name = job.name
            on_line = lambda line: observer.output(name, line)  # noqa: E731
        sink = OutputSink(log_path, self.ex._masker, on_line)
        ctx = BuildContext(
            job.name,
            control=control,
            sink=sink,
            log_path=log_path,
            env=self.environ,
            env_overrides=job.env,
            cwd=Path(job.cwd) if job.cwd else None,
            masker=self.ex._masker,
            token=f"{self.token_prefix}{prog.index}.{prog.attempts}",
            attempt=prog.attempts,
            # A stopped build's last command ending may let it be abandoned sooner.
            on_commands_done=self._wake,
        )
        timeout = job.timeout if job.timeout is not None else self.ex.build_timeout
        attempt = _Attempt(
            job=job,
            number=prog.attempts,
            ctx=ctx,
            sink=sink,
            started=now,
            started_at=_now(),
            deadline=now + timeout if timeout is not None else None,
        )
        self.running[job.name] = attempt
        if attempt.deadline is not None:
            self.inbox.put(_WAKE)  # the calling thread may be asleep past this deadline
        if observer is not None:
            try:
                observer.started(job, prog.attempts, ctx)
            except BaseException:
                # No worker will run it: a slot held by it would never be freed.
                del self.running[job.name]
                control.close()
                raise
        return attempt

    def _launch(self, attempt: _Attempt) -> None:
        self.pool.submit(self._work_from, attempt)

    def _work_from(self, attempt: _Attempt | None) -> None:
        """A worker's turn: run the attempt, record it, and run the next ready job, if any."""
        while attempt is not None:
            outcome = self.parent_context.copy().run(self._work, attempt)
            with self.lock:
                if self.running.get(attempt.job.name) is not attempt:
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
                if not self.running or self.cancel_reason is not None:
                    self.inbox.put(_WAKE)

    def _work(self, attempt: _Attempt) -> tuple[str, object]:
        _current.set(attempt.ctx)
        sink = attempt.sink
        try:
            sink.open()
            value = self.fn(attempt.job.name)
            # Hashing artifacts here keeps it out of the scheduling lock.
            return ("returned", (value, describe(attempt.ctx.artifacts)))
        except BaseException as exc:  # noqa: BLE001 - every exception becomes a status
            if not isinstance(exc, BuildFailed):
                import traceback  # only when a build raised: 1 ms of every start otherwise

                attempt.ctx.log_note("".join(traceback.format_exception(exc)))
            return ("raised", exc)
        finally:
            sink.close()

    # -- results -------------------------------------------------------------

    def _fail_internally(self, name: str, exc: BaseException) -> None:
        """Record that bookkeeping for `name` raised (a bug, or an observer's
        callback): the job fails with the error, rather than the worker dying and
        leaving `execute()` waiting for a result that never comes. The observer is
        not told (it may be what raised); what this leaves undecided the end of
        the run settles."""
        attempt = self.running.pop(name, None)
        if attempt is not None:
            with contextlib.suppress(Exception):
                attempt.ctx.control.close()
        prog = self.progress[name]
        where = _origin(exc)
        error = BuildError(
            message=self.ex._masker.text(
                f"buildsys failed while recording {name}: {_describe_exception(exc)}{where}"
            ),
            code="INTERNAL_ERROR",
            suggestions=(
                "this is a bug in buildsys or in an observer or plugin it calls; please report it",
            ),
            context={"exception": type(exc).__name__},
        )
        previous = prog.result
        if previous is None:
            prog.result = BuildResult(
                name=name, platform=prog.job.platform, status=Status.FAILED, errors=(error,)
            )
        else:
            prog.result = attrs.evolve(
                previous,
                status=Status.FAILED if previous.status.ok else previous.status,
                errors=(*previous.errors, error),
            )
        if self.failure_seen is None:
            self.failure_seen = name
        # Best effort: an observer raising again leaves dependents to the end of the run.
        with contextlib.suppress(Exception):
            self._skip_dependents(name, prog.result)

    def _finish(
        self, attempt: _Attempt, outcome: tuple[str, object], *, ended: float | None = None
    ) -> _Attempt | None:
        """Record how the attempt ended (at `ended`, if not now); returns the retry it
        started, if any."""
        del self.running[attempt.job.name]
        prog = self.progress[attempt.job.name]
        kind, value = outcome
        if kind != "abandoned":
            attempt.ctx.control.close()
        result = self._classify(attempt, prog, kind, value, ended)
        retryable = result.status in (Status.FAILED, Status.TIMED_OUT)
        if retryable and prog.attempts <= attempt.job.retries and self.cancel_reason is None:
            return self._start(prog)
        self._record(attempt.job.name, result)
        return None

    def _classify(
        self, attempt: _Attempt, prog: _Progress, kind: str, value: object, ended: float | None
    ) -> BuildResult:
        job = attempt.job
        ctx = attempt.ctx
        finished = time.monotonic()
        finished_at = _now()
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
        if kind == "returned":
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
                        f"the build returned a result named {value.name!r}; "
                        f"recorded as {job.name!r}",
                    ),
                )
        if stop == StopReason.TIMEOUT:
            limit = ctx.control.detail or "its limit"
            where = job.timeout_source or "the build_timeout given to ParallelExecutor"
            # What the build's code raised on being stopped may carry hints about
            # what it was doing (the engine adds catalogue and plugin suggestions).
            hints: tuple[str, ...] = ()
            context: dict[str, object] = {"timeout": limit}
            if kind == "raised" and isinstance(value, BuildFailed):
                mask = self.ex._masker.text
                hints = tuple(mask(s) for s in value.suggestions)
                if "toolchain" in value.context:
                    context["toolchain"] = _mask_value(value.context["toolchain"], mask)
            error = BuildError(
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
            return BuildResult(status=Status.TIMED_OUT, errors=(error,), **base)  # type: ignore[arg-type]
        if stop == StopReason.CANCEL:
            return BuildResult(
                status=Status.CANCELLED,
                reason=ctx.control.detail or "cancelled",
                **base,  # type: ignore[arg-type]
            )
        if kind == "raised":
            error = self._error_from(value)
            return BuildResult(status=Status.FAILED, errors=(error,), **base)  # type: ignore[arg-type]
        return BuildResult(
            status=Status.SUCCEEDED,
            flaky=prog.attempts > 1,
            artifact_details=details,
            **base,  # type: ignore[arg-type]
        )

    def _error_from(self, exc: object) -> BuildError:
        mask = self.ex._masker.text
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
            message=mask(f"{_describe_exception(exc)}{_origin(exc)}"),
            code="UNEXPECTED_ERROR",
            suggestions=(
                "this looks like a bug in the code the build ran; see the traceback in the log",
            ),
            context={"exception": type(exc).__name__},
        )

    def _unstarted(self, job: Job, status: Status, reason: str) -> BuildResult:
        return BuildResult(name=job.name, platform=job.platform, status=status, reason=reason)

    def _record(self, name: str, result: BuildResult, *, notify: bool = True) -> None:
        prog = self.progress[name]
        if prog.result is not None:
            return
        prog.result = result
        if notify and self.ex._observer is not None:
            self.ex._observer.finished(result)
        if result.status.ok:
            for dependent in self.dependents[name]:
                dprog = self.progress[dependent]
                dprog.waiting_on -= 1
                if dprog.waiting_on == 0 and dprog.result is None:
                    heapq.heappush(self.ready, (dprog.index, dependent))
            return
        if result.status.is_failure and self.failure_seen is None:
            self.failure_seen = name
        self._skip_dependents(name, result)
        if result.status.is_failure and not self.ex.continue_on_failure:
            self.request_cancel(
                f"cancelled because {name!r} {_verb(result.status)} (stop-on-failure)", kill=False
            )

    def _skip_dependents(self, name: str, result: BuildResult) -> None:
        status = Status.SKIPPED
        why = f"dependency {name!r} {_verb(result.status)}"
        if result.status is Status.CANCELLED and self.cancel_reason is not None:
            # The whole run is stopping: what had not started is cancelled, not skipped.
            status, why = Status.CANCELLED, self.cancel_reason
        elif result.status is Status.SKIPPED and result.reason:
            # Name the root cause once rather than nesting a chain of reasons.
            why = (
                result.reason
                if result.reason.startswith("dependency ")
                else f"{why}: {result.reason}"
            )
        for dependent in self.dependents[name]:
            dprog = self.progress[dependent]
            if dprog.result is None and dependent not in self.running:
                self._record(dependent, self._unstarted(dprog.job, status, why))


def _describe_exception(exc: BaseException) -> str:
    """ "ValueError: bad input", or just "KeyboardInterrupt" when it has no text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _origin(exc: BaseException) -> str:
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


def _verb(status: Status) -> str:
    return {
        Status.FAILED: "failed",
        Status.TIMED_OUT: "timed out",
        Status.CANCELLED: "was cancelled",
        Status.SKIPPED: "was skipped",
    }.get(status, status.value)
