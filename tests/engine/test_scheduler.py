"""ParallelExecutor scheduling: pool, order, dependencies, strategies, cancel, retries, outcomes.

Order and concurrency are read from timestamps the builds' own processes write;
nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import buildsys
from buildsys import BuildFailed, BuildResult, Status
from buildsys.engine.executor import ParallelExecutor
from buildsys.engine.job import Job
from conftest import TIMED, ReadyGate, max_overlap, py, read_interval, wait_for


def timed_fn(d, durations):
    """fn running, for each name, a subprocess that records its start and end in `d`."""

    def fn(name):
        buildsys.current_context().run(py(TIMED, d, name, durations.get(name, 0.0)))

    return fn


# TIMED, but ending only once the file argv[4] exists (or failing after a minute).
TIMED_UNTIL = """
d, n, until = sys.argv[1], sys.argv[2], sys.argv[4]
note(f"{d}/{n}.start", repr(time.monotonic()))
deadline = time.monotonic() + 60  # a hang guard: the pool never refilled
while not os.path.exists(until):
    if time.monotonic() > deadline:
        sys.exit(f"{until} never appeared")
    time.sleep(0.01)
note(f"{d}/{n}.end", repr(time.monotonic()))
"""


def test_pool_refills_a_free_slot_without_waiting_for_a_round(tmp_path, logs):
    # -j2: the long job ends only once the third short one has ended, and the
    # short ones only once the long one has started, so they must share the
    # second slot while it runs.
    names = ["long", "s1", "s2", "s3"]

    def fn(name):
        until = tmp_path / ("s3.end" if name == "long" else "long.start")
        buildsys.current_context().run(py(TIMED_UNTIL, tmp_path, name, 0, until))

    ex = ParallelExecutor(max_concurrency=2, log_dir=logs)
    result = ex.execute(names, fn)

    assert [r.status for r in result.results] == [Status.SUCCEEDED] * 4, result["long"].errors
    iv = {n: read_interval(tmp_path, n) for n in names}
    long_start, long_end = iv["long"]
    for short in ("s1", "s2", "s3"):
        short_start, short_end = iv[short]
        assert short_start < long_end and short_end > long_start, f"{short} not beside 'long'"
    assert iv["s1"][0] < iv["s2"][0] < iv["s3"][0]
    assert max_overlap(list(iv.values())) == 2


def test_sequential_run_starts_jobs_in_file_order(tmp_path, logs):
    names = ["zeta", "alpha", "mid", "beta"]  # file order is not name order
    ex = ParallelExecutor(max_concurrency=1, log_dir=logs)
    result = ex.execute(names, timed_fn(tmp_path, {}))

    assert [r.name for r in result.results] == names
    assert result.success_count == 4 and result.ok
    iv = {n: read_interval(tmp_path, n) for n in names}
    assert sorted(names, key=lambda n: iv[n][0]) == names
    assert max_overlap(list(iv.values())) == 1


def test_ready_dependent_takes_its_file_position(tmp_path, logs):
    # "app" comes first in the file but needs "lib": once lib is done, app is
    # ready and precedes "tool" in file order.
    jobs = [Job("app", depends_on=["lib"]), Job("lib"), Job("tool")]
    ex = ParallelExecutor(max_concurrency=1, log_dir=logs)
    result = ex.execute_jobs(jobs, timed_fn(tmp_path, {}))

    assert [r.name for r in result.results] == ["app", "lib", "tool"]
    starts = {n: read_interval(tmp_path, n)[0] for n in ("app", "lib", "tool")}
    assert sorted(starts, key=starts.get) == ["lib", "app", "tool"]


def test_dependents_start_after_their_dependencies_end(tmp_path, logs):
    jobs = [
        Job("c", depends_on=["b"]),
        Job("b", depends_on=["a"]),
        Job("a"),
        Job("d", depends_on=["a", "x"]),
        Job("x"),
    ]
    durations = {"a": 0.2, "x": 0.3}
    ex = ParallelExecutor(max_concurrency=4, log_dir=logs)
    result = ex.execute_jobs(jobs, timed_fn(tmp_path, durations))

    assert result.ok and result.success_count == 5
    iv = {j.name: read_interval(tmp_path, j.name) for j in jobs}
    for job in jobs:
        for dep in job.depends_on:
            assert iv[job.name][0] > iv[dep][1], f"{job.name} started before {dep} ended"


def test_keep_going_runs_independent_jobs_and_skips_dependents(tmp_path, logs):
    jobs = [
        Job("bad"),
        Job("child", depends_on=["bad"]),
        Job("good"),
        Job("grandchild", depends_on=["child"]),
        Job("after_good", depends_on=["good"]),
    ]

    def fn(name):
        ctx = buildsys.current_context()
        if name == "bad":
            ctx.run(py("print('about to fail'); sys.exit(3)"))
        else:
            ctx.run(py(TIMED, tmp_path, name, 0))

    ex = ParallelExecutor(max_concurrency=1, continue_on_failure=True, log_dir=logs)
    result = ex.execute_jobs(jobs, fn)

    r = {res.name: res for res in result.results}
    assert r["bad"].status is Status.FAILED
    assert r["bad"].errors[0].code == "COMMAND_FAILED"
    assert "exited with code 3" in r["bad"].errors[0].message
    # A failure does not stop independent jobs, even the ones after it in order.
    assert r["good"].status is Status.SUCCEEDED
    assert r["after_good"].status is Status.SUCCEEDED
    for skipped in ("child", "grandchild"):
        assert r[skipped].status is Status.SKIPPED
        assert "'bad'" in r[skipped].reason, r[skipped].reason
        assert r[skipped].started_at is None and r[skipped].finished_at is None
        assert r[skipped].attempts == 0
        assert not (tmp_path / f"{skipped}.start").exists()
    assert result.failure_count == 1 and result.skipped_count == 2 and not result.ok


def test_stop_on_failure_cancels_running_and_pending(tmp_path, logs, pids):
    jobs = [
        Job("long"),
        Job("fail"),
        Job("pending"),
        Job("after_long", depends_on=["long"]),
    ]

    def fn(name):
        ctx = buildsys.current_context()
        if name == "long":
            ctx.run(py("note(sys.argv[1], os.getpid()); time.sleep(30)", tmp_path / "long.pid"))
        elif name == "fail":
            wait_for(tmp_path / "long.pid")  # fail only once 'long' really runs
            ctx.run(py("sys.exit(1)"))
        else:
            ctx.run(py(TIMED, tmp_path, name, 0))

    ex = ParallelExecutor(
        max_concurrency=2, continue_on_failure=False, kill_grace=0.3, log_dir=logs
    )
    result = ex.execute_jobs(jobs, fn)

    r = {res.name: res for res in result.results}
    assert r["fail"].status is Status.FAILED
    assert r["long"].status is Status.CANCELLED
    assert "'fail'" in r["long"].reason
    assert r["long"].started_at is not None
    pids.assert_gone(pids.read(tmp_path / "long.pid"))
    for name in ("pending", "after_long"):
        assert r[name].status is Status.CANCELLED
        assert r[name].reason and "'fail'" in r[name].reason, r[name].reason
        assert r[name].started_at is None and r[name].finished_at is None
        assert not (tmp_path / f"{name}.start").exists()
    assert result.cancelled_count == 3 and not result.ok and not result.all_completed


def test_second_execute_after_stop_on_failure_runs_its_jobs(tmp_path, logs):
    ex = ParallelExecutor(max_concurrency=1, continue_on_failure=False, log_dir=logs)

    def fn(name):
        buildsys.current_context().run(py("sys.exit(int(sys.argv[1]))", int(name == "bad")))

    ex.execute(["bad"], fn)
    second = ex.execute(["good"], fn)
    assert second["good"].status is Status.SUCCEEDED, second["good"].reason


@pytest.mark.slow
def test_callable_ignoring_timeout_is_abandoned(tmp_path, logs):
    gate = threading.Event()  # released at the end, so the abandoned thread ends too
    returned = threading.Event()

    def fn(name):
        if name == "stuck":
            gate.wait(30)  # pure Python blocking, never looks at ctx.cancelled
            returned.set()
            return None
        buildsys.current_context().run(py(TIMED, tmp_path, name, 0))
        return None

    # Only the stuck one has a timeout: the next one's interpreter may take its time.
    ex = ParallelExecutor(max_concurrency=1, kill_grace=0.2, log_dir=logs)
    try:
        result = ex.execute_jobs([Job("stuck", timeout=0.5), Job("next")], fn)
        assert not returned.is_set(), "execute() waited for the callable to return"
    finally:
        gate.set()

    stuck = result["stuck"]
    assert stuck.status is Status.TIMED_OUT
    assert [e.code for e in stuck.errors] == ["BUILD_TIMEOUT"]
    assert stuck.started_at is not None and stuck.finished_at is not None
    # Its slot was freed: the next job ran.
    assert result["next"].status is Status.SUCCEEDED


@pytest.mark.slow
def test_callable_ignoring_cancel_is_abandoned(tmp_path, logs):
    gate = threading.Event()
    started = threading.Event()

    def fn(name):
        started.set()
        gate.wait(30)

    ex = ParallelExecutor(max_concurrency=2, kill_grace=0.2, log_dir=logs)

    def canceller():
        started.wait(10)
        ex.cancel("stop requested by test")

    t = threading.Thread(target=canceller)
    t.start()
    try:
        result = ex.execute(["stuck"], fn)
    finally:
        gate.set()
        t.join()
    assert result["stuck"].status is Status.CANCELLED
    assert result["stuck"].reason == "stop requested by test"


class Stubborn:
    """A pure-Python callable that ignores ctx.cancelled: it waits for `release`,
    which the test sets only after execute() returned, or until `limit` seconds."""

    def __init__(self, limit=30.0):
        self.limit = limit
        self.started = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.released_by_test = None

    def __call__(self, name):
        self.started.set()
        self.released_by_test = self.release.wait(self.limit)
        self.done.set()

    def finish(self):
        """Let the abandoned callable end; True if it was still running until now."""
        still_running = not self.done.is_set()
        self.release.set()
        assert self.done.wait(30)
        return still_running and self.released_by_test


def test_python_callable_ignoring_timeout_does_not_hold_up_execute(logs):
    # With no process to kill there is no kill grace to wait out: were the
    # 60 s grace honoured, the callable's own 30 s wait would end first.
    fn = Stubborn(limit=30.0)
    ex = ParallelExecutor(build_timeout=0.2, kill_grace=60, log_dir=logs)
    try:
        result = ex.execute(["stuck"], fn)
    finally:
        assert fn.finish(), "execute() waited for the callable to return"
    stuck = result["stuck"]
    assert stuck.status is Status.TIMED_OUT
    assert [e.code for e in stuck.errors] == ["BUILD_TIMEOUT"]
    # It ends when it was abandoned, not when the callable got round to returning.
    assert stuck.duration < fn.limit
    assert stuck.started_at < stuck.finished_at
    assert result.total_duration >= stuck.duration


def test_python_callable_ignoring_cancel_does_not_hold_up_execute(logs):
    fn = Stubborn(limit=30.0)
    ex = ParallelExecutor(max_concurrency=1, kill_grace=60, log_dir=logs)

    def canceller():
        fn.started.wait(10)
        ex.cancel("stop requested by test")

    t = threading.Thread(target=canceller)
    t.start()
    try:
        result = ex.execute(["stuck", "later"], fn)
    finally:
        t.join()
        assert fn.finish(), "execute() waited for the callable to return"
    for name in ("stuck", "later"):
        assert result[name].status is Status.CANCELLED
        assert result[name].reason == "stop requested by test"
    assert result["stuck"].duration < fn.limit
    assert result["later"].started_at is None  # its slot never came free before the cancel


def test_command_ending_during_the_grace_leaves_only_a_short_wait(tmp_path, logs, pids):
    """A command that dies on SIGTERM ends the kill grace for the Python code after
    it: the callable, ignoring the stop, is abandoned long before the 60 s grace."""
    fn = Stubborn(limit=30.0)

    def build(name):
        try:
            buildsys.current_context().run(
                py("note(sys.argv[1], os.getpid()); time.sleep(30)", tmp_path / "pid")
            )
        except BuildFailed:
            fn(name)  # the command was stopped; carry on regardless

    ready = ReadyGate(tmp_path / "pid")  # the timeout stops a command that is running
    ex = ParallelExecutor(max_concurrency=2, kill_grace=60, log_dir=logs, observer=ready)
    try:
        result = ready.execute(ex, [Job("b", timeout=0.1)], build)
    finally:
        assert fn.finish(), "execute() waited out the kill grace"
    assert result["b"].status is Status.TIMED_OUT
    pids.assert_gone(pids.read(tmp_path / "pid"))


def test_cancel_from_another_thread(tmp_path, logs, pids):
    def fn(name):
        ctx = buildsys.current_context()
        if name == "coop":
            (tmp_path / "coop.started").write_text("1")
            ctx.cancelled.wait(30)  # cooperative Python code
            return
        if name == "later":
            ctx.run(py(TIMED, tmp_path, name, 0))
            return
        ctx.run(
            py(
                """
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
                note(sys.argv[1], f"{os.getpid()} {child.pid}")
                time.sleep(30)
                """,
                tmp_path / f"{name}.pids",
            )
        )

    ex = ParallelExecutor(max_concurrency=3, kill_grace=0.3, log_dir=logs)

    def canceller():
        for f in ("a.pids", "b.pids", "coop.started"):
            wait_for(tmp_path / f)
        ex.cancel("stop requested by test")

    timer = threading.Timer(0.0, canceller)
    timer.start()
    try:
        result = ex.execute(["a", "b", "coop", "later"], fn)
    finally:
        timer.join()

    for name in ("a", "b", "coop"):
        assert result[name].status is Status.CANCELLED, name
        assert result[name].reason == "stop requested by test"
        assert result[name].started_at is not None
    later = result["later"]
    assert later.status is Status.CANCELLED
    assert later.reason == "stop requested by test"
    assert later.started_at is None
    assert not (tmp_path / "later.start").exists()
    all_pids = [int(p) for n in ("a", "b") for p in wait_for(tmp_path / f"{n}.pids").split()]
    pids.seen.extend(all_pids)
    pids.assert_gone(*all_pids)
    assert result.cancelled_count == 4 and not result.ok


TERM_NOTER = """
def on_term(*_):
    note(sys.argv[1] + ".term", "1")  # and keep running: SIGTERM is not enough
