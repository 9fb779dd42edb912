"""Helpers for the end-to-end tests: write a builds.toml, run the real CLI, read what it wrote.

Every build is a real subprocess: the built-in `command` platform running
`sys.executable -c PRELUDE+SCRIPT ARGS...` (see `conftest.py` for PRELUDE and
`note()`, an atomic write). Scripts record what happened (pids, timestamps,
argv, environment values) in files under a directory the test owns; tests
assert on those files, on exit codes and on reports, never on wall-clock time.
Waits here are liveness polls with generous limits, not timing assertions.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import py

PY = sys.executable
CLI = [sys.executable, "-m", "buildsys"]
# Generous: a hung CLI fails the test instead of hanging the suite.
CLI_TIMEOUT = 60.0

# Environment variables the tests control; removed from the inherited environment.
_SCRUB = ("BUILDSYS_DISABLE_PLUGINS", "PYTHONPATH", "MY_TOKEN", "PLAIN_VAR", "SHORT_TOKEN")


# -- builds.toml -------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A TOML literal for a str, bool, number, list or (inline) table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes (\" \\ \n \uXXXX) are valid in TOML basic strings.
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(header: str, body: dict[str, Any]) -> list[str]:
    lines = [f"[{header}]"]
    lines += [f"{key} = {toml_value(val)}" for key, val in body.items()]
    return [*lines, ""]


def render_toml(
    builds: dict[str, dict[str, Any]],
    *,
    run: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> str:
    """builds.toml text; a build's `profiles` dict becomes [builds.<name>.profiles.<p>] tables."""
    lines: list[str] = []
    if run:
        lines += _table("run", run)
    if defaults:
        lines += _table("defaults", defaults)
    for name, body in builds.items():
        body = dict(body)
        profiles = body.pop("profiles", {})
        lines += _table(f"builds.{name}", body)
        for profile, overrides in profiles.items():
            lines += _table(f"builds.{name}.profiles.{profile}", overrides)
    return "\n".join(lines)


