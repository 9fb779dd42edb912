"""The library leaves its host as it found it (SPEC section 7).

After `ParallelExecutor.execute()`, `buildsys.run()`, a lone `ctx.run` or an
in-process CLI run returns, however it ends, the calling process has the
child subreaper flag it had before (read with prctl), the same signal
handlers and mask, working directory and environment; and nothing a build
started is left running, or left as a zombie of the host. Builds write pid
files once set up (readiness files); nothing here races the clock: where a
build must time out, its limit is far beyond what setting up needs.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import buildsys
from _cli_helpers import RECORD, cli, command, write_builds
from buildsys import Status
from buildsys.engine.executor import ParallelExecutor
from buildsys.engine.job import Job
from buildsys.host.context import BuildContext
from buildsys.host.output import OutputSink
from buildsys.host.process import Control
from buildsys.masking import Masker
from conftest import PRELUDE, py, ran, wait_for

LINUX = sys.platform.startswith("linux")
needs_prctl = pytest.mark.skipif(not LINUX, reason="the child subreaper flag is Linux's")

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def subreaper_flag() -> int | None:
    """This process's PR_GET_CHILD_SUBREAPER, or None off Linux."""
    if not LINUX:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    value = ctypes.c_int(-1)
    assert libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) == 0
    return value.value


def set_subreaper_flag(value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, value, 0, 0, 0) == 0
    assert subreaper_flag() == value


@pytest.fixture
def host_flag(request: pytest.FixtureRequest) -> Iterator[int]:
    """The flag as the host sets it for the test (param, default 0); put back afterwards."""
    value: int = getattr(request, "param", 0)
    original = subreaper_flag()
    assert original is not None
    set_subreaper_flag(value)
    try:
        yield value
    finally:
        set_subreaper_flag(original)


def host_state() -> dict[str, Any]:
    handlers = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(ValueError, OSError):
            handlers[sig] = signal.getsignal(sig)
    return {
        "handlers": handlers,
        "mask": signal.pthread_sigmask(signal.SIG_BLOCK, []),
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "subreaper": subreaper_flag(),
    }


# argv: DIR NAME. A setsid grandchild with its output elsewhere: it left the
# build's group and holds no pipe, so only its token or the tree finds it.
GRANDCHILD = (
    PRELUDE
    + """
d, n = sys.argv[1], sys.argv[2]
os.setsid()
fd = os.open(os.devnull, os.O_RDWR)
for i in (0, 1, 2):
    os.dup2(fd, i)
note(f"{d}/{n}.gc", os.getpid())
time.sleep(300)
"""
)

# argv: DIR NAME GRANDCHILD. Starts the grandchild, then sleeps until stopped.
TREE = """
d, n = sys.argv[1], sys.argv[2]
subprocess.Popen([sys.executable, "-c", sys.argv[3], d, n])
note(f"{d}/{n}.main", os.getpid())
time.sleep(300)
"""

# argv: DIR NAME. A classic daemon (double fork, new session, output to
# /dev/null) whose starter does not wait for the middle process, then a
# build that succeeds: the daemon outlives its command, and the middle
# process becomes a zombie that the command's exit hands to its subreaper.
LEAVES_DAEMON = """
d, n = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        note(f"{d}/{n}.daemon", os.getpid())
        time.sleep(300)
        os._exit(0)
    note(f"{d}/{n}.mid", os.getpid())
    os._exit(0)
deadline = time.monotonic() + 60
while not all(os.path.exists(f"{d}/{n}.{r}") for r in ("mid", "daemon")):
    if time.monotonic() > deadline:
        sys.exit("the daemon never started")
    time.sleep(0.01)
"""

# argv: DIR. A host program's own orphan: a child that forks and exits; the
# grandchild, once re-parented, notes its pid and new parent, and exits.
HOST_ORPHAN = """
d = sys.argv[1]
parent = os.getpid()
if os.fork() == 0:
    deadline = time.monotonic() + 60
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.01)
    note(f"{d}/orphan", f"{os.getpid()} {os.getppid()}")
    os._exit(0)
os._exit(0)
"""