signal.signal(signal.SIGTERM, on_term)
note(sys.argv[1], os.getpid())
while True:
    time.sleep(0.05)
"""


def test_kill_sigkills_at_once_without_sigterm(tmp_path, logs, pids):
    pidfile = tmp_path / "b.pid"

    def fn(name):
        buildsys.current_context().run(py(TERM_NOTER, pidfile))

    ex = ParallelExecutor(kill_grace=30, log_dir=logs)

    def killer():
        wait_for(pidfile)
        ex.kill()

    t = threading.Thread(target=killer)
    t.start()
    try:
        result = ex.execute(["b"], fn)
    finally:
        t.join()
    assert result["b"].status is Status.CANCELLED
    pids.assert_gone(pids.read(pidfile))
    assert not (tmp_path / "b.pid.term").exists()  # SIGKILL straight away


def test_kill_after_cancel_escalates_past_the_grace(tmp_path, logs, pids):
    pidfile = tmp_path / "b.pid"

    def fn(name):
        buildsys.current_context().run(py(TERM_NOTER, pidfile))

    ex = ParallelExecutor(kill_grace=30, log_dir=logs)

    def escalate():
        wait_for(pidfile)
        ex.cancel("first Ctrl-C")
        wait_for(tmp_path / "b.pid.term")  # got SIGTERM, ignored it
        ex.kill()

    t = threading.Thread(target=escalate)
    t.start()
    try:
        result = ex.execute(["b"], fn)
    finally:
        t.join()
    assert result["b"].status is Status.CANCELLED
    assert result["b"].reason == "first Ctrl-C"
    pids.assert_gone(pids.read(pidfile))


@pytest.mark.slow
def test_running_command_gets_its_kill_grace_before_the_build_is_abandoned(tmp_path, logs, pids):
    """While a command ignores SIGTERM, the build is not abandoned: the command is
    SIGKILLed after the grace, and then the callable returns by itself."""
    pidfile = tmp_path / "b.pid"
    returned = threading.Event()

    def fn(name):
        try:
            buildsys.current_context().run(py(TERM_NOTER, pidfile))
        finally:
            returned.set()

    ready = ReadyGate(pidfile)  # its SIGTERM handler is set before the timeout acts
    ex = ParallelExecutor(max_concurrency=2, kill_grace=2.0, log_dir=logs, observer=ready)
    result = ready.execute(ex, [Job("b", timeout=0.1)], fn)
    assert returned.is_set(), "abandoned while its command was still being stopped"
    assert result["b"].status is Status.TIMED_OUT
    assert (tmp_path / "b.pid.term").exists()  # SIGTERM first, ignored, then SIGKILL
    pids.assert_gone(pids.read(pidfile))


def test_cancel_before_execute_cancels_everything(tmp_path, logs):
    ex = ParallelExecutor(max_concurrency=2, log_dir=logs)
    ex.cancel()
    result = ex.execute(["a", "b"], timed_fn(tmp_path, {}))
    assert [r.status for r in result.results] == [Status.CANCELLED] * 2
    assert all(r.started_at is None and r.reason for r in result.results)
    assert not list(tmp_path.glob("*.start"))


COUNTER = """
path = sys.argv[1]
n = int(open(path).read()) if os.path.exists(path) else 0
note(path, n + 1)
print(f"attempt {n + 1}")
sys.exit(0 if n + 1 >= int(sys.argv[2]) else 1)
"""


def test_retry_then_success_is_flaky(tmp_path, logs):
    counter = tmp_path / "counter"

    def fn(name):
        buildsys.current_context().run(py(COUNTER, counter, 2))

    ex = ParallelExecutor(max_concurrency=1, log_dir=logs)
    result = ex.execute_jobs([Job("flaky", retries=2)], fn)

    r = result["flaky"]
    assert r.status is Status.SUCCEEDED
    assert r.attempts == 2
    assert r.flaky is True
    assert r.errors == ()
    assert counter.read_text() == "2"
    with open(r.log_path, "rb") as fh:
        assert b"attempt 2" in fh.read()


def test_retries_exhausted_fail_and_are_not_flaky(tmp_path, logs):
    counter = tmp_path / "counter"

    def fn(name):
        buildsys.current_context().run(py(COUNTER, counter, 99))

    ex = ParallelExecutor(max_concurrency=1, log_dir=logs)
    result = ex.execute_jobs([Job("never", retries=2)], fn)

    r = result["never"]
    assert r.status is Status.FAILED
    assert r.attempts == 3 and counter.read_text() == "3"
    assert r.flaky is False


def test_success_without_retry_is_not_flaky(tmp_path, logs):
    ex = ParallelExecutor(max_concurrency=1, log_dir=logs)
    result = ex.execute_jobs([Job("ok", retries=3)], lambda name: None)
    assert result["ok"].status is Status.SUCCEEDED
    assert result["ok"].attempts == 1 and result["ok"].flaky is False


def test_build_failed_keeps_message_code_and_suggestions(logs):
    def fn(name):
        raise BuildFailed(
            "SDK missing", ["install the SDK", "set ANDROID_HOME"], code="ANDROID_SDK_NOT_FOUND"
        )

    result = ParallelExecutor(log_dir=logs).execute(["android"], fn)
    r = result["android"]
    assert r.status is Status.FAILED
    (error,) = r.errors
    assert error.message == "SDK missing"
    assert error.code == "ANDROID_SDK_NOT_FOUND"
    assert error.suggestions == ("install the SDK", "set ANDROID_HOME")


def test_unexpected_exception_fails_with_unexpected_error(logs):
    def fn(name):
        raise ValueError("boom-marker")

    result = ParallelExecutor(log_dir=logs).execute(["x"], fn)
    r = result["x"]
    assert r.status is Status.FAILED
    (error,) = r.errors
    assert error.code == "UNEXPECTED_ERROR"
    assert "ValueError" in error.message and "boom-marker" in error.message


def test_timeout_also_stops_the_run_under_stop_on_failure(tmp_path, logs):
    def fn(name):
        ctx = buildsys.current_context()
        if name == "slow":
            ctx.run(py("time.sleep(30)"))
        else:
            ctx.run(py(TIMED, tmp_path, name, 0))

    jobs = [Job("slow", timeout=0.3), Job("next")]
    ex = ParallelExecutor(
        max_concurrency=1, continue_on_failure=False, kill_grace=0.3, log_dir=logs
    )
    result = ex.execute_jobs(jobs, fn)
    assert result["slow"].status is Status.TIMED_OUT
    assert result["next"].status is Status.CANCELLED
    assert "'slow' timed out" in result["next"].reason
    assert not (tmp_path / "next.start").exists()


def test_unexpected_exception_traceback_is_in_the_log(logs):
    def fn(name):
        raise ValueError("boom-marker")

    r = ParallelExecutor(log_dir=logs).execute(["x"], fn)["x"]
    with open(r.log_path, "rb") as fh:
        log = fh.read()
    assert b"Traceback" in log and b"boom-marker" in log


def test_returned_build_result_is_used_as_is(logs):
    custom = BuildResult(name="x", platform="custom", status=Status.CACHED, reason="from elsewhere")
    failed = BuildResult(name="f", platform="custom", status=Status.FAILED)

    def fn(name):
        return {"x": custom, "f": failed}[name]

    jobs = [Job("x"), Job("f"), Job("needs_f", depends_on=["f"])]
    result = ParallelExecutor(log_dir=logs).execute_jobs(jobs, fn)
    assert result["x"] == custom
    assert result["f"] == failed
    assert result["needs_f"].status is Status.SKIPPED
    assert "'f'" in result["needs_f"].reason


@pytest.mark.parametrize("value", [None, 0, False, "text", 42, object()])
def test_any_other_return_value_is_success(logs, value):
    result = ParallelExecutor(log_dir=logs).execute(["x"], lambda name: value)
    assert result["x"].status is Status.SUCCEEDED
    assert result["x"].errors == () and result["x"].attempts == 1


def test_presets_satisfy_or_block_dependents(tmp_path, logs):
    presets = {
        "cached": BuildResult(name="cached", platform="", status=Status.CACHED),
        "broken": BuildResult(name="broken", platform="", status=Status.FAILED),
    }
    jobs = [
        Job("cached"),
        Job("broken"),
        Job("uses_cached", depends_on=["cached"]),
        Job("uses_broken", depends_on=["broken"]),
    ]
    ex = ParallelExecutor(log_dir=logs)
    result = ex.execute_jobs(jobs, timed_fn(tmp_path, {}), presets=presets)
    assert result["cached"].status is Status.CACHED
    assert result["uses_cached"].status is Status.SUCCEEDED
    assert result["uses_broken"].status is Status.SKIPPED
    assert not (tmp_path / "cached.start").exists()
    assert not (tmp_path / "uses_broken.start").exists()


def test_invalid_job_sets_are_rejected(logs):
    ex = ParallelExecutor(log_dir=logs)
    with pytest.raises(ValueError, match="duplicate"):
        ex.execute(["a", "a"], lambda n: None)
    with pytest.raises(ValueError, match="cycle"):
        ex.execute_jobs([Job("a", depends_on=["b"]), Job("b", depends_on=["a"])], lambda n: None)
    with pytest.raises(ValueError):
        ParallelExecutor(max_concurrency=0)


def test_results_are_in_job_order_with_lookup(logs):
    ex = ParallelExecutor(max_concurrency=3, log_dir=logs)
    result = ex.execute(["c", "a", "b"], lambda n: None)
    assert [r.name for r in result.results] == ["c", "a", "b"]
    assert result["a"].name == "a"
    with pytest.raises(KeyError):
        result["missing"]


class _OneAtATime:
    """An observer recording each callback's enter and exit, that stays inside the
    `finished` of every job of `wave` until all of them have returned, then
    lingers: the wave's jobs leave a barrier together, so without the executor's
    lock their workers would be in `finished` at once."""

    LINGER = 0.2  # a window to be caught in, not a bound: held right, nobody enters

    def __init__(self, wave):
        self.wave = set(wave)
        self.returned = set()
        self.guard = threading.Condition()  # the observer's own records
        self.events = []
        self.inside = 0
        self.threads = set()

    def fn_returned(self, name):
        with self.guard:
            self.returned.add(name)
            self.guard.notify_all()

    def _section(self, what, name, *, hold):
        with self.guard:
            self.events.append(("enter", what, name, self.inside))
            self.inside += 1
            self.threads.add(threading.get_ident())
            self.guard.notify_all()
            if hold:
                assert self.guard.wait_for(lambda: self.returned >= self.wave, timeout=60)
                seen = len(self.events)
                # Lingers until someone else enters, or the window closes.
                self.guard.wait_for(lambda: len(self.events) > seen, timeout=self.LINGER)
            self.inside -= 1
            self.events.append(("exit", what, name, self.inside))

    def started(self, job, attempt, ctx):
        self._section("started", job.name, hold=False)

    def finished(self, result):
        self._section("finished", result.name, hold=result.name in self.wave)

    def output(self, name, line):
        pass


def test_observer_callbacks_never_overlap_and_workers_run_jobs_back_to_back(logs):
    """Workers record their own results and start the next ready job themselves,
    so callbacks come from several threads: never two at once, and every job's
    `started` precedes its `finished`."""
    names = [f"j{i:02d}" for i in range(40)]
    wave = names[:4]  # the first four run together
    barrier = threading.Barrier(len(wave), timeout=60)  # the limit only guards a hang
    watcher = _OneAtATime(wave)

    def fn(name):
        buildsys.current_context().run(py("pass"))
        if name in wave:
            barrier.wait()
        watcher.fn_returned(name)

    ex = ParallelExecutor(max_concurrency=len(wave), log_dir=logs, observer=watcher)
    result = ex.execute(names, fn)
    assert [r.status for r in result.results] == [Status.SUCCEEDED] * len(names)
    overlaps = [(w, n) for kind, w, n, inside in watcher.events if kind == "enter" and inside]
    assert overlaps == [], f"callbacks entered while another was running: {overlaps}"
    kinds = [kind for kind, *_ in watcher.events]
    assert kinds == ["enter", "exit"] * (2 * len(names))
    calls = [(what, name) for kind, what, name, _ in watcher.events if kind == "enter"]
    for name in names:
        assert calls.index(("started", name)) < calls.index(("finished", name))
    assert len(watcher.threads) > 1, "workers should record results themselves"


def test_no_deadline_is_acted_on_while_an_observer_callback_runs(tmp_path, logs):
    """What conftest's ReadyGate relies on: callbacks hold the scheduling lock, so
    a build whose timeout passed while one ran is stopped only after it returns.
    Here the command outlives its 0.1 s timeout tenfold before it writes its file."""
    script = "time.sleep(1); note(sys.argv[1], 1); time.sleep(30)"

    def fn(name):
        buildsys.current_context().run(py(script, tmp_path / "late"))

    gate = ReadyGate(tmp_path / "late")
    ex = ParallelExecutor(max_concurrency=2, kill_grace=0.3, log_dir=logs, observer=gate)
    result = gate.execute(ex, [Job("b", timeout=0.1)], fn)
    assert result["b"].status is Status.TIMED_OUT
    assert (tmp_path / "late").exists()
    assert result[ReadyGate.GATE].status is Status.SUCCEEDED


TWO_RUNS_WITHOUT_LOG_DIR = """
import json, os, buildsys

