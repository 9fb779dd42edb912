"""One run's memo of toolchain questions: tool lookups, `probe()` answers, stat facts.

A run asks the same questions of many builds: where `node` is on one PATH,
what `node --version` says in one environment. The engine makes one `RunMemo`
per run and puts it in effect (`using`) around each builder call that asks
them (`fingerprint`, `check`, `check_build`); `buildsys.probe` and
`buildsys.find_tool` then answer each distinct question once per run, however
many builds and threads ask it. Outside a run (a plugin's own tests, `buildsys
plugins`) nothing is memoised, so nothing can go stale.

A context variable rather than a module-level dict: each run has its own memo,
and a worker thread sees the memo of the call it is in.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["RunMemo", "Session", "memoised", "note_probe", "using"]

T = TypeVar("T")


class RunMemo:
    """Answers by key, each computed once: concurrent askers of one key wait for the first."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            return self._values[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
            value = compute()
            self._values[key] = value
            return value


class Session:
    """One builder call under a memo; `probed` says whether it asked any tool anything."""

    __slots__ = ("memo", "probed")

    def __init__(self, memo: RunMemo) -> None:
        self.memo = memo
        self.probed = False


_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "buildsys_run_memo", default=None
)


class using:  # lower case: it reads as a function, `with using(memo):`
    """Put `memo` in effect in this thread for the duration of the block.

    A class, not a generator context manager: it is entered once per build.
    """

    __slots__ = ("_session", "_token")

    def __init__(self, memo: RunMemo) -> None:
        self._session = Session(memo)
        self._token: contextvars.Token[Session | None] | None = None

    def __enter__(self) -> Session:
        self._token = _session.set(self._session)
        return self._session

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _session.reset(self._token)


def memoised(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per run for `key` when a run's memo is in effect."""
    session = _session.get()
    if session is None:
        return compute()
    return session.memo.once(key, compute)


def note_probe() -> None:
    """The builder call in progress ran (or reused) a tool probe."""
    session = _session.get()
    if session is not None:
        session.probed = True