def tree(tmp_path: Path, name: str) -> list[str]:
    return py(TREE, tmp_path, name, GRANDCHILD)


def tree_pids(pids: Any, tmp_path: Path, name: str) -> list[int]:
    return [pids.read(tmp_path / f"{name}.{role}", timeout=60) for role in ("main", "gc")]


def run_a_command(name: str) -> None:
    buildsys.current_context().run(py("pass"))


# -- the subreaper flag --------------------------------------------------------------


@needs_prctl
@pytest.mark.parametrize("host_flag", [0, 1], indirect=True, ids=["host-0", "host-1"])
def test_execute_restores_the_subreaper_flag(logs, host_flag):
    during: list[int | None] = []

    def fn(name):
        run_a_command(name)
        # Set by the first command, held until the run ends: orphans come back to it.
        during.append(subreaper_flag())

    result = ParallelExecutor(log_dir=logs).execute(["a", "b"], fn)

    assert result.ok, result
    assert during == [1, 1]
    assert subreaper_flag() == host_flag


@needs_prctl
@pytest.mark.parametrize("host_flag", [0, 1], indirect=True, ids=["host-0", "host-1"])
def test_run_restores_the_subreaper_flag(proj, rec, host_flag):
    path = write_builds(proj, {"a": command(RECORD, rec, "a")})

    result = buildsys.run(buildsys.load_config(path))

    assert result.ok, result
    assert ran(rec, "a")
    assert subreaper_flag() == host_flag


# argv: LOGS PROJECT. A host program of its own: the flag before and after each call.
FRESH_HOST = """
import ctypes, json, sys
import buildsys

libc = ctypes.CDLL(None)
def flag():
    value = ctypes.c_int(-1)
    libc.prctl(37, ctypes.byref(value), 0, 0, 0)
    return value.value

seen = [flag()]
ex = buildsys.ParallelExecutor(log_dir=sys.argv[1])
cmd = [sys.executable, "-c", "pass"]
assert ex.execute(["a"], lambda n: buildsys.current_context().run(cmd)).ok
seen.append(flag())
assert buildsys.run(buildsys.load_config(sys.argv[2])).ok
seen.append(flag())
print(json.dumps(seen))
"""


