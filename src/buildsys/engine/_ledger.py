"""Where each job of a run stands: waiting, ready, running or decided, and who waits on whom.

The ledger is plain state, changed only under the schedule's lock; it does not
start or stop anything. Recording a result readies the dependents it unblocks
(in file order, through the ready heap) or, when it is not a success, settles
them as skipped (or cancelled, when the whole run is stopping), naming it.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Mapping, Sequence

import attrs

from ..results import BuildError, BuildResult, Status
from ._attempt import Attempt, Progress
from ._outcome import unstarted, verb
from .job import Job, Observer

__all__ = ["Ledger"]


@attrs.define
class Ledger:
    """The jobs of one run and what is known about each."""

    progress: dict[str, Progress]
    # For each job, the jobs that wait on it, in file order.
    dependents: dict[str, list[str]]
    observer: Observer | None
    # (position in the file, name) of jobs whose dependencies all succeeded.
    ready: list[tuple[int, str]] = attrs.Factory(list)
    running: dict[str, Attempt] = attrs.Factory(dict)
    failure_seen: str | None = None
    # Set once the run is stopping: what has not started is cancelled with it.
    cancel_reason: str | None = None

    @classmethod
    def of(cls, jobs: Sequence[Job], observer: Observer | None) -> Ledger:
        """The jobs' ledger; dependencies outside `jobs` are not waited on."""
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate job names: {', '.join(dupes)}")
        progress: dict[str, Progress] = {}
        dependents: dict[str, list[str]] = {name: [] for name in names}
        for index, job in enumerate(jobs):
            deps = [d for d in job.depends_on if d in dependents]
            progress[job.name] = Progress(job, index, len(deps))
            for dep in deps:
                dependents[dep].append(job.name)
        return cls(progress, dependents, observer)

    def ready_from_start(self, presets: Mapping[str, object]) -> None:
        """Ready the jobs that wait on nothing and have no result decided beforehand."""
        for name, prog in self.progress.items():
            if name not in presets and prog.waiting_on == 0:
                heapq.heappush(self.ready, (prog.index, name))

    def check_acyclic(self) -> None:
        reachable = len(self.ready) + sum(1 for p in self.progress.values() if p.result)
        if reachable == 0 and self.progress:
            raise ValueError("the jobs' dependencies form a cycle")

    def results(self) -> tuple[BuildResult, ...]:
        """Every decided result, in file order."""
        return tuple(
            p.result
            for p in sorted(self.progress.values(), key=lambda p: p.index)
            if p.result is not None
        )

    def record(self, name: str, result: BuildResult, *, notify: bool = True) -> bool:
        """Decide `name` (if it is not yet) and tell the observer; True when this
        recorded a failure, which stops the run if it is not to go on after one."""
        prog = self.progress[name]
        if prog.result is not None:
            return False
        prog.result = result
        if notify and self.observer is not None:
            self.observer.finished(result)
        if result.status.ok:
            for dependent in self.dependents[name]:
                dprog = self.progress[dependent]
                dprog.waiting_on -= 1
                if dprog.waiting_on == 0 and dprog.result is None:
                    heapq.heappush(self.ready, (dprog.index, dependent))
            return False
        if result.status.is_failure and self.failure_seen is None:
            self.failure_seen = name
        self.skip_dependents(name, result)
        return result.status.is_failure

    def skip_dependents(self, name: str, result: BuildResult) -> None:
        status = Status.SKIPPED
        why = f"dependency {name!r} {verb(result.status)}"
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
                self.record(dependent, unstarted(dprog.job, status, why))

    def cancel_unstarted(self, reason: str) -> None:
        """Cancel every job not yet decided nor running: the ready ones first, in file order."""
        for _, name in self.ready:
            prog = self.progress[name]
            if prog.result is None:
                self.record(name, unstarted(prog.job, Status.CANCELLED, reason))
        self.ready.clear()
        for name, prog in self.progress.items():
            if prog.result is None and name not in self.running:
                self.record(name, unstarted(prog.job, Status.CANCELLED, reason))

    def settle_leftovers(self) -> None:
        """Decide the jobs never reached: their dependencies never settled (a cycle), or cancel."""
        reason = self.cancel_reason
        for name, prog in self.progress.items():
            if prog.result is None:
                status = Status.CANCELLED if reason else Status.SKIPPED
                self.record(
                    name,
                    unstarted(prog.job, status, reason or "its dependencies never completed"),
                )

    def fail(self, name: str, error: BuildError) -> None:
        """Fail `name` with buildsys's own error, added to any result it already has;
        the observer is not told (it may be what raised)."""
        attempt = self.running.pop(name, None)
        if attempt is not None:
            with contextlib.suppress(Exception):
                attempt.ctx.control.close()
        prog = self.progress[name]
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
            self.skip_dependents(name, prog.result)
