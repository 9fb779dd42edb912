"""The ctx a callable gets: current_context(), ctx.run, env/cwd, warnings, artifacts."""

from __future__ import annotations

import contextvars
import os
import sys
import threading

import pytest

import buildsys
from buildsys import BuildFailed, CommandResult, Status
from buildsys.engine.executor import ParallelExecutor
from buildsys.engine.job import Job
from conftest import py, wait_for

caller_var: contextvars.ContextVar[str] = contextvars.ContextVar("caller_var", default="unset")


def test_current_context_outside_a_build_raises_lookup_error():
    with pytest.raises(LookupError, match="outside a build"):
        buildsys.current_context()


def test_current_context_is_per_build_and_gone_after_execute(logs):
    seen = {}

    def fn(name):
        ctx = buildsys.current_context()
        seen[name] = (ctx.name, ctx.log_path, ctx.attempt, ctx.cancelled.is_set())

    result = ParallelExecutor(max_concurrency=2, log_dir=logs).execute(["a", "b"], fn)
    for name in ("a", "b"):
        ctx_name, log_path, attempt, cancelled = seen[name]
        assert ctx_name == name and attempt == 1 and cancelled is False
        assert str(log_path) == result[name].log_path
    with pytest.raises(LookupError):
        buildsys.current_context()


def test_caller_context_vars_are_visible_in_workers(logs):
    seen = {}

    def fn(name):
        seen[name] = caller_var.get()
        caller_var.set(f"changed by {name}")

    token = caller_var.set("set by caller")
    try:
        ParallelExecutor(max_concurrency=2, log_dir=logs).execute(["a", "b"], fn)
        assert seen == {"a": "set by caller", "b": "set by caller"}
        assert caller_var.get() == "set by caller"  # workers ran in copies
    finally:
        caller_var.reset(token)


def test_run_returns_a_command_result(logs):
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py("print('hello')")))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    (cmd,) = results
    assert isinstance(cmd, CommandResult)
    assert cmd.argv[0] == sys.executable and isinstance(cmd.argv, tuple)
    assert cmd.returncode == 0
    assert cmd.output_tail == ("hello",)
    assert cmd.duration >= 0


def test_run_check_false_returns_nonzero_code(logs):
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py("sys.exit(5)"), check=False))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    assert results[0].returncode == 5


def test_run_raises_build_failed_that_the_callable_may_handle(logs):
    caught = []

    def fn(name):
        try:
            buildsys.current_context().run(py("sys.exit(4)"))
        except BuildFailed as exc:
            caught.append(exc)

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    (exc,) = caught
    assert exc.code == "COMMAND_FAILED"
    assert "exited with code 4" in exc.message
    assert exc.context["returncode"] == 4


def test_run_killed_by_a_signal_says_so(logs):
    r = ParallelExecutor(log_dir=logs).execute(
        ["b"], lambda n: buildsys.current_context().run(py("os.kill(os.getpid(), signal.SIGKILL)"))
    )["b"]
    assert r.status is Status.FAILED
    assert "SIGKILL" in r.errors[0].message


def test_missing_command_is_command_not_found(tmp_path, logs):
    def fn(name):
        buildsys.current_context().run([str(tmp_path / "no-such-tool"), "--version"])

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.FAILED
    (error,) = r.errors
    assert error.code == "COMMAND_NOT_FOUND"
    assert "no-such-tool" in error.message
    assert error.suggestions


def test_missing_working_directory_is_not_reported_as_missing_command(tmp_path, logs):
    missing = tmp_path / "no-such-dir"

    def fn(name):
        buildsys.current_context().run(py("pass"), cwd=missing)

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.FAILED
    (error,) = r.errors
    assert str(missing) in error.message
    assert "command not found" not in error.message, error.message
    assert error.code == "CWD_NOT_FOUND"


def test_empty_command_is_rejected(logs):
    r = ParallelExecutor(log_dir=logs).execute(["b"], lambda n: buildsys.current_context().run([]))
    assert r["b"].errors[0].code == "EMPTY_COMMAND"


SHOW_ENV = "print(*(os.environ.get(k, '-') for k in ('ONLY', 'EXTRA', 'CALLER_VAR')))"


def test_env_inherits_caller_or_job_env_plus_run_env(logs, monkeypatch):
    monkeypatch.setenv("CALLER_VAR", "from-caller")
    out = {}

    def fn(name):
        out[name] = buildsys.current_context().run(py(SHOW_ENV), env={"EXTRA": "x"}).output_tail

    jobs = [Job("inherit"), Job("own", env={"ONLY": "job"})]
    result = ParallelExecutor(log_dir=logs).execute_jobs(jobs, fn)
    assert result.ok
    assert out["inherit"] == ("- x from-caller",)
    # A job's variables are set on top of the executor's environment.
    assert out["own"] == ("job x from-caller",)

    # An executor given its own environment uses it instead of the process's.
    replaced = ParallelExecutor(log_dir=logs, environ={"PATH": os.environ["PATH"]})
    assert replaced.execute_jobs([Job("own", env={"ONLY": "job"})], fn).ok
    assert out["own"] == ("job x -",)