@needs_prctl
def test_a_fresh_host_program_keeps_its_flag_through_execute_and_run(tmp_path, proj, rec):
    """In a process of its own, so that no earlier test has touched the flag."""
    path = write_builds(proj, {"a": command(RECORD, rec, "a")})
    done = subprocess.run(
        [sys.executable, "-c", FRESH_HOST, str(tmp_path / "logs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Not inherited across fork: a new process starts without it.
    assert json.loads(done.stdout) == [0, 0, 0]


@needs_prctl
def test_the_host_s_own_orphans_after_a_run_are_not_adopted(logs, tmp_path, host_flag):
    assert ParallelExecutor(log_dir=logs).execute(["a"], run_a_command).ok

    subprocess.run(py(HOST_ORPHAN, tmp_path), check=True)
    pid, parent = map(int, wait_for(tmp_path / "orphan", timeout=60).split())
    if parent == os.getpid():
        os.waitpid(pid, 0)  # do not leave the zombie it became to the rest of the suite
    assert parent != os.getpid(), "the host's orphan was re-parented to the host"


# argv: READY GO. Notes that it runs, then waits for GO (a liveness bound, not a timing).
WAITS_FOR_GO = """
ready, go = sys.argv[1], sys.argv[2]
note(ready, os.getpid())
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.01)
"""


@needs_prctl
def test_two_runs_at_once_in_two_threads_each_hold_the_flag(logs, tmp_path, host_flag):
    """The first run to end leaves the flag set and the other's command running; the
    last one puts the flag back."""
    ready, go = tmp_path / "second.ready", tmp_path / "go"
    first_done = threading.Event()
    results: dict[str, Any] = {}

    def fn(name):
        ctx = buildsys.current_context()
        if name == "second":
            ctx.run(py(WAITS_FOR_GO, ready, go))
        else:
            wait_for(ready, timeout=60)  # the second run's command is under way
            ctx.run(py("pass"))

    def execute(name):
        results[name] = ParallelExecutor(log_dir=logs / name).execute([name], fn)
        if name == "first":
            first_done.set()

    threads = [threading.Thread(target=execute, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    try:
        assert first_done.wait(60), "the first run did not end"
        assert subreaper_flag() == 1, "the first run to end dropped the flag the other needs"
        assert "second" not in results
    finally:
        go.write_text("")
        for t in threads:
            t.join(60)
    assert results["first"].ok, results["first"]
    # Its command was not killed with what the first run left behind.
    assert results["second"].ok, results["second"]
    assert subreaper_flag() == host_flag


@needs_prctl
def test_a_run_inside_a_build_keeps_the_flag_for_the_outer_run(logs, tmp_path, host_flag):
    inner_after: list[int | None] = []

    def outer(name):
        inner = ParallelExecutor(log_dir=logs / "inner").execute(["in"], run_a_command)
        assert inner.ok, inner
        inner_after.append(subreaper_flag())
        # The outer build's own setsid grandchild is still found on timeout: see below;
        # here it is enough that its command still runs with the flag set.
        buildsys.current_context().run(py("pass"))

    result = ParallelExecutor(log_dir=logs / "outer").execute(["out"], outer)

    assert result.ok, result
    assert inner_after == [1]
    assert subreaper_flag() == host_flag


# -- however execute() ends ------------------------------------------------------------


class _Interrupt(BaseException):
    """Raised by an observer on the calling thread, as Ctrl-C would be."""


class _RaisingObserver:
    """Raises from `started` of the second build, once the first build's tree is set up."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def started(self, job, attempt, ctx):
        if job.name == "second":
            for role in ("main", "gc"):
                wait_for(self.tmp_path / f"first.{role}", timeout=60)
            raise _Interrupt

    def finished(self, result):
        pass

    def output(self, name, line):
        pass


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["succeeded", "failed", "cancelled", "raised"])
def test_however_execute_ends_the_host_is_as_it_was_and_no_process_is_left(
    logs, tmp_path, pids, ending
):
    before = host_state()
    observer = _RaisingObserver(tmp_path) if ending == "raised" else None
    ex = ParallelExecutor(max_concurrency=2, log_dir=logs, kill_grace=0.5, observer=observer)
    canceller = None

    def fn(name):
        ctx = buildsys.current_context()
        if ending in ("succeeded", "failed"):
            ctx.run(py("sys.exit(int(sys.argv[1]))", int(ending == "failed")))
        else:
            ctx.run(tree(tmp_path, name))

    if ending == "cancelled":

        def cancel_once_set_up():
            for role in ("main", "gc"):
                wait_for(tmp_path / f"first.{role}", timeout=60)
            ex.cancel("the test cancelled it")

        canceller = threading.Thread(target=cancel_once_set_up)
        canceller.start()
    if ending == "raised":
        with pytest.raises(_Interrupt):
            ex.execute_jobs([Job("first"), Job("second")], fn)
    else:
        result = ex.execute(["first"], fn)
        expected = {"succeeded": Status.SUCCEEDED, "failed": Status.FAILED}
        assert result["first"].status is expected.get(ending, Status.CANCELLED), result
    if canceller is not None:
        canceller.join(60)

    assert host_state() == before
    if ending in ("cancelled", "raised"):
        pids.assert_gone(*tree_pids(pids, tmp_path, "first"))


@needs_prctl
@pytest.mark.slow
def test_a_timed_out_build_s_setsid_grandchild_is_still_killed(logs, tmp_path, pids, host_flag):
    before = host_state()
    # Far beyond what starting two interpreters takes; the build itself never ends.
    ex = ParallelExecutor(build_timeout=8.0, kill_grace=0.5, log_dir=logs)

    result = ex.execute(["t"], lambda name: buildsys.current_context().run(tree(tmp_path, name)))

    assert result["t"].status is Status.TIMED_OUT, result
    pids.assert_gone(*tree_pids(pids, tmp_path, "t"))
    assert host_state() == before


@needs_prctl
def test_a_daemon_a_build_left_is_killed_and_reaped_when_the_run_ends(
    logs, tmp_path, pids, host_flag
):
    def fn(name):
        buildsys.current_context().run(py(LEAVES_DAEMON, tmp_path, name))

    result = ParallelExecutor(log_dir=logs).execute(["d"], fn)

    assert result["d"].status is Status.SUCCEEDED, result["d"].errors
    daemon, mid = (pids.read(tmp_path / f"d.{role}") for role in ("daemon", "mid"))
    # Gone, not a zombie: both were re-parented to this process while the run
    # held the flag, and it must not keep them once the run is over.
    pids.assert_gone(daemon, mid)
    assert subreaper_flag() == host_flag


@needs_prctl
def test_the_host_s_own_children_outlive_a_run(logs, host_flag):
    """Only what builds started is killed when a run ends, never the host's own."""
    own = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True
    )
    try:
        assert ParallelExecutor(log_dir=logs).execute(["a"], run_a_command).ok
        assert own.poll() is None, "a run killed a child of the host"
    finally:
        own.kill()
        own.wait()


# -- buildsys.run, a lone ctx.run, probe, the CLI in-process --------------------------------


def test_run_leaves_signals_cwd_and_environment_as_they_were(proj, rec):
    (proj / "sub").mkdir()
    path = write_builds(
        proj,
        {
            "a": command(RECORD, rec, "a", cwd="sub", env={"BSYS_HOST_TEST": "set"}),
            "b": command(RECORD, rec, "b", **{"depends-on": ["a"]}),
        },
    )
    before = host_state()

    result = buildsys.run(buildsys.load_config(path))

    assert result.ok, result
    assert ran(rec, "a") and ran(rec, "b")
    assert host_state() == before


@needs_prctl
def test_a_lone_ctx_run_restores_the_flag_and_leaves_no_orphan(tmp_path, pids, host_flag):
    """A `BuildContext` made by hand: its command is its own run."""
    control = Control()
    log = tmp_path / "lone.log"
    ctx = BuildContext(
        "lone",
        control=control,
        sink=OutputSink(log, Masker()),
        log_path=log,
        env=os.environ,
        cwd=None,
        masker=Masker(),
        token="made-by-hand",
    )
    try:
        ctx.run(py(LEAVES_DAEMON, tmp_path, "lone"))
    finally:
        control.close()

    daemon, mid = (pids.read(tmp_path / f"lone.{role}") for role in ("daemon", "mid"))
    pids.assert_gone(daemon, mid)
    assert subreaper_flag() == host_flag


def test_probe_leaves_the_host_as_it_found_it():
    before = host_state()

    said = buildsys.probe([sys.executable, "-c", "print('hello')"])

    assert said.ok and said.output == "hello"
    assert host_state() == before


@pytest.mark.slow
def test_the_cli_run_in_process_leaves_the_host_as_it_found_it(proj, rec, pids):
    from buildsys.cli.main import main

    path = write_builds(
        proj, {"a": command(RECORD, rec, "a"), "d": command(LEAVES_DAEMON, rec, "d")}
    )
    before = host_state()

    assert main(["build", "-f", str(path), "--progress", "none"]) == 0

    assert ran(rec, "a")
    assert host_state() == before
    pids.assert_gone(*(pids.read(rec / f"d.{role}") for role in ("daemon", "mid")))


@needs_prctl
@pytest.mark.slow
def test_a_daemon_a_build_leaves_outlives_the_buildsys_program(proj, rec, pids, host_flag):
    """The program keeps the flag until it exits, which hands the daemon on to init,
    as make would leave it: a Gradle daemon serves the next run."""
    write_builds(proj, {"d": command(LEAVES_DAEMON, rec, "d")})

    res = cli("build", "--progress", "none", cwd=proj)

    assert res.rc == 0, res
    daemon = pids.read(rec / "d.daemon")
    stat = Path(f"/proc/{daemon}/stat").read_bytes()
    assert stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X"), "the daemon was killed"
