"""Ctrl-C, SIGTERM and the project lock, with the real CLI in its own process group.

`buildsys build` starts with `start_new_session=True`, as a terminal's
foreground job has its own group; the test signals the whole group as the
terminal would. Builds write pid files once set up (the "ready" files), and
the test checks that every process they started is gone afterwards. No
wall-clock assertions: where a wait has a limit, it is a liveness limit.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from _cli_helpers import (
    RECORD,
    Spawned,
    assert_all_dead,
    by_name,
    cli_env,
    command,
    kill_quietly,
    read_json,
    statuses,
    wait_until,
    write_builds,
)

pytestmark = pytest.mark.slow

# argv: DIR ROLE. Writes DIR/ROLE.pid once set up, then sleeps.
CHILD = """
import os, signal, sys, time
d, role = sys.argv[1], sys.argv[2]
if "setsid" in role:
    os.setsid()
tmp = f"{d}/{role}.pid.tmp"
with open(tmp, "w") as fh:
    fh.write(str(os.getpid()))
os.replace(tmp, f"{d}/{role}.pid")
time.sleep(120)
"""

# A build's main process starting a grandchild and a grandchild in a new session.
TREE = """
d, n, child = sys.argv[1], sys.argv[2], sys.argv[3]
subprocess.Popen([sys.executable, "-c", child, d, f"{n}-grandchild"])
subprocess.Popen([sys.executable, "-c", child, d, f"{n}-setsid-grandchild"])
note(f"{d}/{n}.pid", os.getpid())
time.sleep(120)
"""

# Ignores SIGTERM, but notes that it arrived.
STUBBORN = """
d, n = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: note(f"{d}/{n}.term", "1"))
note(f"{d}/{n}.pid", os.getpid())
while True:
    time.sleep(1)
"""

# A classic daemon: double fork, new session, output to /dev/null; the middle process
# exits at once, so the daemon is an orphan while the build's main process sleeps.
DAEMON = """
d, n = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        note(f"{d}/{n}-orphan.pid", os.getpid())
        time.sleep(120)
    os._exit(0)
note(f"{d}/{n}.pid", os.getpid())
time.sleep(120)
"""

FAILS_AT_ONCE = """
sys.exit(5)
"""

ROLES = [
    "tree",
    "tree-grandchild",
    "tree-setsid-grandchild",
    "stubborn",
    "daemon",
    "daemon-orphan",
]


def signal_project(proj: Path, rec: Path, kill_grace: str) -> None:
    write_builds(
        proj,
        {
            "tree": command(TREE, rec, "tree", CHILD),
            "stubborn": command(STUBBORN, rec, "stubborn"),
            "daemon": command(DAEMON, rec, "daemon"),
            "fails": command(FAILS_AT_ONCE, rec, "fails"),
            "pending": command(RECORD, rec, "pending", **{"depends-on": ["tree"]}),
        },
        run={"kill-grace": kill_grace, "max-concurrency": 5},
    )


def pid_of(rec: Path, role: str) -> int:
    return int((rec / f"{role}.pid").read_text())


def wait_ready(rec: Path, run: Spawned) -> dict[str, int]:
    """Every process set up, and the failing build's result recorded (its progress line)."""

    def ready() -> bool:
        if run.proc.poll() is not None:
            raise AssertionError(f"buildsys exited early: {run.stdout}\n{run.stderr}")
        return (
            all((rec / f"{role}.pid").exists() for role in ROLES) and "[fails] FAILED" in run.stdout
        )

    wait_until(ready, "every build process to be running")
    return {role: pid_of(rec, role) for role in ROLES}


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    proj, rec = tmp_path / "proj", tmp_path / "rec"
    proj.mkdir()
    rec.mkdir()
    return proj, rec


def leftovers(rec: Path) -> list[int]:
    return [int(p.read_text()) for p in rec.glob("*.pid")]


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_stops_every_build_process_and_writes_the_report(dirs, tmp_path, sig, code):
    proj, rec = dirs
    signal_project(proj, rec, kill_grace="0.5s")
    report = proj / "report.json"
    run = Spawned(
        ["build", "--progress", "plain", "--report-json", str(report)],
        proj,
        cli_env(),
        tmp_path / "cli",
    )
    try:
        pids = wait_ready(rec, run)
        run.signal_group(sig)
        assert run.wait() == code, run.stderr
        assert_all_dead(pids)

        data = read_json(report)
        assert statuses(data) == {
            "tree": "cancelled",
            "stubborn": "cancelled",
            "daemon": "cancelled",
            "fails": "failed",  # failed before the signal: interrupted still wins (130/143)
            "pending": "cancelled",
        }
        results = by_name(data)
        assert results["pending"]["started_at"] is None
        name = signal.Signals(sig).name
        for interrupted in ("tree", "stubborn", "pending"):
            assert name in results[interrupted]["reason"], results[interrupted]
        assert results["tree"]["started_at"] is not None
        assert data["ok"] is False and data["all_completed"] is False
        assert signal.Signals(sig).name in run.stderr
        assert not (rec / "pending.ran").exists()
    finally:
        run.kill()
        kill_quietly(leftovers(rec))