def fn(name):
    buildsys.current_context().log_note(f"run of {name}")

ex = buildsys.ParallelExecutor()
first = ex.execute(["b"], fn)["b"].log_path
second = buildsys.ParallelExecutor().execute(["b"], fn)["b"].log_path
# Both runs' logs are readable after execute() returned; neither overwrote the other.
assert first != second
assert open(first).read() == open(second).read() == "run of b"
print(json.dumps([first, second]))
"""


def test_logs_without_log_dir_last_until_the_process_exits(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TWO_RUNS_WITHOUT_LOG_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = (Path(p) for p in json.loads(proc.stdout))
    assert first.parent != second.parent
    # One directory of the process's, in the temporary directory, holding both runs.
    assert first.parent.parent == second.parent.parent
    assert first.parent.parent.parent == tmp
    assert not first.parent.exists() and not second.parent.exists()
    assert list(tmp.iterdir()) == []


def _returns(call):
    """call() on another thread, so a scheduler bug that never returns fails the
    test instead of hanging the suite (the join limit is a hang guard, not a timing)."""
    box = {}

    def target():
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "execute() never returned"
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_returned_result_with_a_status_string_is_converted(logs):
    ex = ParallelExecutor(log_dir=logs)
    result = _returns(
        lambda: ex.execute(["a"], lambda n: BuildResult(name=n, platform="p", status="failed"))
    )
    assert result["a"].status is Status.FAILED


class _RaisingObserver:
    """An observer whose callback for one job raises, as a buggy plugin's might."""

    def __init__(self, when, name):
        self.when, self.name = when, name
        self.finished_names = []

    def started(self, job, attempt, ctx):
        if self.when == "started" and job.name == self.name:
            raise RuntimeError("observer broke")

    def finished(self, result):
        self.finished_names.append(result.name)
        if self.when == "finished" and result.name == self.name:
            raise RuntimeError("observer broke")

    def output(self, name, line):
        pass


