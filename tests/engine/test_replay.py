"""No-op runs answered from `.buildsys/replay`, end to end through `python -m buildsys`.

Whether a run was replayed or went through the engine is read from Python's
own import log (`PYTHONPROFILEIMPORTTIME`): a replay never imports
`buildsys.engine`. Everything else is what a user sees: exit codes, output,
reports, files. A replay must be indistinguishable from the engine's no-op
except in speed, and must give way to the engine on any change.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from _cli_helpers import (
    CLI,
    CLI_TIMEOUT,
    Spawned,
    cli_env,
    fake_web_tool,
    install_plugin,
    render_toml,
)
from buildsys.masking import is_secret_name
from conftest import PRELUDE, py

# Concatenates the files under each directory (or the file) it is given into its
# output, upper-cased; records that it ran. argv: COUNTER NAME OUT PATH...
STEP = """
counter, name, out = sys.argv[1:4]
files = []
for path in sys.argv[4:]:
    if os.path.isdir(path):
        files += sorted(os.path.join(d, f) for d, _, names in os.walk(path) for f in names)
    else:
        files.append(path)
data = "".join(open(p).read() for p in files)
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as fh:
    fh.write(data.upper())
with open(counter, "a") as fh:
    fh.write(name + "\\n")
print(f"built {name}", flush=True)
"""

LONG_AGO_NS = 1_000_000_000_000_000_000  # 2001: far outside any racy window


class Project:
    def __init__(self, root: Path, counter: Path) -> None:
        self.root = root
        self.counter = counter
        self.report = root.parent / "report.json"
        self.env = {k: v for k, v in cli_env().items() if not is_secret_name(k)}
        self.env["PYTHONPROFILEIMPORTTIME"] = "1"
        self.args = ["build", "--progress", "plain", "--report-json", str(self.report)]
        for rel, text in (("src/a/one.txt", "one\n"), ("src/a/two.txt", "two\n")):
            self.write(rel, text)
        self.write("src/b/three.txt", "three\n")
        self.builds = {
            "a": self.step("a", "out/a.txt", ["src/a/*.txt"], "src/a"),
            "b": {
                **self.step("b", "out/b.txt", ["src/b/**", "out/a.txt"], "src/b", "out/a.txt"),
                "depends-on": ["a"],
            },
        }
        self.configure()

    def step(self, name: str, out: str, inputs: list[str], *read: str) -> dict[str, Any]:
        return {
            "platform": "command",
            "command": py(STEP, self.counter, name, out, *read),
            "inputs": inputs,
            "outputs": [out],
        }

    def configure(self, **run: Any) -> None:
        (self.root / "builds.toml").write_text(render_toml(self.builds, run=run or None))

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def runs(self) -> list[str]:
        return self.counter.read_text().split() if self.counter.exists() else []

    def build(self, *extra: str, env: dict[str, str] | None = None, rc: int = 0) -> Run:
        self.report.unlink(missing_ok=True)
        before = len(self.runs())
        proc = subprocess.run(
            [*CLI, *self.args, *extra],
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert proc.returncode == rc, proc
        report = json.loads(self.report.read_text()) if self.report.exists() else {}
        return Run(proc, report, self.runs()[before:])

    def backdate(self) -> None:
        """Every input, output and directory last modified long ago: nothing is racy."""
        for path in [self.root / "src", self.root / "out", *self.root.glob("src/**/*")]:
            os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))
        for path in (self.root / "out").iterdir():
            os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))

    @property
    def journal(self) -> Path:
        return self.root / ".buildsys" / "replay"


class Run:
    def __init__(
        self, proc: subprocess.CompletedProcess[str], report: dict[str, Any], ran: list[str]
    ) -> None:
        self.out = proc.stdout
        self.err = proc.stderr
        self.report = report
        self.ran = ran
        imported = re.findall(r"\|\s+(\S+)$", proc.stderr, re.MULTILINE)
        assert imported, "PYTHONPROFILEIMPORTTIME printed nothing"
        self.replayed = "buildsys.engine.runner" not in imported

    @property
    def statuses(self) -> dict[str, str]:
        return {r["name"]: r["status"] for r in self.report["results"]}


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(tmp_path / "proj", tmp_path / "runs.txt")


# What a replayed no-op may load of buildsys's engine: the lock, and replay itself
# (which holds the key and the journal's format, so that it is the only one).
REPLAY_ENGINE = {"buildsys.engine", "buildsys.engine.replay", "buildsys.engine.lock"}


def test_a_replayed_noop_loads_neither_the_engine_nor_plugins_attrs_pluggy_or_rich(
    proj: Project,
) -> None:
    proj.build()
    proj.build()  # the first replay also puts the cold run's log notes in place
    steady = proj.build()
    assert steady.replayed
    imported = set(re.findall(r"\|\s+(\S+)$", steady.err, re.MULTILINE))
    assert {m for m in imported if m.startswith("buildsys.engine")} == REPLAY_ENGINE
    heavy = {m for m in imported if m.split(".")[0] in ("attrs", "pluggy", "rich")}
    assert heavy == set()
    assert not {m for m in imported if m.startswith(("buildsys.plugin.", "buildsys.results"))} - {
        "buildsys.plugin._entrypoints"
    }


def _timeless_output(text: str) -> str:
    """Durations as T; column padding (which follows the durations' widths) as one space."""
    return re.sub(r" +", " ", re.sub(r"\b\d+(\.\d+)?(ms|s)\b", "T", text))


def _timeless_report(report: dict[str, Any]) -> dict[str, Any]:
    volatile = {"duration", "started_at", "finished_at"}
    return {
        **report,
        "total_duration": None,
        "results": [{k: v for k, v in r.items() if k not in volatile} for r in report["results"]],
    }


def test_noop_is_replayed_exactly_as_the_engine_reports_it(proj: Project) -> None:
    cold = proj.build()
    assert not cold.replayed
    assert cold.statuses == {"a": "succeeded", "b": "succeeded"}
    assert proj.journal.exists()

    replayed = proj.build()
    assert replayed.replayed
    assert replayed.statuses == {"a": "cached", "b": "cached"}
    assert replayed.ran == []

    proj.journal.unlink()  # the same no-op through the engine
    engine = proj.build()
    assert not engine.replayed
    assert _timeless_output(replayed.out) == _timeless_output(engine.out)
    assert _timeless_report(replayed.report) == _timeless_report(engine.report)
    assert replayed.err.count("buildsys:") == engine.err.count("buildsys:") == 0


def test_first_noop_after_a_cold_build_keeps_each_log_as_serving_does(proj: Project) -> None:
    proj.build()
    logs = proj.root / ".buildsys" / "logs"
    original = (logs / "a.log").read_text()
    assert "built a" in original

    assert proj.build().replayed
    assert (logs / "a.cached.log").read_text() == original
    note = (logs / "a.log").read_text()
    assert note.startswith("buildsys: served from the cache (key ")
    assert note.endswith(f"restored 0 file(s). The original run's log: {logs / 'a.cached.log'}\n")


def test_a_log_edited_after_the_cold_build_is_kept_as_it_was_stored(proj: Project) -> None:
    proj.build()
    logs = proj.root / ".buildsys" / "logs"
    original = (logs / "a.log").read_text()
    (logs / "a.log").write_text("scribbled over\n")
    assert proj.build().replayed
    assert (logs / "a.cached.log").read_text() == original
    assert (logs / "a.log").read_text().startswith("buildsys: served from the cache")


@pytest.mark.parametrize("damage", [b"", b"\x00not marshal data", b"\xe3truncated"])
def test_a_damaged_journal_goes_to_the_engine_and_is_written_again(
    proj: Project, damage: bytes
) -> None:
    proj.build()
    proj.journal.write_bytes(damage)
    run = proj.build()
    assert not run.replayed
    assert run.statuses == {"a": "cached", "b": "cached"}
    assert proj.build().replayed


def test_a_replay_that_only_confirms_rewrites_nothing(proj: Project) -> None:
    proj.build()
    proj.backdate()  # stats differ from the journal: the next replay hashes, then trusts
    assert proj.build().replayed
    before = proj.journal.stat()
    again = proj.build()
    assert again.replayed
    after = proj.journal.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_touched_inputs_are_still_replayed(proj: Project) -> None:
    proj.build()
    for path in (proj.root / "src").rglob("*.txt"):
        os.utime(path)
    run = proj.build()
    assert run.replayed
    assert run.statuses == {"a": "cached", "b": "cached"}


def _edit_same_size_and_mtime(proj: Project) -> None:
    path = proj.root / "src/a/one.txt"
    st = path.stat()
    path.write_text("ONE\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


BOTH = {"a": "succeeded", "b": "succeeded"}  # b reads a's output
CHANGES = {
    "input content, same size and mtime": (_edit_same_size_and_mtime, BOTH),
    "new input file": (lambda p: p.write("src/a/new.txt", "new\n"), BOTH),
    "input file removed": (lambda p: (p.root / "src/a/two.txt").unlink(), BOTH),
    "file in a matched subdirectory": (
        lambda p: p.write("src/b/x/y.txt", "y\n"),
        {"b": "succeeded"},
    ),
    "output deleted": (lambda p: (p.root / "out/a.txt").unlink(), {"a": "cached"}),
    "output edited": (lambda p: p.write("out/b.txt", "tampered\n"), {"b": "cached"}),
    "output mode": (lambda p: (p.root / "out/a.txt").chmod(0o600), {"a": "cached"}),
    "builds.toml": (lambda p: p.configure(**{"max-concurrency": 1}), {"a": "cached"}),
    "cache emptied": (
        lambda p: subprocess.run([*CLI, "cache", "clean"], cwd=p.root, env=p.env, check=True),
        BOTH,
    ),
    "log deleted": (lambda p: (p.root / ".buildsys/logs/a.log").unlink(), {"a": "cached"}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_goes_to_the_engine(proj: Project, change: str) -> None:
    proj.build()
    proj.backdate()
    assert proj.build().replayed
    make_change, expected = CHANGES[change]
    make_change(proj)
    run = proj.build()
    assert not run.replayed
    for name, status in expected.items():
        assert run.statuses[name] == status
    assert sorted(run.ran) == sorted(n for n, s in expected.items() if s == "succeeded")
    assert (proj.root / "out/a.txt").read_text() == "".join(
        (proj.root / "src/a" / f).read_text() for f in sorted(os.listdir(proj.root / "src/a"))
    ).upper()
    assert (proj.root / "out/a.txt").stat().st_mode & 0o777 != 0o600
    # ...which records the new state: the run after is replayed again.
    assert proj.build().replayed


def test_key_env_value_change_goes_to_the_engine(proj: Project) -> None:
    proj.builds["a"]["key-env"] = ["FLAVOUR"]
    proj.configure()
    proj.build(env={"FLAVOUR": "mild"})
    assert proj.build(env={"FLAVOUR": "mild"}).replayed
    run = proj.build(env={"FLAVOUR": "hot"})
    assert not run.replayed
    assert run.ran == ["a", "b"]  # b is keyed on a's key


def test_a_declared_secret_set_since_goes_to_the_engine(proj: Project) -> None:
    """Its value would be masked, and a short one warned about: only the engine does that."""
    proj.builds["a"]["secret-env"] = ["DEPLOY_CREDENTIAL"]
    proj.configure()
    proj.build()
    assert proj.build().replayed
    run = proj.build(env={"DEPLOY_CREDENTIAL": "abc"})
    assert not run.replayed
    assert "shorter than 8 characters" in run.out + run.err


def test_another_command_line_goes_to_the_engine(proj: Project) -> None:
    proj.build()
    run = proj.build("-j", "1")
    assert not run.replayed
    assert run.statuses == {"a": "cached", "b": "cached"}


@pytest.mark.parametrize(
    ("why", "extra", "env", "configure"),
    [
        ("a JUnit file", ("--junit-xml", "junit.xml"), {}, None),
        ("a build skipped for its host", (), {}, {"c": {"requires-os": ["windows"]}}),
        ("a build without inputs", (), {}, {"c": {"inputs": None}}),
    ],
)
def test_runs_a_replay_could_not_reproduce_are_not_recorded(
    proj: Project, why: str, extra: tuple[str, ...], env: dict[str, str], configure: Any
) -> None:
    if configure:
        c = proj.step("c", "out/c.txt", ["src/a/*.txt"], "src/a")
        c.update(configure["c"])
        proj.builds["c"] = {k: v for k, v in c.items() if v is not None}
        proj.configure()
    proj.build(*extra, env=env)
    assert not proj.journal.exists(), why
    assert not proj.build(*extra, env=env).replayed


def test_a_run_holding_the_lock_makes_the_replay_wait_through_the_engine(
    proj: Project, tmp_path: Path
) -> None:
    proj.build()
    fd = os.open(proj.root / ".buildsys" / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        spawned = Spawned([*proj.args], proj.root, proj.env, tmp_path / "out")
        deadline = time.monotonic() + CLI_TIMEOUT
        while "waiting for it to finish" not in spawned.err_path.read_text():
            assert spawned.proc.poll() is None, spawned.err_path.read_text()
            assert time.monotonic() < deadline, "the second run never said it waits"
            time.sleep(0.02)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert spawned.proc.wait(CLI_TIMEOUT) == 0
    assert "buildsys.engine.runner" in spawned.err_path.read_text()


OBSERVER = """
import os

import buildsys


@buildsys.hookimpl
def buildsys_run_finished(result):
    with open(os.environ["OBSERVED"], "a") as fh:
        fh.write(f"{result.cached_count}\\n")
"""


def test_a_plugin_observing_runs_sees_every_run(proj: Project, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(
        site, "observer", "1.0", {"observer": "observer_plugin"}, {"observer_plugin": OBSERVER}
    )
    observed = tmp_path / "observed.txt"
    env = {"PYTHONPATH": str(site), "OBSERVED": str(observed)}
    proj.build(env=env)
    assert not proj.journal.exists()
    runs = [proj.build(env=env) for _ in range(2)]
    assert not any(run.replayed for run in runs)
    assert observed.read_text().split() == ["0", "2", "2"]


def test_a_replayed_run_was_recorded_without_observers(proj: Project, tmp_path: Path) -> None:
    """The same plugin, disabled: nothing observes, so the no-op is replayed."""
    site = tmp_path / "site"
    install_plugin(
        site, "observer", "1.0", {"observer": "observer_plugin"}, {"observer_plugin": OBSERVER}
    )
    env = {"PYTHONPATH": str(site), "OBSERVED": str(tmp_path / "observed.txt")}
    env["BUILDSYS_DISABLE_PLUGINS"] = "observer"
    proj.build(env=env)
    assert proj.build(env=env).replayed
    assert not (tmp_path / "observed.txt").exists()


def _on_a_terminal(proj: Project) -> tuple[str, bool]:
    """`buildsys build` with its stdout on a pseudo-terminal, as a person runs it
    (`--progress auto` picks rich there); its output and whether it was replayed."""
    import pty

    master, slave = pty.openpty()
    with subprocess.Popen(
        [*CLI, "build", "--report-json", str(proj.report)],
        cwd=proj.root,
        env={**proj.env, "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
    ) as proc:
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program closed its end of the terminal
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert proc.wait(CLI_TIMEOUT) == 0, (out, err)
    imported = re.findall(r"\|\s+(\S+)$", err, re.MULTILINE)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", out.decode(errors="replace"))
    # The live panel's line ("1/2 done, 0 running"), which the terminal erases.
    text = re.sub(r" *\d+/\d+ done, \d+ running *", "\n", text)
    return text, "buildsys.engine.runner" not in imported


def test_a_noop_on_a_terminal_is_replayed_with_the_summary_rich_leaves(proj: Project) -> None:
    proj.build()  # the cold build
    proj.journal.unlink()
    engine, replayed = _on_a_terminal(proj)  # a no-op through the engine, with rich
    assert not replayed
    assert proj.journal.exists()
    text, replayed = _on_a_terminal(proj)
    assert replayed
    lines = [line for line in _timeless_output(text).splitlines() if line.strip()]
    assert "[a] cached in T" in lines
    assert lines[-1] == "buildsys: ok: 2 cached in T"
    shown = set(_timeless_output(engine).splitlines())
    assert [line for line in lines if line not in shown] == []


# -- toolchains: web builds with fake tools on PATH, and secrets ------------------------


class WebProject(Project):
    """Two web builds, built by a fake pnpm and fingerprinted with a fake node."""

    def __init__(self, root: Path, tmp_path: Path) -> None:
        self.tools = tmp_path / "tools"
        self.calls = tmp_path / "calls.txt"
        fake_web_tool(self.tools, "node", "v20.0.0", self.calls)
        fake_web_tool(self.tools, "pnpm", "9.0.0", self.calls)
        super().__init__(root, tmp_path / "runs.txt")
        self.builds = {
            name: {
                "platform": "web",
                "cwd": name,
                "package-manager": "pnpm",
                "inputs": [f"{name}/package.json"],
            }
            for name in ("one", "two")
        }
        for name in self.builds:
            self.write(f"{name}/package.json", json.dumps({"scripts": {"build": "x"}}))
        self.configure()
        self.env["PATH"] = f"{self.tools}:{self.env['PATH']}"


@pytest.fixture
def web(tmp_path: Path) -> WebProject:
    return WebProject(tmp_path / "proj", tmp_path)


def test_web_builds_are_replayed_with_a_ci_token_in_the_environment(web: WebProject) -> None:
    token = {"GITHUB_TOKEN": "ghs_0123456789abcdefghijklmnopqrstuvwxyz"}
    cold = web.build(env=token)
    assert cold.statuses == {"one": "succeeded", "two": "succeeded"}
    replayed = web.build(env=token)
    assert replayed.replayed
    assert replayed.statuses == {"one": "cached", "two": "cached"}
    assert token["GITHUB_TOKEN"].encode() not in web.journal.read_bytes()
    # Another token (the next CI job's) is another invocation: the engine answers it.
    other = web.build(env={"GITHUB_TOKEN": "ghs_another-token-of-the-next-job-0000000"})
    assert not other.replayed
    assert other.statuses == {"one": "cached", "two": "cached"}


def _upgrade_node(web: WebProject) -> None:
    fake_web_tool(web.tools, "node", "v22.0.0", web.calls)


def _node_earlier_on_path(web: WebProject) -> None:
    early = web.tools.parent / "early"
    web.env["PATH"] = f"{early}:{web.env['PATH']}"
    web.build()  # recorded with the empty directory first on PATH
    fake_web_tool(early, "node", "v23.0.0", web.calls)


def _pnpm_removed(web: WebProject) -> None:
    (web.tools / "pnpm").unlink()


def _path_changed(web: WebProject) -> None:
    web.env["PATH"] = f"{web.env['PATH']}:/nonexistent-dir"


TOOLCHAIN_CHANGES = {
    "a tool upgraded": (_upgrade_node, "succeeded"),
    "a tool installed earlier on PATH": (_node_earlier_on_path, "succeeded"),
    "a tool removed": (_pnpm_removed, "failed"),
    "PATH changed": (_path_changed, "cached"),
}


@pytest.mark.parametrize("change", list(TOOLCHAIN_CHANGES))
def test_a_toolchain_change_goes_to_the_engine(web: WebProject, change: str) -> None:
    web.build()
    assert web.build().replayed
    make_change, status = TOOLCHAIN_CHANGES[change]
    make_change(web)
    run = web.build(rc=1 if status == "failed" else 0)
    assert not run.replayed
    assert run.statuses == {"one": status, "two": status}
    if status != "failed":
        assert web.build().replayed  # the new toolchain is recorded


def test_a_command_s_program_edited_goes_to_the_engine(proj: Project) -> None:
    tool = proj.write("tools/step", f"#!{sys.executable}\n{PRELUDE}{STEP}")
    tool.chmod(0o755)
    proj.builds = {
        "a": {
            **proj.step("a", "out/a.txt", ["src/a/*.txt"], "src/a"),
            "command": [str(tool), str(proj.counter), "a", "out/a.txt", "src/a"],
        }
    }
    proj.configure()
    assert proj.build().ran == ["a"]
    assert proj.build().replayed
    tool.write_text(tool.read_text() + "# edited\n")
    run = proj.build()
    assert not run.replayed
    assert run.ran == ["a"]  # the program is the build's toolchain: its key changed
    assert proj.build().replayed


# A third party's builder: copies its input; `fingerprint` and `check` as the
# variable FINGERPRINT says: "str" (fingerprint(host) returning a string),
# "vouched" (a Fingerprint naming the tool file), "check-only" (check(), no fingerprint).
TOOLED = """
import os
import shutil

import buildsys

KIND = os.environ["FINGERPRINT"]
TOOL = os.environ["TOOL_FILE"]


class Tooled:
    name = "tooled"

    def build(self, spec, ctx):
        os.makedirs(os.path.join(spec.root, "out"), exist_ok=True)
        shutil.copy(os.path.join(spec.root, "src/a/one.txt"), os.path.join(spec.root, "out/t.txt"))


class WithString(Tooled):
    def fingerprint(self, host):
        return "tool " + open(TOOL).read().strip()


class WithFingerprint(Tooled):
    def fingerprint(self, host):
        return buildsys.Fingerprint("tool " + open(TOOL).read().strip(), files=[TOOL])

    def check(self, host):
        return []


class CheckOnly(Tooled):
    def check(self, host):
        return []


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    kinds = {"str": WithString, "vouched": WithFingerprint, "check-only": CheckOnly}
    registry.add(kinds[KIND]())
"""


@pytest.mark.parametrize(
    ("kind", "replayed"), [("str", False), ("vouched", True), ("check-only", False)]
)
def test_a_third_party_toolchain_is_replayed_when_its_fingerprint_vouches(
    proj: Project, tmp_path: Path, kind: str, replayed: bool
) -> None:
    site = tmp_path / "site"
    install_plugin(site, "tooled", "1.0", {"tooled": "tooled_plugin"}, {"tooled_plugin": TOOLED})
    tool = tmp_path / "tool-version"
    tool.write_text("1.0\n")
    env = {"PYTHONPATH": str(site), "FINGERPRINT": kind, "TOOL_FILE": str(tool)}
    proj.builds = {"t": {"platform": "tooled", "inputs": ["src/a/*.txt"], "outputs": ["out/t.txt"]}}
    proj.configure()
    assert proj.build(env=env).statuses == {"t": "succeeded"}
    run = proj.build(env=env)
    assert run.statuses == {"t": "cached"}
    assert run.replayed is replayed
    if replayed:
        tool.write_text("2.0\n")  # what vouches for the fingerprint changed
        run = proj.build(env=env)
        assert not run.replayed
        assert run.statuses == {"t": "succeeded"}


# -- git's ignore rules ---------------------------------------------------------------------


def _in_a_work_tree(proj: Project, gitignore: str, exclude: str = "") -> None:
    (proj.root / ".git" / "info").mkdir(parents=True)
    proj.write(".git/info/exclude", exclude)
    proj.write(".gitignore", gitignore)
    proj.write("src/a/extra.txt", "extra\n")


def test_a_noop_in_a_git_work_tree_is_replayed(proj: Project) -> None:
    _in_a_work_tree(proj, "extra.txt\n")
    cold = proj.build()
    assert cold.ran == ["a", "b"]
    run = proj.build()
    assert run.replayed
    assert run.statuses == {"a": "cached", "b": "cached"}


IGNORE_EDITS = {
    # where extra.txt is ignored: (.gitignore, info/exclude); then what is edited
    "the .gitignore no longer ignores it": ("extra.txt\n", "", ".gitignore", "# none\n"),
    "info/exclude no longer ignores it": ("", "extra.txt\n", ".git/info/exclude", ""),
    "a new .gitignore below re-includes it": (
        "extra.txt\n",
        "",
        "src/a/.gitignore",
        "!extra.txt\n",
    ),
}


@pytest.mark.parametrize("edit", list(IGNORE_EDITS))
def test_an_ignore_edit_that_makes_a_file_an_input_goes_to_the_engine(
    proj: Project, edit: str
) -> None:
    """extra.txt is ignored, so not an input of `a`; once git no longer ignores it,
    `a`'s inputs differ: the run is not replayed, and `a` builds again."""
    gitignore, exclude, edited, text = IGNORE_EDITS[edit]
    _in_a_work_tree(proj, gitignore, exclude)
    proj.build()
    proj.backdate()
    assert proj.build().replayed
    proj.write(edited, text)
    run = proj.build()
    assert not run.replayed
    assert run.statuses["a"] == "succeeded"
    assert "a" in run.ran
    assert proj.build().replayed  # ...which records the new rules


def test_a_new_gitignore_that_leaves_an_input_out_goes_to_the_engine(proj: Project) -> None:
    _in_a_work_tree(proj, "extra.txt\n")
    proj.build()
    proj.backdate()
    assert proj.build().replayed
    proj.write("src/b/.gitignore", "three.txt\n")  # src/b's only input: no longer one
    run = proj.build()
    assert not run.replayed
    assert run.statuses["b"] == "succeeded"
