"""Log directories for runs given no `log_dir`: one per run, inside one
directory per process that is removed at interpreter exit."""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["new_run_dir"]


class _TempLogs:
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


def new_run_dir() -> Path:
    """A log directory of its own for one run, inside this process's temporary one."""
    return _TEMP_LOGS.new_run()