def test_cwd_of_job_and_of_run(tmp_path, logs):
    (tmp_path / "sub").mkdir()
    out = []

    def fn(name):
        ctx = buildsys.current_context()
        out.append(ctx.run(py("print(os.getcwd())")).output_tail[-1])
        out.append(ctx.run(py("print(os.getcwd())"), cwd="sub").output_tail[-1])

    result = ParallelExecutor(log_dir=logs).execute_jobs([Job("b", cwd=str(tmp_path))], fn)
    assert result.ok
    assert out == [str(tmp_path), str(tmp_path / "sub")]


def test_warnings_and_artifacts_reach_the_result(tmp_path, logs):
    def fn(name):
        ctx = buildsys.current_context()
        ctx.warn("deprecated flag")
        ctx.add_artifact("dist/app.js")
        ctx.add_artifact(tmp_path / "abs.bin")
        ctx.add_artifact("dist/app.js")  # reported once

    r = ParallelExecutor(log_dir=logs).execute_jobs([Job("b", cwd=str(tmp_path))], fn)["b"]
    assert r.warnings == ("deprecated flag",)
    assert r.artifacts == (str(tmp_path / "dist/app.js"), str(tmp_path / "abs.bin"))


def test_commands_from_several_threads_share_the_log(logs):
    def fn(name):
        ctx = buildsys.current_context()
        threads = [
            # One write per line: PYTHONUNBUFFERED may split print() into two writes.
            threading.Thread(target=ctx.run, args=(py(f"os.write(1, b'from thread {i}\\n')"),))
            for i in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    with open(r.log_path, "rb") as fh:
        assert sorted(fh.read().splitlines()) == [b"from thread %d" % i for i in range(3)]


def test_observer_gets_started_finished_and_output(logs):
    events = []

    class Observer:
        wants_output = True

        def started(self, job, attempt, ctx):
            events.append(("started", job.name, attempt))

        def finished(self, result):
            events.append(("finished", result.name, result.status))

        def output(self, name, line):
            events.append(("output", name, line))

    ex = ParallelExecutor(max_concurrency=1, log_dir=logs, observer=Observer())
    ex.execute(["b"], lambda n: buildsys.current_context().run(py("print('one'); print('two')")))
    assert events == [
        ("started", "b", 1),
        ("output", "b", "one"),
        ("output", "b", "two"),
        ("finished", "b", Status.SUCCEEDED),
    ]


def test_output_tail_is_this_commands_output(logs):
    results = []

    def fn(name):
        ctx = buildsys.current_context()
        results.append(ctx.run(py("print('first')")))
        results.append(ctx.run(py("print('second')")))

    ParallelExecutor(log_dir=logs).execute(["b"], fn)
    assert results[0].output_tail == ("first",)
    assert results[1].output_tail == ("second",)


def test_concurrent_commands_do_not_splice_display_lines(tmp_path, logs):
    lines = []

    class Observer:
        wants_output = True

        def started(self, job, attempt, ctx):
            pass

        def finished(self, result):
            pass

        def output(self, name, line):
            lines.append(line)

    script_a = """
d = sys.argv[1]
os.write(1, b"A-start ")
note(f"{d}/a-started", 1)
while not os.path.exists(f"{d}/b-done"):
    time.sleep(0.01)
os.write(1, b"A-end\\n")
"""

    def fn(name):
        ctx = buildsys.current_context()
        t = threading.Thread(target=ctx.run, args=(py(script_a, tmp_path),))
        t.start()
        wait_for(tmp_path / "a-started")
        ctx.run(py("os.write(1, b'B-line\\n')"))  # returns once its output is consumed
        (tmp_path / "b-done").write_text("1")
        t.join()

    ex = ParallelExecutor(log_dir=logs, observer=Observer())
    r = ex.execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    assert sorted(lines) == ["A-start A-end", "B-line"], lines


def test_commands_running_counts_commands_under_way(tmp_path, logs):
    """What the scheduler reads to decide whether a stopped build has a process to kill."""
    seen = []

    def fn(name):
        ctx = buildsys.current_context()
        seen.append(ctx.commands_running)
        waiter = py(
            "note(sys.argv[1], 1)\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.01)",
            tmp_path / "started",
            tmp_path / "release",
        )
        t = threading.Thread(target=ctx.run, args=(waiter,))
        t.start()
        wait_for(tmp_path / "started")
        seen.append(ctx.commands_running)
        (tmp_path / "release").write_text("1")
        t.join()
        seen.append(ctx.commands_running)
        with pytest.raises(BuildFailed):
            ctx.run([str(tmp_path / "no-such-tool")])
        seen.append(ctx.commands_running)

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    assert seen == [0, 1, 0, 0]


@pytest.mark.parametrize("argv", ["echo hi", b"echo hi"])
def test_run_refuses_a_single_string_command(logs, argv):
    seen = []

    def fn(name):
        with pytest.raises(TypeError) as info:
            buildsys.current_context().run(argv)
        seen.append(str(info.value))

    assert ParallelExecutor(log_dir=logs).execute(["b"], fn).ok
    assert seen == [
        "ctx.run() takes a list of arguments, e.g. ['echo', 'hi']; for a shell, ['sh', '-c', '...']"
    ]