def test_second_sigint_kills_at_once(dirs, tmp_path):
    # A kill grace far longer than any liveness limit here: if the second
    # SIGINT did not kill at once, buildsys would still be waiting on the
    # SIGTERM-ignoring build when run.wait() gives up.
    proj, rec = dirs
    signal_project(proj, rec, kill_grace="1h")
    report = proj / "report.json"
    run = Spawned(
        ["build", "--progress", "plain", "--report-json", str(report)],
        proj,
        cli_env(),
        tmp_path / "cli",
    )
    try:
        pids = wait_ready(rec, run)
        run.signal_group(signal.SIGINT)
        # The first SIGINT was handled: the stubborn build got (and ignored) SIGTERM.
        wait_until((rec / "stubborn.term").exists, "SIGTERM to reach the build")
        assert run.proc.poll() is None
        assert is_running(pids["stubborn"])
        run.signal_group(signal.SIGINT)
        assert run.wait(timeout=30) == 130, run.stderr
        assert_all_dead(pids)
        assert statuses(read_json(report))["stubborn"] == "cancelled"
    finally:
        run.kill()
        kill_quietly(leftovers(rec))


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


# Records its run's id at start and end; holds on until DIR/release exists.
HOLD = """
d, run = sys.argv[1], os.environ["RUN_ID"]
note(f"{d}/{run}.start", repr(time.monotonic()))
while not os.path.exists(f"{d}/release"):
    time.sleep(0.02)
note(f"{d}/{run}.end", repr(time.monotonic()))
"""


def test_second_run_waits_for_the_first_and_says_so(dirs, tmp_path):
    proj, rec = dirs
    write_builds(proj, {"hold": command(HOLD, rec)})
    first = Spawned(["build"], proj, cli_env(RUN_ID="first"), tmp_path / "cli", tag="first")
    second = None
    try:
        wait_until((rec / "first.start").exists, "the first run's build to start")
        second = Spawned(["build"], proj, cli_env(RUN_ID="second"), tmp_path / "cli", tag="second")
        wait_until(lambda: "waiting" in second.stderr, "the second run to say it waits")
        assert not (rec / "second.start").exists()
        assert second.proc.poll() is None
        (rec / "release").write_text("go")
        assert first.wait() == 0, first.stderr
        assert second.wait() == 0, second.stderr
        first_end = float((rec / "first.end").read_text())
        second_start = float((rec / "second.start").read_text())
        assert first_end <= second_start
        assert "waiting" not in first.stderr
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_run_interrupted_while_waiting_for_the_lock(dirs, tmp_path):
    proj, rec = dirs
    write_builds(proj, {"hold": command(HOLD, rec)})
    first = Spawned(["build"], proj, cli_env(RUN_ID="first"), tmp_path / "cli", tag="first")
    second = None
    report = tmp_path / "second.json"
    try:
        wait_until((rec / "first.start").exists, "the first run's build to start")
        second = Spawned(
            ["build", "--report-json", str(report)],
            proj,
            cli_env(RUN_ID="second"),
            tmp_path / "cli",
            tag="second",
        )
        wait_until(lambda: "waiting" in second.stderr, "the second run to say it waits")
        second.signal_group(signal.SIGINT)
        assert second.wait() == 130, second.stderr
        assert statuses(read_json(report)) == {"hold": "cancelled"}
        assert not (rec / "second.start").exists()
        # The first run is unaffected.
        assert first.proc.poll() is None
        (rec / "release").write_text("go")
        assert first.wait() == 0, first.stderr
    finally:
        first.kill()
        if second is not None:
            second.kill()


# Like DAEMON, but the daemon clears its environment (exec with env={}), as some
# daemons do, and its middle process exits: it is neither a descendant of the
# build's main process nor carries the build's token.
CLEAN_DAEMON = """
d, n = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        code = (
            "import os, sys, time; "
            "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); "
            "os.replace(sys.argv[1] + '.tmp', sys.argv[1]); time.sleep(120)"
        )
        os.execve(sys.executable, [sys.executable, "-c", code, f"{d}/{n}-orphan.pid"], {})
    os._exit(0)
note(f"{d}/{n}.pid", os.getpid())
time.sleep(120)
"""


def test_sigint_stops_a_daemon_that_cleared_its_environment(dirs, tmp_path):
    proj, rec = dirs
    write_builds(proj, {"daemon": command(CLEAN_DAEMON, rec, "daemon")}, run={"kill-grace": "0.5s"})
    run = Spawned(["build"], proj, cli_env(), tmp_path / "cli")
    try:
        wait_until(
            lambda: (rec / "daemon.pid").exists() and (rec / "daemon-orphan.pid").exists(),
            "the daemon to start",
        )
        pids = {role: pid_of(rec, role) for role in ("daemon", "daemon-orphan")}
        run.signal_group(signal.SIGINT)
        assert run.wait() == 130, run.stderr
        assert_all_dead(pids)
    finally:
        run.kill()
        kill_quietly(leftovers(rec))
