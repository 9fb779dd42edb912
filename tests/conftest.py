"""Shared helpers for the executor / process tests.

Builds run real Python subprocesses (`[sys.executable, "-c", SCRIPT, *args]`).
Every script gets `PRELUDE`, which imports the usual modules and defines
`note(path, value)`: an atomic write (tmp file + rename), so a test polling for
a pid or timestamp file never reads it half written.

Nothing here asserts on wall-clock time: `wait_for` and `assert_gone` poll only
to give the kernel (or a child) a moment, and fail with a clear message; their
limits are generous, since on a loaded machine an interpreter can take seconds
to start. A test whose build must time out only once its processes are set up
holds the deadlines back with `ReadyGate` instead of hoping a short timeout
outlasts an interpreter start.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from _web_helpers import tools  # noqa: F401 - the fixture of the workspace tests
from buildsys import BuildResult, ExecutionResult
from buildsys.engine.executor import ParallelExecutor
from buildsys.engine.job import Job

PRELUDE = """\
import os, signal, subprocess, sys, time
def note(path, value):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(value))
    os.replace(tmp, path)
"""

# A build step that records when it ran: argv = DIR NAME SECONDS.
TIMED = """
d, n, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
note(f"{d}/{n}.start", repr(time.monotonic()))
time.sleep(secs)
note(f"{d}/{n}.end", repr(time.monotonic()))
"""

# SPEC section 4: the fields of ExecutionResult, and of the JSON report, but `results`.
EXECUTION_FIELDS = frozenset(
    {
        "total_duration",
        "success_count",
        "failure_count",
        "skipped_count",
        "cancelled_count",
        "cached_count",
        "all_completed",
        "ok",
    }
)


def py(code: str, *args: object) -> list[str]:
    """argv running `code` (after PRELUDE) in a fresh interpreter, with `args` as sys.argv[1:]."""
    return [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *map(str, args)]


def wait_for(path: Path, timeout: float = 60.0) -> str:
    """Contents of `path` once it exists (a liveness poll, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.01)
    return path.read_text()


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return f"state={fields[0].decode()} ppid={fields[1].decode()}"


def is_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` no longer exists; a zombie still counts as existing.

    The limit stays well below the 30 s the tests' processes sleep: one that
    buildsys failed to kill must not pass by ending on its own."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


class PidWatch:
    """Checks recorded pids are gone; kills leftovers at teardown so failing tests leak nothing."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def read(self, path: Path, timeout: float = 60.0) -> int:
        pid = int(wait_for(path, timeout))
        self.seen.append(pid)
        return pid

    def assert_gone(self, *pids: int) -> None:
        alive = [p for p in pids if not is_gone(p)]
        assert not alive, "still alive: " + ", ".join(f"{p} ({_proc_state(p)})" for p in alive)

    def cleanup(self) -> None:
        for pid in self.seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue


@pytest.fixture
def pids():
    watch = PidWatch()
    yield watch
    watch.cleanup()


class ReadyGate:
    """An observer that holds back every deadline of a run until `paths` exist.

    Only the thread that called `execute()` acts on deadlines, and observer
    callbacks run holding the scheduling lock it needs to: while `started` of
    the job named `GATE` waits, no build times out. `execute(ex, jobs, fn)`
    runs `jobs` with `GATE` after them, so a build with a short timeout is
    stopped only once the processes it starts have written their ready files,
    however long their interpreters take to start. The executor needs a slot
    for each job and the gate, so that they all start at once.
    """

    GATE = "ready-gate"

    def __init__(self, *paths: Path) -> None:
        self.paths = paths

    def execute(
        self, ex: ParallelExecutor, jobs: list[Job], fn: Callable[[str], object]
    ) -> ExecutionResult:
        assert ex.max_concurrency > len(jobs), "every job and the gate must start at once"

        def run(name: str) -> object:
            return None if name == self.GATE else fn(name)

        # Held back itself, the gate must not time out once let go.
        return ex.execute_jobs([*jobs, Job(self.GATE, timeout=3600)], run)

    def started(self, job: Job, attempt: int, ctx: object) -> None:
        if job.name == self.GATE:
            for path in self.paths:
                wait_for(path)

    def finished(self, result: BuildResult) -> None:
        pass

    def output(self, name: str, line: str) -> None:
        pass


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A log directory inside tmp_path, so runs leave nothing in /tmp."""
    return tmp_path / "logs"


def read_interval(d: Path, name: str) -> tuple[float, float]:
    return float((d / f"{name}.start").read_text()), float((d / f"{name}.end").read_text())


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an end before a start at equal times)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """An empty project directory."""
    path = tmp_path / "proj"
    path.mkdir()
    return path


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    """Where builds record that they ran (see `ran`)."""
    path = tmp_path / "rec"
    path.mkdir()
    return path


def ran(rec: Path, name: str) -> bool:
    """Whether build `name` ran: builds made by the helpers touch `<rec>/<name>.ran`."""
    return (rec / f"{name}.ran").exists()


def fake_cgroups(
    tmp_path: Path, membership: str | bytes, files: dict[str, str | bytes]
) -> tuple[Path, Path]:
    """A fake cgroup tree: (a /proc/self/cgroup holding `membership`, a cgroup mount
    holding `files`), for `buildsys.host.cgroup_cpu_limit(self_cgroup, cgroup_root)`."""
    self_cgroup = tmp_path / "proc-self-cgroup"
    self_cgroup.write_bytes(membership.encode() if isinstance(membership, str) else membership)
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return self_cgroup, root