@pytest.mark.parametrize("when", ["started", "finished"])
def test_an_error_in_bookkeeping_fails_the_job_instead_of_hanging(logs, when):
    observer = _RaisingObserver(when, "a")
    ex = ParallelExecutor(max_concurrency=1, log_dir=logs, observer=observer)
    jobs = [Job("a"), Job("b", depends_on=["a"]), Job("c")]
    result = _returns(lambda: ex.execute_jobs(jobs, lambda n: None))
    a = result["a"]
    assert a.status is Status.FAILED
    assert a.errors[-1].code == "INTERNAL_ERROR"
    assert "RuntimeError: observer broke" in a.errors[-1].message
    assert result["b"].status is Status.SKIPPED
    assert result["c"].status is Status.SUCCEEDED


def test_an_error_in_a_workers_bookkeeping_wakes_the_calling_thread(logs, monkeypatch):
    from buildsys.engine import scheduler

    def broken(self, *args, **kwargs):
        raise AttributeError("bug in _classify")

    monkeypatch.setattr(scheduler._Schedule, "_classify", broken)
    ex = ParallelExecutor(log_dir=logs)
    result = _returns(lambda: ex.execute(["a", "b"], lambda n: None))
    assert [r.status for r in result.results] == [Status.FAILED, Status.FAILED]
    assert all("AttributeError: bug in _classify" in r.errors[0].message for r in result.results)


