"""The worker threads a run's builds execute on, and what a worker does with an attempt.

Workers are daemon threads and not a `ThreadPoolExecutor`, whose workers are
joined at interpreter exit and would hang it on a callable that never returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ..artifacts import describe
from ..errors import BuildFailed
from ..host.context import _current
from ._attempt import Attempt
from ._outcome import Ended

__all__ = ["WorkerPool", "run_attempt"]


class WorkerPool:
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


def run_attempt(fn: Callable[[str], object], attempt: Attempt) -> tuple[Ended, object]:
    """Call `fn` for the attempt's job in its context, without the scheduling lock."""
    _current.set(attempt.ctx)
    sink = attempt.sink
    try:
        sink.open()
        value = fn(attempt.job.name)
        # Hashing artifacts here keeps it out of the scheduling lock.
        return (Ended.RETURNED, (value, describe(attempt.ctx.artifacts)))
    except BaseException as exc:  # noqa: BLE001 - every exception becomes a status
        if not isinstance(exc, BuildFailed):
            import traceback  # only when a build raised: 1 ms of every start otherwise

            attempt.ctx.log_note("".join(traceback.format_exception(exc)))
        return (Ended.RAISED, exc)
    finally:
        sink.close()