def write_builds(root: Path, builds: dict[str, dict[str, Any]], **kw: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "builds.toml"
    path.write_text(render_toml(builds, **kw))
    return path


EXTRA_IMPORTS = "import json\n"


def command(code: str, *args: object, **keys: Any) -> dict[str, Any]:
    """A `command` build running `code` (after conftest's PRELUDE) with `args` as sys.argv[1:]."""
    return {"platform": "command", "command": py(EXTRA_IMPORTS + code, *args), **keys}


# Scripts. Each gets the test's record directory as argv[1] and the build's
# name as argv[2], and appends nothing else unless the test passes `-- ARGS`.

# Records that it ran, with its extra argv, then exits 0.
RECORD = """
d, n = sys.argv[1], sys.argv[2]
note(f"{d}/{n}.ran", json.dumps(sys.argv[3:]))
"""

# Records start and end (monotonic: one clock for every process of the machine).
TIMED = """
d, n, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
note(f"{d}/{n}.start", repr(time.monotonic()))
time.sleep(secs)
note(f"{d}/{n}.end", repr(time.monotonic()))
"""

# Exits with a code after printing some lines.
FAIL = """
d, n, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, 31):
    print(f"{n} output line {i}", flush=True)
note(f"{d}/{n}.ran", "1")
sys.exit(code)
"""

# Writes its pid (the "ready" file), then sleeps until killed.
SLEEPER = """
d, n = sys.argv[1], sys.argv[2]
note(f"{d}/{n}.pid", os.getpid())
time.sleep(120)
"""

# Waits until another build's ready file exists, then fails.
FAIL_AFTER = """
d, n, other = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(f"{d}/{other}.pid"):
    time.sleep(0.01)
print(f"{n} gives up", flush=True)
sys.exit(1)
"""

# Records one environment variable's value (or <unset>).
ENV = """
d, n, var = sys.argv[1], sys.argv[2], sys.argv[3]
value = os.environ.get(var, "<unset>")
print(f"{var}={value}", flush=True)
note(f"{d}/{n}.env", value)
"""

# -- running the CLI ---------------------------------------------------------------------


def cli_env(extra: dict[str, str] | None = None, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra or {})
    env.update(more)
    return env


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.args = proc.args

    @property
    def text(self) -> str:
        return self.out + self.err

    def __repr__(self) -> str:
        return f"<rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}>"


def cli(*args: str | os.PathLike[str], cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    """Run `python -m buildsys ARGS` in `cwd`; `env` is the whole environment (see cli_env)."""
    proc = subprocess.run(
        [*CLI, *map(str, args)],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    return CliResult(proc)


class Spawned:
    """A CLI started in its own session (own process group), output to files."""

    def __init__(
        self, args: list[str], cwd: Path, env: dict[str, str], out_dir: Path, tag: str = "cli"
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = out_dir / f"{tag}.stdout"
        self.err_path = out_dir / f"{tag}.stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def pgid(self) -> int:
        return self.proc.pid

    def signal_group(self, sig: int) -> None:
        """What a terminal does on Ctrl-C: signal the foreground job's whole group."""
        os.killpg(self.pgid, sig)

    def wait(self, timeout: float = CLI_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"buildsys did not exit within {timeout}s\nstdout:\n{self.stdout}\n"
                f"stderr:\n{self.stderr}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            self.proc.wait()

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def wait_until(predicate: Any, what: str, timeout: float = CLI_TIMEOUT) -> None:
    """Poll `predicate()` until true (a liveness poll, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def is_dead(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` is not running: gone, or a zombie (killed, not yet reaped by its parent).

    Orphans of a CLI that exited are re-parented to the nearest subreaper,
    which may be this test process (in-process tests enable it): such a
    corpse is dead for the user, so it counts, and is reaped here if ours.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return True
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):
            if int(fields[1]) == os.getpid():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def assert_all_dead(pids: dict[str, int], timeout: float = 10.0) -> None:
    alive = {role: pid for role, pid in pids.items() if not is_dead(pid, timeout)}
    assert not alive, f"still running after buildsys exited: {alive}"


def kill_quietly(pids: dict[str, int] | list[int]) -> None:
    for pid in pids.values() if isinstance(pids, dict) else pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# -- holding deadlines back until builds are set up ------------------------------------

READY_GATE = "ready-gate"

# conftest's ReadyGate as a plugin, for a real `buildsys build`: its build_started
# hook, for the build named READY_GATE, waits until every file in $READY_FILES
# exists. Observer hooks run holding the scheduling lock, which acting on a
# deadline needs, so no build times out before then.
READY_GATE_PLUGIN = f"""
import os
import time

import buildsys


@buildsys.hookimpl
def buildsys_build_started(build, attempt):
    if build.name != {READY_GATE!r}:
        return
    paths = os.environ["READY_FILES"].split(os.pathsep)
    give_up = time.monotonic() + 60  # a hang guard, not a timing
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > give_up:
            raise RuntimeError(f"never appeared: {{paths}}")
        time.sleep(0.01)
"""


def ready_gate(site: Path, rec: Path, *paths: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(the gate build, the environment that loads its plugin from `site`).

    List the gate build last in builds.toml, with a `max-concurrency` that
    starts every build at once; run with `cli_env(env)`. A build with a short
    timeout is then stopped only once `paths` (its ready files) exist.
    """
    install_plugin(
        site,
        "buildsys-plugin-ready-gate",
        "1.0",
        {"ready_gate": "ready_gate_plugin"},
        {"ready_gate_plugin": READY_GATE_PLUGIN},
    )
    env = {"PYTHONPATH": str(site), "READY_FILES": os.pathsep.join(map(str, paths))}
    # Held back itself, the gate must not time out once let go.
    return command(RECORD, rec, READY_GATE, timeout="1h"), env


# -- reports -----------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in report["results"]}


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: r["status"] for r in report["results"]}


# -- plugins, installed as a user's `pip install` would leave them ------------------------


def install_plugin(
    site: Path,
    dist: str,
    version: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
) -> None:
    """A dist-info directory with METADATA and entry_points.txt, and the modules beside it."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[buildsys]\n{eps}")
    (info / "RECORD").write_text("")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)


# Plugin modules, as third parties would write them.

ACME_PLUGIN = """
import os
import sys

import attrs

import buildsys

WRITE = "import sys; open(sys.argv[1], 'w').write(sys.argv[2]); print('acme built', sys.argv[2])"


@attrs.frozen
class AcmeOptions:
    build_target: str = "release"
    output: str = "acme-out.txt"


class AcmeBuilder:
    name = "acme"
    options = AcmeOptions

    def check(self, host):
        if os.environ.get("ACME_MISSING"):
            return [
                buildsys.BuildError(
                    "the acme compiler is not installed",
                    code="ACME_NOT_FOUND",
                    suggestions=("install acme",),
                )
            ]
        return []

    def build(self, spec, ctx):
        target = os.path.join(spec.cwd, spec.options.output)
        ctx.run([sys.executable, "-c", WRITE, target, spec.options.build_target])


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(AcmeBuilder())
"""

# Fails to import; its entry point name is the platform it would provide.
BROKEN_IMPORT_PLUGIN = """
raise RuntimeError("broken plugin: cannot import its toolchain bindings")
"""

REGISTER_RAISES_PLUGIN = """
import buildsys


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    raise ValueError("registration went wrong")
"""

# Registers a platform named "acme" too.
DUPLICATE_PLUGIN = """
import buildsys


class OtherAcme:
    name = "acme"

    def build(self, spec, ctx):
        pass


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(OtherAcme())
"""

CRASHY_PLUGIN = """
import buildsys


class CrashyBuilder:
    name = "crashy"

    def build(self, spec, ctx):
        raise RuntimeError("crashy builder exploded")


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(CrashyBuilder())
"""

# Observer hooks: appends one line per call to $OBSERVER_FILE.
OBSERVER_PLUGIN = """
import os

import buildsys


def _say(text):
    with open(os.environ["OBSERVER_FILE"], "a") as fh:
        fh.write(text + "\\n")


@buildsys.hookimpl
def buildsys_build_started(build, attempt):
    _say(f"started {build.name} {attempt}")


@buildsys.hookimpl
def buildsys_build_finished(build, result):
    _say(f"finished {build.name} {result.status.value}")


@buildsys.hookimpl
def buildsys_run_finished(result):
    _say(f"run_finished ok={result.ok} builds={len(result.results)}")
"""

RAISING_OBSERVER_PLUGIN = """
import buildsys


@buildsys.hookimpl
def buildsys_build_started(build, attempt):
    raise RuntimeError("observer broke in build_started")


@buildsys.hookimpl
def buildsys_build_finished(build, result):
    raise RuntimeError("observer broke in build_finished")


@buildsys.hookimpl
def buildsys_run_finished(result):
    raise RuntimeError("observer broke in run_finished")
"""


# -- fake toolchains on PATH ------------------------------------------------------------

# A fake node, npm, pnpm, yarn or bun (a shell script: it starts in a millisecond).
# `--version` prints its version and appends "NAME VERSION" to a calls file, so a
# test counts the probes; `run SCRIPT` writes dist/index.html in its working
# directory, as a package.json build script would; anything else does nothing.
FAKE_WEB_TOOL = """#!/bin/sh
case "$1" in
--version) echo "{name} {version}" >> "{calls}"; echo "{version}";;
run) /bin/mkdir -p dist && echo "built by {name} {version}" > dist/index.html;;
esac
"""


def fake_web_tool(directory: Path, name: str, version: str, calls: Path) -> Path:
    """Write (or upgrade, by rewriting it) the fake tool `directory/name`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(FAKE_WEB_TOOL.format(name=name, version=version, calls=calls))
    path.chmod(0o755)
    return path


def probes(calls: Path) -> list[str]:
    """The `--version` calls the fake tools recorded, sorted: "node v20.0.0", ..."""
    return sorted(calls.read_text().splitlines()) if calls.exists() else []