def test_a_returned_result_of_another_name_is_filed_under_the_job(logs):
    result = ParallelExecutor(log_dir=logs).execute(
        ["a"], lambda n: BuildResult(name="other", platform="p", status=Status.SUCCEEDED)
    )
    assert [r.name for r in result.results] == ["a"]
    assert result["a"].status is Status.SUCCEEDED
    assert "'other'" in result["a"].warnings[-1]


def test_execute_refuses_a_single_str_of_names(logs):
    ran = []
    with pytest.raises(TypeError, match=r"list of names, e\.g\. \['ab'\]"):
        ParallelExecutor(log_dir=logs).execute("ab", ran.append)
    assert ran == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"build_timeout": 0}, ValueError, "build_timeout"),
        ({"build_timeout": -1}, ValueError, "build_timeout"),
        ({"build_timeout": "soon"}, ValueError, "build_timeout"),
        ({"build_timeout": [1]}, TypeError, "build_timeout"),
        ({"build_timeout": True}, TypeError, "build_timeout"),
        ({"max_concurrency": 0}, ValueError, "max_concurrency"),
        ({"max_concurrency": 1.5}, TypeError, "max_concurrency"),
        ({"max_concurrency": True}, TypeError, "max_concurrency"),
        ({"kill_grace": -1}, ValueError, "kill_grace"),
        ({"kill_grace": "5s"}, TypeError, "kill_grace"),
    ],
)
def test_executor_rejects_bad_settings_naming_them(kwargs, error, match):
    with pytest.raises(error, match=match):
        ParallelExecutor(**kwargs)


