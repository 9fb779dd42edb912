"""Supervised subprocesses through ctx.run: timeouts, process trees, output handling, stdin."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

import buildsys
from buildsys import Status
from buildsys.engine.executor import ParallelExecutor
from buildsys.engine.job import Job
from buildsys.host.output import DISPLAY_LINE_LIMIT
from conftest import PRELUDE, ReadyGate, py, wait_for

LINUX = sys.platform.startswith("linux")

# Each scenario's script gets DIR as argv[1] and writes one file per process
# that matters (named by its role) once that process is set up, and another
# (ROLE.survived) if it lives out its 30 s: then buildsys never killed it.
GRANDCHILD = (
    PRELUDE
    + """
d, role = sys.argv[1], sys.argv[2]
if "setsid" in role:
    os.setsid()
if "ignore" in role:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "quiet" in role:
    fd = os.open(os.devnull, os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(fd, i)
note(f"{d}/{role}", os.getpid())
time.sleep(30)
note(f"{d}/{role}.survived", 1)
"""
)

SPAWN = """
d = sys.argv[1]
for role in sys.argv[3:]:
    subprocess.Popen([sys.executable, "-c", sys.argv[2], d, role])
note(f"{d}/main", os.getpid())
time.sleep(30)
note(f"{d}/main.survived", 1)
"""

DAEMON = """
d = sys.argv[1]
if os.fork() == 0:  # classic double fork: the daemon's parent exits at once
    os.setsid()
    note(f"{d}/mid", os.getpid())
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        note(f"{d}/daemon", os.getpid())
        time.sleep(30)
        note(f"{d}/daemon.survived", 1)
    os._exit(0)
note(f"{d}/main", os.getpid())
time.sleep(30)
note(f"{d}/main.survived", 1)
"""

IGNORE_TERM = """
signal.signal(signal.SIGTERM, signal.SIG_IGN)
note(f"{sys.argv[1]}/main", os.getpid())
time.sleep(30)
note(f"{sys.argv[1]}/main.survived", 1)
"""

SCENARIOS = {
    "child": (py(SPAWN, "{d}", GRANDCHILD), ["main"]),
    "grandchild": (py(SPAWN, "{d}", GRANDCHILD, "gc"), ["main", "gc"]),
    "setsid_grandchild": (py(SPAWN, "{d}", GRANDCHILD, "gc-setsid"), ["main", "gc-setsid"]),
    "setsid_quiet_grandchild": (
        py(SPAWN, "{d}", GRANDCHILD, "gc-setsid-quiet"),
        ["main", "gc-setsid-quiet"],
    ),
    "double_fork_daemon": (py(DAEMON, "{d}"), ["main", "mid", "daemon"]),
    "ignores_sigterm": (py(IGNORE_TERM, "{d}"), ["main"]),
    "grandchild_ignores_sigterm": (
        py(SPAWN, "{d}", GRANDCHILD, "gc-ignore"),
        ["main", "gc-ignore"],
    ),
    "setsid_quiet_grandchild_ignores_sigterm": (
        py(SPAWN, "{d}", GRANDCHILD, "gc-setsid-quiet-ignore"),
        ["main", "gc-setsid-quiet-ignore"],
    ),
}
NEEDS_PROC = {
    "setsid_grandchild",
    "setsid_quiet_grandchild",
    "double_fork_daemon",
    "setsid_quiet_grandchild_ignores_sigterm",
}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_timeout_kills_the_whole_process_tree(tmp_path, logs, pids, scenario):
    if scenario in NEEDS_PROC and not LINUX:
        pytest.skip("processes that leave the group are found through /proc (Linux)")
    template, roles = SCENARIOS[scenario]
    argv = [a.replace("{d}", str(tmp_path)) for a in template]

    def fn(name):
        buildsys.current_context().run(argv)

    # The timeout passes while the tree is being set up; it is acted on once all is.
    gate = ReadyGate(*(tmp_path / role for role in roles))
    ex = ParallelExecutor(max_concurrency=2, kill_grace=0.3, log_dir=logs, observer=gate)
    result = gate.execute(ex, [Job("build", timeout=0.1)], fn)

    r = result["build"]
    assert r.status is Status.TIMED_OUT, r
    assert [e.code for e in r.errors] == ["BUILD_TIMEOUT"]
    assert result.failure_count == 1 and not result.ok
    recorded = [pids.read(tmp_path / role) for role in roles]
    pids.assert_gone(*recorded)
    assert not sorted(p.name for p in tmp_path.glob("*.survived"))


@pytest.mark.slow
def test_stop_sends_sigterm_before_sigkill_to_the_group(tmp_path, logs):
    # Both processes handle SIGTERM by leaving a marker: a graceful stop reached them.
    handler = (
        PRELUDE
        + """
d, role = sys.argv[1], sys.argv[2]
def bye(*_):
    note(f"{d}/{role}.term", "1")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
note(f"{d}/{role}", os.getpid())
time.sleep(30)
"""
    )
    script = """
d = sys.argv[1]
subprocess.Popen([sys.executable, "-c", sys.argv[2], d, "gc"])
def bye(*_):
    note(f"{d}/main.term", "1")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
note(f"{d}/main", os.getpid())
time.sleep(30)
"""

    def fn(name):
        buildsys.current_context().run(py(script, tmp_path, handler))

    # Both handle SIGTERM by exiting, so the generous grace is never waited out:
    # a SIGKILL would come only if the SIGTERM had not reached them.
    gate = ReadyGate(tmp_path / "main", tmp_path / "gc")
    ex = ParallelExecutor(max_concurrency=2, kill_grace=60, log_dir=logs, observer=gate)
    result = gate.execute(ex, [Job("b", timeout=0.1)], fn)
    assert result["b"].status is Status.TIMED_OUT
    assert (tmp_path / "main.term").exists()
    assert wait_for(tmp_path / "gc.term") == "1"


def test_job_timeout_names_its_source_and_keeps_the_output(tmp_path, logs):
    def fn(name):
        buildsys.current_context().run(
            py("os.write(1, b'working\\n'); note(sys.argv[1], 1); time.sleep(30)", tmp_path / "up")
        )

    source = "builds.toml, [builds.slow] timeout"
    gate = ReadyGate(tmp_path / "up")  # stopped only once it has said "working"
    ex = ParallelExecutor(build_timeout=60, kill_grace=0.3, log_dir=logs, observer=gate)
    result = gate.execute(ex, [Job("slow", timeout=0.3, timeout_source=source)], fn)
    r = result["slow"]
    assert r.status is Status.TIMED_OUT
    (error,) = r.errors
    assert error.code == "BUILD_TIMEOUT"
    assert any(source in s for s in error.suggestions)
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"working\n"


# Notes its pid, then takes the SIGTERM it was born blocking (see below).
NOTE_THEN_TERM = """
note(sys.argv[1], os.getpid())
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
time.sleep(30)
"""


@pytest.mark.slow
def test_each_attempt_gets_the_timeout_and_timeouts_are_retried(tmp_path, logs, pids):
    def fn(name):
        ctx = buildsys.current_context()
        # A thread's signal mask passes to the commands it starts: each attempt's
        # command is born with SIGTERM blocked, so its timeout stops it only
        # after it noted its pid, however long its interpreter took to start.
        # No SIGKILL is needed, so the grace is never waited out.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            ctx.run(py(NOTE_THEN_TERM, tmp_path / f"{ctx.attempt}.pid"))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    ex = ParallelExecutor(kill_grace=60, log_dir=logs)
    # The timeout need only outlast this thread reaching ctx.run (a command the
    # stop comes before is never started), not an interpreter start.
    r = ex.execute_jobs([Job("slow", timeout=2.0, retries=1)], fn)["slow"]
    assert r.status is Status.TIMED_OUT
    assert r.attempts == 2 and r.flaky is False
    assert [e.code for e in r.errors] == ["BUILD_TIMEOUT"]
    pids.assert_gone(pids.read(tmp_path / "1.pid"), pids.read(tmp_path / "2.pid"))


def _fifty_mb():
    block = bytes((j * 7 + 3) % 256 for j in range(1 << 20))
    for i in range(50):
        yield b"chunk %d\n" % i + block


BIG_WRITER = """
block = bytes((j * 7 + 3) % 256 for j in range(1 << 20))
out = sys.stdout.buffer
for i in range(50):
    out.write(b"chunk %d\\n" % i + block)
    out.flush()
"""


@pytest.mark.slow
def test_fifty_megabytes_of_output_are_logged_byte_exact(logs):
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py(BIG_WRITER)))

    r = ParallelExecutor(log_dir=logs).execute(["big"], fn)["big"]
    assert r.status is Status.SUCCEEDED, r.errors

    expected = hashlib.sha256()
    size = 0
    for chunk in _fifty_mb():
        expected.update(chunk)
        size += len(chunk)
    assert os.path.getsize(r.log_path) == size
    actual = hashlib.sha256()
    with open(r.log_path, "rb") as fh:
        while data := fh.read(1 << 20):
            actual.update(data)
    assert actual.hexdigest() == expected.hexdigest()
    (cmd,) = results
    assert 0 < len(cmd.output_tail) <= 20


def test_output_tail_keeps_the_last_twenty_lines(logs):
    results = []

    def fn(name):
        results.append(
            buildsys.current_context().run(py("for i in range(100): print(f'line {i}')"))
        )

    ParallelExecutor(log_dir=logs).execute(["b"], fn)
    (cmd,) = results
    assert cmd.output_tail == tuple(f"line {i}" for i in range(80, 100))


def test_non_utf8_output_is_logged_exactly_and_tail_decodes(logs):
    payload = b"\xff\xfe latin1 \xe9\r\nok \xc3\xa9\n"
    results = []

    def fn(name):
        results.append(
            buildsys.current_context().run(
                py("sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))", payload.hex())
            )
        )

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    with open(r.log_path, "rb") as fh:
        assert fh.read() == payload
    (cmd,) = results
    assert cmd.output_tail == ("\ufffd\ufffd latin1 \ufffd", "ok é")


LONG_LINE = """
total = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(0, total, 10000):
    out.write(b"a" * min(10000, total - i))
    out.flush()
"""


def test_long_line_without_newline_is_capped_for_display(logs):
    total = 200 * 1024
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py(LONG_LINE, total)))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"a" * total
    (cmd,) = results
    (line,) = cmd.output_tail
    assert line.startswith("a" * DISPLAY_LINE_LIMIT)
    assert line[DISPLAY_LINE_LIMIT:] == f" [... {total - DISPLAY_LINE_LIMIT} bytes cut]"


def test_long_line_ended_by_a_later_newline_is_capped(logs):
    script = """
out = sys.stdout.buffer
out.write(b"a" * 100_000); out.flush()
time.sleep(0.2)
out.write(b"a" * 30_000 + b"\\nend\\n"); out.flush()
"""
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py(script)))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"a" * 130_000 + b"\nend\n"
    (cmd,) = results
    line, end = cmd.output_tail
    assert end == "end"
    assert len(line) < DISPLAY_LINE_LIMIT + 40, f"display line is {len(line)} chars"
    assert line[line.rfind(" [... ") :] == f" [... {130_000 - DISPLAY_LINE_LIMIT} bytes cut]"
    assert line == "a" * DISPLAY_LINE_LIMIT + f" [... {130_000 - DISPLAY_LINE_LIMIT} bytes cut]"


@pytest.mark.slow
@pytest.mark.parametrize("setsid", [False, True], ids=["same-group", "setsid"])
def test_background_child_holding_the_pipe_does_not_hang_the_build(tmp_path, logs, pids, setsid):
    if setsid and not LINUX:
        pytest.skip("a holder that left the group is found through /proc (Linux)")
    bg = "import os, time\n" + ("os.setsid()\n" if setsid else "") + "time.sleep(30)"
    script = """
p = subprocess.Popen([sys.executable, "-c", sys.argv[2]])  # inherits stdout: holds the pipe
note(sys.argv[1], p.pid)
print("main done", flush=True)
"""

    def fn(name):
        buildsys.current_context().run(py(script, tmp_path / "bg.pid", bg))

    result = ParallelExecutor(log_dir=logs).execute(["b"], fn)
    r = result["b"]
    assert r.status is Status.SUCCEEDED, r.errors
    assert any("background process" in w for w in r.warnings), r.warnings
    pids.assert_gone(pids.read(tmp_path / "bg.pid"))
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"main done\n"


def test_stdin_is_dev_null(logs):
    script = """
st = os.fstat(0)
print(repr(sys.stdin.read()), os.path.samestat(st, os.stat(os.devnull)))
"""
    results = []

    def fn(name):
        results.append(buildsys.current_context().run(py(script)))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED
    assert results[0].output_tail == ("'' True",)


@pytest.mark.parametrize("where", ["here", "elsewhere"])  # posix_spawn, and Popen for a cwd
def test_descriptors_the_caller_made_inheritable_do_not_reach_commands(logs, tmp_path, where):
    """As Popen(close_fds=True): a pipe a parent waits on must not reach a build's daemons."""
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    script = """
print(sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2))
"""
    results = []

    def fn(name):
        cwd = None if where == "here" else tmp_path
        results.append(buildsys.current_context().run(py(script), cwd=cwd))

    try:
        r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    finally:
        os.close(read_end)
        os.close(write_end)
    assert r.status is Status.SUCCEEDED, r.errors
    (line,) = results[0].output_tail
    assert str(write_end) not in line.strip("[]").split(", ")


@pytest.mark.parametrize("where", ["here", "elsewhere"])  # posix_spawn, and Popen for a cwd
def test_commands_start_with_the_signals_python_ignores_restored(logs, tmp_path, where):
    """Python ignores SIGPIPE (and SIGXFSZ); a command must not inherit that, or
    `yes | head` in a build would never end on a broken pipe."""
    results = []

    def fn(name):
        cwd = None if where == "here" else tmp_path
        results.append(
            buildsys.current_context().run(["sh", "-c", "grep SigIgn /proc/self/status"], cwd=cwd)
        )

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED, r.errors
    (line,) = results[0].output_tail
    ignored = int(line.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), line
    assert not ignored & (1 << (signal.SIGXFSZ - 1)), line


def _tool(directory, says):
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / "bsys-tool"
    tool.write_text(f"#!/bin/sh\necho {says}\n")
    tool.chmod(0o755)


def test_commands_are_found_on_the_command_s_own_path(logs, tmp_path):
    """The PATH searched is the one the command gets, not buildsys's, and a
    relative entry resolves against the command's cwd, before later entries."""
    _tool(tmp_path / "abs", "absolute")
    _tool(tmp_path / "work" / "rel", "relative")
    results = []

    def fn(name):
        ctx = buildsys.current_context()
        results.append(ctx.run(["bsys-tool"], env={"PATH": f"{tmp_path / 'abs'}:/usr/bin:/bin"}))
        rel_first = f"rel:{tmp_path / 'abs'}:/usr/bin:/bin"
        results.append(ctx.run(["bsys-tool"], cwd=tmp_path / "work", env={"PATH": rel_first}))

    r = ParallelExecutor(log_dir=logs).execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED, r.errors
    assert [res.output_tail for res in results] == [("absolute",), ("relative",)]


def test_stderr_is_merged_into_the_log(logs):
    script = """
print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
"""
    r = ParallelExecutor(log_dir=logs).execute(
        ["b"], lambda n: buildsys.current_context().run(py(script))
    )["b"]
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"to stdout\nto stderr\n"


def _wait_zombie(pid):
    deadline = time.monotonic() + 60  # a liveness limit: an interpreter start under load
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        if stat[stat.rfind(b")") + 2 :].startswith(b"Z"):
            return
        time.sleep(0.01)
    raise AssertionError(f"{pid} did not exit")


@pytest.mark.skipif(not LINUX, reason="orphan reaping is Linux-only")
@pytest.mark.parametrize("new_session", [False, True])
def test_ctx_run_does_not_reap_other_code_s_children(logs, new_session):
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit(3)"], start_new_session=new_session
    )
    try:
        _wait_zombie(other.pid)  # exited, not yet waited for by its owner
        r = ParallelExecutor(log_dir=logs).execute(
            ["b"], lambda n: buildsys.current_context().run(py("pass"))
        )["b"]
        assert r.status is Status.SUCCEEDED
    finally:
        returncode = other.wait()
    assert returncode == 3
