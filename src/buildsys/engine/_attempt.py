"""One attempt at a job: its context and log, and when the scheduler must look at it again.

An attempt has a deadline (its timeout) and, once stopped, a time to be
abandoned at if its worker has not returned: the kill grace plus
`ABANDON_SLACK` while a command of its `ctx.run` is under way, else only
`RETURN_SLACK` (see the scheduler's docstring).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs

from ..host.context import BuildContext, SharedEnvironment
from ..host.output import OutputSink
from ..host.process import Control
from ..masking import Masker
from ..results import BuildResult
from .job import Job, Observer

__all__ = ["ABANDON_SLACK", "RETURN_SLACK", "Attempt", "Progress", "Setup", "begin", "now_utc"]

# How long a stopped worker with a command still under way has, beyond the
# kill grace, to return by itself: run_process may spend a couple of seconds
# making sure the SIGKILLed processes are gone.
ABANDON_SLACK = 2.0
# How long a stopped worker with no command under way has to return by itself:
# Python code that checks ctx.cancelled returns in milliseconds, and there is
# no process left whose kill grace would be worth waiting out.
RETURN_SLACK = 0.5


def now_utc() -> datetime:
    return datetime.now(UTC)


@attrs.define
class Progress:
    """Everything the scheduling thread knows about one job."""

    job: Job
    index: int
    waiting_on: int
    first_start: float | None = None
    first_started_at: datetime | None = None
    attempts: int = 0
    result: BuildResult | None = None


@attrs.define
class Attempt:
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


@attrs.frozen
class Setup:
    """What every attempt of one run shares."""

    log_dir: Path
    masker: Masker
    # One snapshot per run, encoded once: copying os.environ decodes every
    # variable again, and spawning encodes every one.
    environ: SharedEnvironment
    # Every command of the run carries a token starting with this, so that
    # what the run leaves behind can be found and killed when it ends.
    token_prefix: str
    observer: Observer | None
    # Called when a build's last command ends: a stopped build may then be
    # abandoned sooner.
    wake: Callable[[], None]


def begin(prog: Progress, setup: Setup, *, kill_grace: float, timeout: float | None) -> Attempt:
    """The job's next attempt, counted, with its log (the previous one's kept) and context."""
    job = prog.job
    prog.attempts += 1
    now = time.monotonic()
    if prog.first_start is None:
        prog.first_start = now
        prog.first_started_at = now_utc()
    log_path = setup.log_dir / f"{job.name}.log"
    if prog.attempts > 1 and log_path.exists():
        log_path.replace(setup.log_dir / f"{job.name}.attempt{prog.attempts - 1}.log")
    control = Control(kill_grace)
    on_line = None
    observer = setup.observer
    if observer is not None and getattr(observer, "wants_output", False):
        name = job.name
        on_line = lambda line: observer.output(name, line)  # noqa: E731
    sink = OutputSink(log_path, setup.masker, on_line)
    ctx = BuildContext(
        job.name,
        control=control,
        sink=sink,
        log_path=log_path,
        env=setup.environ,
        env_overrides=job.env,
        cwd=Path(job.cwd) if job.cwd else None,
        masker=setup.masker,
        token=f"{setup.token_prefix}{prog.index}.{prog.attempts}",
        attempt=prog.attempts,
        on_commands_done=setup.wake,
    )
    return Attempt(
        job=job,
        number=prog.attempts,
        ctx=ctx,
        sink=sink,
        started=now,
        started_at=now_utc(),
        deadline=now + timeout if timeout is not None else None,
    )