def test_build_timeout_accepts_a_duration_string():
    assert ParallelExecutor(build_timeout="2s").build_timeout == 2.0
    assert ParallelExecutor(build_timeout="1m30s").build_timeout == 90.0
    assert ParallelExecutor(kill_grace=0).kill_grace == 0.0


def test_cancel_after_execute_does_not_cancel_the_next_one(logs):
    ex = ParallelExecutor(log_dir=logs)
    assert ex.execute(["a"], lambda n: None).ok
    ex.cancel()
    ex.kill()
    result = ex.execute(["a", "b"], lambda n: None)
    assert [r.status for r in result.results] == [Status.SUCCEEDED] * 2


def test_cancel_while_execute_is_starting_applies_to_it(logs, monkeypatch):
    from buildsys.engine import scheduler

    ex = ParallelExecutor(log_dir=logs)
    assert ex.execute(["a"], lambda n: None).ok
    real_init = scheduler._Schedule.__init__

    def init_then_cancel(self, *args, **kwargs):
        # A cancel() from another thread landing while the run is being set up.
        ex.cancel("stop now")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(scheduler._Schedule, "__init__", init_then_cancel)
    result = ex.execute(["a"], lambda n: None)
    assert result["a"].status is Status.CANCELLED
    assert result["a"].reason == "stop now"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_an_exception_without_text_reads_well(logs, exc):
    def fn(name):
        raise exc

    message = ParallelExecutor(log_dir=logs).execute(["a"], fn)["a"].errors[0].message
    assert message.startswith(f"{exc.__name__} at ")
    assert "  " not in message and ": " not in message.split(" at ")[0]


def test_an_exception_with_text_keeps_it(logs):
    def fn(name):
        raise ValueError("bad input")

    message = ParallelExecutor(log_dir=logs).execute(["a"], fn)["a"].errors[0].message
    assert message.startswith("ValueError: bad input at ")
