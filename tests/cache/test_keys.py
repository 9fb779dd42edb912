"""The build cache end to end: real `python -m buildsys build` runs against real files.

Every build is a `command` build running `sys.executable -c STEP ...` (or a
throwaway `probe` plugin installed as a dist-info folder on PYTHONPATH). Each
real run of a build appends its name to a counter file outside the project, so
a test tells "ran" from "served from the cache" by that file, not only by the
reported status. No wall-clock assertions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from _cli_helpers import CLI, CLI_TIMEOUT, by_name, cli, cli_env, install_plugin, render_toml
from buildsys.cache.store import Cache
from conftest import py

# Reads its inputs, writes one output (upper-cased inputs), records that it ran.
# argv: COUNTER NAME OUT [INPUT...]
STEP = """
counter, name, out = sys.argv[1:4]
if counter == "@env":
    counter = os.environ["RUNS_FILE"]
data = "".join(open(p).read() for p in sys.argv[4:])
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
with open(out, "w") as fh:
    fh.write(f"{name}:" + data.upper())
with open(counter, "a") as fh:
    fh.write(name + "\\n")
print(f"built {name}", flush=True)
if os.environ.get("STEP_FAIL") == name:
    sys.exit(3)
"""

# Like STEP, then appends to its own first input (an input edited while the build
# runs) when the flag file exists, and removes the flag.
# argv: COUNTER NAME OUT FLAG INPUT
SELF_EDIT = """
counter, name, out, flag, src = sys.argv[1:6]
data = open(src).read()
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
with open(out, "w") as fh:
    fh.write(data.upper())
with open(counter, "a") as fh:
    fh.write(name + "\\n")
if os.path.exists(flag):
    with open(src, "a") as fh:
        fh.write("edited while building\\n")
    os.unlink(flag)
"""

PROBE_PLUGIN = """
import os
import sys

import attrs

import buildsys

WRITE = '''
import os, sys
counter, out, extra, src = sys.argv[1:5]
data = open(src).read()
for path, text in ((out, "probe:" + data), (extra, "side artifact of " + data)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
with open(counter, "a") as fh:
    fh.write("probe\\\\n")
print("probe built", flush=True)
'''


@attrs.frozen
class ProbeOptions:
    source: str = "src/a.txt"
    output: str = "out/probe.txt"
    extra: str = "extra/side.txt"


class ProbeBuilder:
    name = "probe"
    options = ProbeOptions

    def fingerprint(self, host):
        return "probe-tool " + os.environ.get("PROBE_TOOL_VERSION", "1.0")

    def build(self, spec, ctx):
        root = spec.root
        out = os.path.join(root, spec.options.output)
        extra = os.path.join(root, spec.options.extra)
        src = os.path.join(root, spec.options.source)
        ctx.run([sys.executable, "-c", WRITE, os.environ["PROBE_COUNTER"], out, extra, src])
        ctx.add_artifact(extra)


@buildsys.hookimpl
def buildsys_register_platforms(registry):
    registry.add(ProbeBuilder())
"""


class Project:
    """One project directory, its counter file, and helpers to build it through the CLI."""

    def __init__(self, root: Path, counter: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.counter = counter
        self.env = env if env is not None else cli_env()
        self.reports = 0
        self.counter_arg: str | Path = counter  # "@env": the script reads $RUNS_FILE
        root.mkdir(parents=True, exist_ok=True)

    # -- files ------------------------------------------------------------------

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def config(self, builds: dict[str, dict[str, Any]], run: dict[str, Any] | None = None) -> None:
        (self.root / "builds.toml").write_text(render_toml(builds, run=run))

    def step(self, name: str, out: str, *inputs: str, **keys: Any) -> dict[str, Any]:
        """A STEP build reading `inputs`, writing `out`, declaring them unless told otherwise."""
        body: dict[str, Any] = {
            "platform": "command",
            "command": py(STEP, self.counter_arg, name, out, *inputs),
        }
        if inputs:
            body["inputs"] = list(inputs)
        body["outputs"] = [out]
        body.update(keys)
        return {k: v for k, v in body.items() if v is not None}

    # -- runs -------------------------------------------------------------------

    def runs(self) -> list[str]:
        try:
            return self.counter.read_text().split()
        except FileNotFoundError:
            return []

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return cli(*args, cwd=self.root, env={**self.env, **(env or {})})

    def build(
        self, *args: str, env: dict[str, str] | None = None, rc: int | None = 0
    ) -> tuple[Any, dict[str, Any]]:
        """`buildsys build ARGS --report-json`; the CLI result and the report."""
        self.reports += 1
        report = self.root.parent / f"{self.root.name}-report-{self.reports}.json"
        res = self.cli("build", "--progress", "plain", "--report-json", str(report), *args, env=env)
        if rc is not None:
            assert res.rc == rc, res
        return res, json.loads(report.read_text())

    def statuses(self, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
        _, report = self.build(*args, env=env)
        return {r["name"]: r["status"] for r in report["results"]}

    def fresh(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[dict[str, str], list[str]]:
        """Build; the statuses and the builds that really ran in this run (from the counter)."""
        before = len(self.runs())
        result = self.statuses(*args, env=env)
        return result, self.runs()[before:]

    def dry_run(self, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
        """`build --dry-run`: each build's line of the plan, by name."""
        res = self.cli("build", "--dry-run", *args, env=env)
        assert res.rc == 0, res
        lines: dict[str, str] = {}
        for line in res.out.splitlines():
            if line.startswith("  ") and ": " in line:
                head, _, what = line.strip().partition(": ")
                lines[head.split(" ")[0]] = what
        return lines

    def cache_dir(self) -> Path:
        return self.root / ".buildsys" / "cache"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(tmp_path / "proj", tmp_path / "runs.txt")


def warnings_of(report: dict[str, Any], name: str) -> str:
    return "\n".join(by_name(report)[name]["warnings"])


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def blobs(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / "blobs").rglob("*") if p.is_file())


def manifests(cache_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in (cache_dir / "manifests").rglob("*.json")
        if p.is_file() and not p.name.startswith(".")
    )


# -- hits ------------------------------------------------------------------------------


def test_second_run_is_served_from_the_cache(proj: Project) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.write("src/b.txt", "beta\n")
    proj.config(
        {
            "a": proj.step("a", "out/a.txt", "src/a.txt"),
            "b": proj.step("b", "out/b.txt", "src/b.txt", "out/a.txt", **{"depends-on": ["a"]}),
        }
    )
    _, first = proj.build()
    assert {r["name"]: r["status"] for r in first["results"]} == {
        "a": "succeeded",
        "b": "succeeded",
    }
    assert first["cached_count"] == 0
    assert sorted(proj.runs()) == ["a", "b"]
    outputs = files_under(proj.root / "out")
    assert outputs == {"a.txt": b"a:ALPHA\n", "b.txt": b"b:BETA\nA:ALPHA\n"}

    res, second = proj.build()
    assert {r["name"]: r["status"] for r in second["results"]} == {"a": "cached", "b": "cached"}
    assert (second["cached_count"], second["success_count"]) == (2, 0)
    assert second["ok"] is True
    # SPEC: a reason says why a build was skipped or cancelled, else null.
    assert [r["reason"] for r in second["results"]] == [None, None]
    assert re.search(r"^buildsys: ok: 2 cached in ", res.out, re.M), res.out
    assert sorted(proj.runs()) == ["a", "b"], "a cached build must not run"
    assert files_under(proj.root / "out") == outputs
    assert "cached" in res.out
    # A cached build reports its artifacts like a built one.
    assert by_name(second)["a"]["artifacts"] == [str(proj.root / "out" / "a.txt")]


# -- misses: one per key ingredient ----------------------------------------------------


def test_miss_on_file_content(proj: Project) -> None:
    proj.write("src/a.txt", "one\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt", inputs=["src/**"])})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])

    proj.write("src/a.txt", "two\n")
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.read("out/a.txt") == "a:TWO\n"

    # Back to the old content: the old entry serves it, and restores the old output.
    proj.write("src/a.txt", "one\n")
    assert proj.fresh() == ({"a": "cached"}, [])
    assert proj.read("out/a.txt") == "a:ONE\n"

    # A new file matching the inputs patterns is a change too.
    proj.write("src/extra.txt", "more\n")
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])


def test_miss_on_content_change_with_same_size_and_mtime(proj: Project) -> None:
    """Content decides, not (size, mtime): an edit that keeps both still misses."""
    src = proj.write("src/a.txt", "aaaa\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])
    st = src.stat()
    src.write_text("bbbb\n")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.read("out/a.txt") == "a:BBBB\n"


def test_touch_without_change_is_still_a_hit(proj: Project) -> None:
    src = proj.write("src/a.txt", "same\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert proj.fresh() == ({"a": "cached"}, [])
    assert proj.fresh() == ({"a": "cached"}, [])


def test_miss_on_option_change(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    build = proj.step("a", "out/a.txt", "src/a.txt")
    proj.config({"a": build})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])
    # The same script with one more (ignored) argument: another command, another key.
    build["command"] = [*build["command"], "src/a.txt"]
    proj.config({"a": build})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])


def test_miss_on_extra_args(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh("a", "--", "src/a.txt") == ({"a": "succeeded"}, ["a"])
    assert proj.fresh("a", "--", "src/a.txt") == ({"a": "cached"}, [])
    assert proj.fresh() == ({"a": "cached"}, [])


def test_miss_on_profile(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config(
        {
            "a": proj.step(
                "a", "out/a.txt", "src/a.txt", profiles={"release": {"env": {"MODE": "release"}}}
            )
        }
    )
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh("--profile", "release") == ({"a": "succeeded"}, ["a"])
    assert proj.fresh("--profile", "release") == ({"a": "cached"}, [])
    assert proj.fresh() == ({"a": "cached"}, [])


def test_miss_on_env_value(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt", env={"MODE": "debug"})})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt", env={"MODE": "release"})})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt", env={"MODE": "debug"})})
    assert proj.fresh() == ({"a": "cached"}, [])


def test_miss_on_key_env_value(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt", **{"key-env": ["TARGET_URL"]})})
    one = {"TARGET_URL": "https://one.example"}
    two = {"TARGET_URL": "https://two.example"}
    assert proj.fresh(env=one) == ({"a": "succeeded"}, ["a"])
    assert proj.fresh(env=one) == ({"a": "cached"}, [])
    assert proj.fresh(env=two) == ({"a": "succeeded"}, ["a"])
    assert proj.fresh(env=one) == ({"a": "cached"}, [])
    assert proj.fresh() == ({"a": "succeeded"}, ["a"]), "unset is another value"
    assert proj.fresh() == ({"a": "cached"}, [])
    # A caller variable that is not in key-env is not part of the key.
    assert proj.fresh(env={"UNRELATED": "1"}) == ({"a": "cached"}, [])


def test_miss_on_dependency_key(proj: Project) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.write("src/b.txt", "beta\n")
    proj.config(
        {
            "a": proj.step("a", "out/a.txt", "src/a.txt"),
            # b does not declare out/a.txt as an input: only a's key links them.
            "b": proj.step("b", "out/b.txt", "src/b.txt", **{"depends-on": ["a"]}),
        }
    )
    assert sorted(proj.fresh()[1]) == ["a", "b"]
    assert proj.fresh() == ({"a": "cached", "b": "cached"}, [])
    proj.write("src/a.txt", "changed\n")
    statuses, ran = proj.fresh()
    assert statuses == {"a": "succeeded", "b": "succeeded"}
    assert sorted(ran) == ["a", "b"]
    assert proj.fresh() == ({"a": "cached", "b": "cached"}, [])


def test_dependent_of_a_cached_build_runs_once(proj: Project) -> None:
    """A build served from the cache before scheduling readies its dependents exactly once."""
    proj.write("src/a.txt", "alpha\n")
    proj.write("src/b.txt", "beta\n")
    proj.config(
        {
            "a": proj.step("a", "out/a.txt", "src/a.txt"),
            "b": proj.step("b", "out/b.txt", "src/b.txt", **{"depends-on": ["a"]}),
        }
    )
    proj.build()
    # b's own input changing rebuilds b alone, once.
    proj.write("src/b.txt", "beta 2\n")
    _, report = proj.build()
    assert by_name(report)["a"]["status"] == "cached"
    b = by_name(report)["b"]
    assert (b["status"], b["attempts"], b["flaky"]) == ("succeeded", 1, False)
    assert proj.runs() == ["a", "b", "b"]


# -- what the build is, besides what it reads: cwd, outputs, its program ------------------


def _in_directory(name: str, **keys: Any) -> dict[str, Any]:
    """`sh -c "echo built > out.txt"` in directory NAME, on the inputs `shared/**`."""
    body = {
        "platform": "command",
        "command": ["sh", "-c", "echo built > out.txt"],
        "cwd": name,
        "inputs": ["shared/**"],
        "outputs": [f"{name}/out.txt"],
    }
    return {**body, **keys}


def test_builds_in_other_directories_never_share_an_entry(proj: Project) -> None:
    proj.write("shared/data.txt", "the same inputs\n")
    for name in ("a", "b"):
        (proj.root / name).mkdir()
    proj.config({"a": _in_directory("a"), "b": _in_directory("b")})
    _, first = proj.build("a")
    assert by_name(first)["a"]["status"] == "succeeded"
    _, second = proj.build("b")
    b = by_name(second)["b"]
    assert b["status"] == "succeeded"
    assert b["artifacts"] == [str(proj.root / "b" / "out.txt")]
    assert proj.read("b/out.txt") == "built\n"
    # Each is then served from its own entry.
    (proj.root / "a" / "out.txt").unlink()
    _, third = proj.build()
    assert {r["name"]: r["status"] for r in third["results"]} == {"a": "cached", "b": "cached"}
    assert proj.read("a/out.txt") == "built\n"


def test_another_cwd_or_other_outputs_miss_saying_so(proj: Project) -> None:
    proj.write("shared/data.txt", "x\n")
    for name in ("a", "c"):
        (proj.root / name).mkdir()
    proj.config({"a": _in_directory("a")})
    assert proj.statuses() == {"a": "succeeded"}
    proj.config({"a": _in_directory("c", outputs=["a/out.txt"])})
    assert proj.dry_run() == {"a": "will run: cwd changed (a -> c)"}
    proj.config({"a": _in_directory("a", outputs=["a/out.txt", "a/more.txt"])})
    assert proj.dry_run() == {"a": "will run: outputs changed"}
    proj.config({"a": _in_directory("a")})
    assert proj.dry_run() == {"a": "from the cache"}


def test_outputs_unset_is_not_outputs_empty(proj: Project) -> None:
    """`outputs = []` is cached on its success alone; a build that declares no
    outputs (and reports no artifacts) is never served from that entry."""
    proj.write("src/a.txt", "x\n")
    proj.config({"lint": proj.step("lint", "stamp.txt", "src/a.txt", outputs=[])})
    assert proj.fresh() == ({"lint": "succeeded"}, ["lint"])
    assert proj.fresh() == ({"lint": "cached"}, [])
    undeclared = proj.step("lint", "stamp.txt", "src/a.txt")
    del undeclared["outputs"]
    proj.config({"lint": undeclared})
    assert proj.fresh() == ({"lint": "succeeded"}, ["lint"])
    assert proj.fresh() == ({"lint": "succeeded"}, ["lint"])


def _program(path: Path, says: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n/bin/mkdir -p out\necho {says} > out/gen.txt\n")
    path.chmod(0o755)
    return path


def test_the_program_s_content_is_part_of_the_key(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    tool = _program(proj.root / "tools" / "gen", "v1")
    build = {"platform": "command", "command": ["tools/gen"], "inputs": ["src/**"]}
    proj.config({"gen": {**build, "outputs": ["out/gen.txt"]}})
    assert proj.statuses() == {"gen": "succeeded"}
    assert proj.statuses() == {"gen": "cached"}
    _program(tool, "v2")  # the program, not an input, edited
    assert proj.dry_run() == {"gen": f"will run: toolchain file {tool} changed"}
    assert proj.statuses() == {"gen": "succeeded"}
    assert proj.read("out/gen.txt") == "v2\n"
    _program(tool, "v1")
    assert proj.statuses() == {"gen": "cached"}
    assert proj.read("out/gen.txt") == "v1\n"


def test_a_program_installed_earlier_on_path_misses(proj: Project, tmp_path: Path) -> None:
    early, late = tmp_path / "early", tmp_path / "late"
    early.mkdir()
    _program(late / "gen", "late")
    env = {"PATH": f"{early}:{late}:{os.environ['PATH']}"}
    proj.write("src/a.txt", "x\n")
    build = {"platform": "command", "command": ["gen"], "inputs": ["src/**"]}
    proj.config({"gen": {**build, "outputs": ["out/gen.txt"]}})
    assert proj.statuses(env=env) == {"gen": "succeeded"}
    assert proj.statuses(env=env) == {"gen": "cached"}
    _program(early / "gen", "early")
    assert proj.dry_run(env=env) == {"gen": f"will run: toolchain {late}/gen -> {early}/gen"}
    assert proj.statuses(env=env) == {"gen": "succeeded"}
    assert proj.read("out/gen.txt") == "early\n"


# -- the probe plugin: builder version, fingerprint, reported artifacts ---------------------


def install_probe(site: Path, version: str) -> None:
    if site.exists():
        shutil.rmtree(site)
    install_plugin(
        site,
        "buildsys-plugin-probe",
        version,
        {"probe": "buildsys_probe_plugin"},
        {"buildsys_probe_plugin": PROBE_PLUGIN},
    )


@pytest.fixture
def probe(tmp_path: Path) -> Project:
    site = tmp_path / "site"
    install_probe(site, "1.0")
    counter = tmp_path / "runs.txt"
    env = cli_env(PYTHONPATH=str(site), PROBE_COUNTER=str(counter))
    env.pop("PROBE_TOOL_VERSION", None)
    project = Project(tmp_path / "proj", counter, env)
    project.write("src/a.txt", "alpha\n")
    project.config({"p": {"platform": "probe", "inputs": ["src/**"], "outputs": ["out/**"]}})
    return project


def test_miss_on_builder_version(probe: Project, tmp_path: Path) -> None:
    assert probe.fresh() == ({"p": "succeeded"}, ["probe"])
    assert probe.fresh() == ({"p": "cached"}, [])
    install_probe(tmp_path / "site", "2.0")
    assert probe.dry_run()["p"] == "will run: builder probe 1.0 -> 2.0"
    assert probe.fresh() == ({"p": "succeeded"}, ["probe"])
    assert probe.fresh() == ({"p": "cached"}, [])
    install_probe(tmp_path / "site", "1.0")
    assert probe.fresh() == ({"p": "cached"}, []), "the 1.0 entry is still there"


def test_miss_on_fingerprint(probe: Project) -> None:
    v1 = {"PROBE_TOOL_VERSION": "1.0"}
    v2 = {"PROBE_TOOL_VERSION": "2.5"}
    assert probe.fresh(env=v1) == ({"p": "succeeded"}, ["probe"])
    assert probe.fresh(env=v1) == ({"p": "cached"}, [])
    assert probe.dry_run(env=v2)["p"] == "will run: toolchain probe-tool 1.0 -> probe-tool 2.5"
    assert probe.fresh(env=v2) == ({"p": "succeeded"}, ["probe"])
    assert probe.fresh(env=v2) == ({"p": "cached"}, [])


def test_restore_of_outputs_and_builder_reported_artifacts(probe: Project) -> None:
    assert probe.fresh() == ({"p": "succeeded"}, ["probe"])
    out = probe.read("out/probe.txt")
    side = probe.read("extra/side.txt")
    assert (out, side) == ("probe:alpha\n", "side artifact of alpha\n")

    shutil.rmtree(probe.root / "out")
    shutil.rmtree(probe.root / "extra")
    _, report = probe.build()
    assert by_name(report)["p"]["status"] == "cached"
    assert probe.runs() == ["probe"]
    assert probe.read("out/probe.txt") == out
    assert probe.read("extra/side.txt") == side
    assert sorted(by_name(report)["p"]["artifacts"]) == sorted(
        [str(probe.root / "extra" / "side.txt"), str(probe.root / "out" / "probe.txt")]
    )

    # Outputs that differ from the cached ones are put back too.
    probe.write("out/probe.txt", "tampered\n")
    probe.write("extra/side.txt", "tampered\n")
    assert probe.fresh() == ({"p": "cached"}, [])
    assert probe.read("out/probe.txt") == out
    assert probe.read("extra/side.txt") == side


def test_restore_of_deleted_command_outputs(proj: Project) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/deep/dir/a.txt", "src/a.txt", outputs=["out/**"])})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    original = proj.read("out/deep/dir/a.txt")
    shutil.rmtree(proj.root / "out")
    assert proj.fresh() == ({"a": "cached"}, [])
    assert proj.read("out/deep/dir/a.txt") == original


# -- logs --------------------------------------------------------------------------------


def test_original_log_is_kept_beside_the_new_one(proj: Project) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    logs = proj.root / ".buildsys" / "logs"
    original = (logs / "a.log").read_bytes()
    assert b"built a" in original
    assert not (logs / "a.cached.log").exists()

    assert proj.fresh() == ({"a": "cached"}, [])
    assert (logs / "a.cached.log").read_bytes() == original
    new = (logs / "a.log").read_text()
    assert "served from the cache" in new
    assert str(logs / "a.cached.log") in new
    assert "built a" not in new


# -- never cached -------------------------------------------------------------------------


def test_never_cached_without_inputs_or_without_outputs(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    no_inputs = proj.step("noin", "out/noin.txt")
    assert "inputs" not in no_inputs
    no_outputs = proj.step("noout", "out/noout.txt", "src/a.txt")
    del no_outputs["outputs"]
    proj.config({"noin": no_inputs, "noout": no_outputs})
    for _ in range(2):
        statuses, ran = proj.fresh()
        assert statuses == {"noin": "succeeded", "noout": "succeeded"}
        assert sorted(ran) == ["noin", "noout"]
    assert manifests(proj.cache_dir()) == []
    assert proj.dry_run() == {
        "noin": "will run: no inputs declared",
        "noout": "will run: never built with the cache on",
    }


def test_explicitly_empty_outputs_are_cached_on_success_alone(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    lint = proj.step("lint", "lint-stamp.txt", "src/a.txt", outputs=[])
    proj.config({"lint": lint})
    assert proj.fresh() == ({"lint": "succeeded"}, ["lint"])
    assert proj.fresh() == ({"lint": "cached"}, [])
    # Nothing was stored or restored besides the log: the stamp it wrote is not an output.
    (proj.root / "lint-stamp.txt").unlink()
    assert proj.fresh() == ({"lint": "cached"}, [])
    assert not (proj.root / "lint-stamp.txt").exists()
    proj.write("src/a.txt", "y\n")
    assert proj.fresh() == ({"lint": "succeeded"}, ["lint"])


def test_failed_build_is_never_cached(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    _, report = proj.build(env={"STEP_FAIL": "a"}, rc=1)
    assert by_name(report)["a"]["status"] == "failed"
    assert proj.runs() == ["a"]
    assert manifests(proj.cache_dir()) == []
    # Same key (STEP_FAIL is not part of it): it must run again, not come from the cache.
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "cached"}, [])


def test_build_depending_on_an_uncacheable_build_is_never_cached(proj: Project) -> None:
    proj.write("src/b.txt", "b\n")
    proj.config(
        {
            "gen": proj.step("gen", "out/gen.txt"),  # no inputs: never cached
            "b": proj.step("b", "out/b.txt", "src/b.txt", **{"depends-on": ["gen"]}),
        }
    )
    for _ in range(2):
        statuses, ran = proj.fresh()
        assert statuses == {"gen": "succeeded", "b": "succeeded"}
        assert sorted(ran) == ["b", "gen"]
    dry = proj.dry_run()
    assert dry["gen"] == "will run: no inputs declared"
    assert dry["b"] == "will run: dependency gen cannot be cached"


def test_input_edited_while_the_build_runs_is_not_stored(proj: Project, tmp_path: Path) -> None:
    flag = tmp_path / "edit-now"
    flag.write_text("1")
    proj.write("src/a.txt", "original\n")
    proj.config(
        {
            "a": {
                "platform": "command",
                "command": py(SELF_EDIT, proj.counter, "a", "out/a.txt", flag, "src/a.txt"),
                "inputs": ["src/**"],
                "outputs": ["out/**"],
            }
        }
    )
    _, report = proj.build()
    assert by_name(report)["a"]["status"] == "succeeded"
    assert "src/a.txt changed while it ran" in warnings_of(report, "a")
    assert manifests(proj.cache_dir()) == []
    assert not flag.exists()
    # The output was made from the old content; the next run must build again.
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.read("out/a.txt") == "ORIGINAL\nEDITED WHILE BUILDING\n"
    assert proj.fresh() == ({"a": "cached"}, [])


# -- damaged cache ---------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    path.chmod(0o644)
    data = path.read_bytes()
    if how == "flip":
        path.write_bytes(bytes(b ^ 0xFF for b in data))
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()


def _damage_entry(proj: Project, how: str) -> None:
    """Damage the single stored entry: its blobs (flip, truncate, delete) or its manifest."""
    if how == "unsafe-path":
        (manifest,) = manifests(proj.cache_dir())
        data = json.loads(manifest.read_text())
        data["files"][0]["path"] = "../escaped.txt"
        manifest.write_text(json.dumps(data))
        return
    found = blobs(proj.cache_dir())
    assert found
    for blob in found:
        _damage(blob, how)


@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_damaged_blob_is_a_rebuild_never_a_bad_restore(proj: Project, how: str) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    good = proj.read("out/a.txt")
    _damage_entry(proj, how)
    (proj.root / "out" / "a.txt").unlink()

    _, report = proj.build()
    assert by_name(report)["a"]["status"] == "succeeded"
    assert proj.runs() == ["a", "a"], "a damaged entry must be a miss"
    assert proj.read("out/a.txt") == good
    # The rebuild stored an entry again, and it serves the right content.
    assert proj.fresh() == ({"a": "cached"}, [])
    assert proj.read("out/a.txt") == good


@pytest.mark.parametrize("how", ["flip", "truncate", "delete", "unsafe-path"])
def test_damaged_entry_is_reported_as_a_warning(proj: Project, how: str) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    _damage_entry(proj, how)
    (proj.root / "out" / "a.txt").unlink()
    res, report = proj.build()
    assert proj.runs() == ["a", "a"]
    text = res.text + warnings_of(report, "a")
    expected = {
        "flip": "does not match its hash",
        "truncate": "truncated",
        "delete": "missing",
        "unsafe-path": "unsafe path",
    }[how]
    assert expected in text, text


@pytest.mark.parametrize(
    "how",
    [
        "flip",
        "truncate",
        "delete",
    ],
)
def test_rebuild_after_damage_stores_a_sound_entry_with_its_log(proj: Project, how: str) -> None:
    """After a damaged entry is rebuilt, the new entry must be whole: outputs and original log."""
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    for blob in blobs(proj.cache_dir()):
        _damage(blob, how)
    (proj.root / "out" / "a.txt").unlink()
    proj.build()  # warns and rebuilds (see the test above)
    assert proj.runs() == ["a", "a"]
    logs = proj.root / ".buildsys" / "logs"
    rebuilt_log = (logs / "a.log").read_bytes()
    (proj.root / "out" / "a.txt").unlink()

    _, report = proj.build()
    assert by_name(report)["a"]["status"] == "cached"
    assert warnings_of(report, "a") == ""
    assert (logs / "a.cached.log").read_bytes() == rebuilt_log
    # ...and stays a hit.
    assert proj.fresh() == ({"a": "cached"}, [])
    for manifest in manifests(proj.cache_dir()):
        key = manifest.name.removesuffix(".json")
        cache = Cache(proj.cache_dir())
        assert cache.lookup(key, verify=True) is not None, cache.take_warnings()


def test_hand_edited_manifest_with_parent_path_writes_nothing_outside(
    proj: Project, tmp_path: Path
) -> None:
    proj.write("src/a.txt", "alpha\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    (manifest,) = manifests(proj.cache_dir())
    data = json.loads(manifest.read_text())
    data["files"][0]["path"] = "../escaped.txt"
    manifest.write_text(json.dumps(data))
    (proj.root / "out" / "a.txt").unlink()
    _, report = proj.build()
    assert by_name(report)["a"]["status"] == "succeeded"
    assert proj.runs() == ["a", "a"]
    assert not (tmp_path / "escaped.txt").exists()
    assert not (proj.root / "escaped.txt").exists()
    assert proj.fresh() == ({"a": "cached"}, [])


# -- sharing one cache between two projects and processes ----------------------------------


def test_two_processes_sharing_one_cache_dir(tmp_path: Path) -> None:
    """Two projects with identical builds (so identical keys and blobs) store into one
    `cache-dir` at the same time, for a few rounds of changed inputs."""
    shared = tmp_path / "shared-cache"
    projects = [Project(tmp_path / f"proj{i}", tmp_path / f"runs{i}.txt") for i in (1, 2)]
    names = [f"b{i}" for i in range(8)]
    for p in projects:
        p.counter_arg = "@env"
        p.env = {**p.env, "RUNS_FILE": str(p.counter)}
        p.config(
            {n: p.step(n, f"out/{n}.txt", f"src/{n}.txt") for n in names},
            run={"cache-dir": str(shared), "max-concurrency": 4},
        )
    assert (projects[0].root / "builds.toml").read_text() == (
        projects[1].root / "builds.toml"
    ).read_text()

    for round_no in range(4):
        for p in projects:
            for i, n in enumerate(names):
                # Some inputs change every round, others only sometimes.
                p.write(f"src/{n}.txt", f"{n} round {round_no if i % 2 else round_no // 2}\n" * 200)
        procs = []
        for p in projects:
            report = tmp_path / f"{p.root.name}-round{round_no}.json"
            log = tmp_path / f"{p.root.name}-round{round_no}.out"
            with log.open("w") as out:
                proc = subprocess.Popen(
                    [*CLI, "build", "--progress", "plain", "--report-json", str(report)],
                    cwd=p.root,
                    env=p.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, log, report))
        for proc, log, report in procs:
            try:
                rc = proc.wait(timeout=CLI_TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            text = log.read_text()
            assert rc == 0, text
            data = json.loads(report.read_text())
            assert data["ok"], text
            assert "warning" not in text.lower(), text

    # Every manifest in the shared directory loads, and every blob it lists verifies.
    cache = Cache(shared)
    found = manifests(shared)
    assert found
    for manifest in found:
        key = manifest.name.removesuffix(".json")
        assert cache.lookup(key, verify=True) is not None, cache.take_warnings()
    assert cache.take_warnings() == []
    assert not [f for f in shared.rglob(".tmp-*")], "temporary files left behind"

    for p in projects:
        before = len(p.runs())
        statuses = p.statuses()
        assert statuses == dict.fromkeys(names, "cached")
        assert len(p.runs()) == before
        for n in names:
            assert p.read(f"out/{n}.txt") == f"{n}:" + p.read(f"src/{n}.txt").upper()


# -- an unusable cache directory -------------------------------------------------------------


def test_unusable_cache_dir_warns_and_builds_uncached(proj: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a directory\n")
    proj.write("src/a.txt", "x\n")
    proj.config(
        {"a": proj.step("a", "out/a.txt", "src/a.txt")},
        run={"cache-dir": str(blocker / "cache")},
    )
    for _ in range(2):
        res, report = proj.build()
        assert by_name(report)["a"]["status"] == "succeeded"
        text = res.text + warnings_of(report, "a")
        assert "warning" in res.text
        assert "unusable" in text, text
    assert proj.runs() == ["a", "a"]
    assert blocker.read_text() == "not a directory\n"


def test_cache_dir_that_cannot_be_written_warns_and_builds_uncached(
    proj: Project, tmp_path: Path
) -> None:
    """The directory exists, but its blobs/ is a regular file: every store fails (like ENOSPC)."""
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "blobs").write_text("in the way\n")
    proj.write("src/a.txt", "x\n")
    proj.write("src/b.txt", "y\n")
    proj.config(
        {
            "a": proj.step("a", "out/a.txt", "src/a.txt"),
            "b": proj.step("b", "out/b.txt", "src/b.txt"),
        },
        run={"cache-dir": str(cache_dir), "max-concurrency": 1},
    )
    for _ in range(2):
        res, report = proj.build()
        assert report["ok"]
        assert report["cached_count"] == 0
        assert "cannot write" in res.text + warnings_of(report, "a") + warnings_of(report, "b")
    assert sorted(proj.runs()) == ["a", "a", "b", "b"]


# -- switches and commands -------------------------------------------------------------------


def test_no_cache_skips_lookup_and_store(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    assert proj.fresh("--no-cache") == ({"a": "succeeded"}, ["a"])
    assert manifests(proj.cache_dir()) == [], "--no-cache stored an entry"
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert len(manifests(proj.cache_dir())) == 1
    assert proj.fresh("--no-cache") == ({"a": "succeeded"}, ["a"]), "--no-cache looked up"
    assert proj.fresh() == ({"a": "cached"}, [])


def test_cache_off_in_run_table(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")}, run={"cache": False})
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert proj.fresh() == ({"a": "succeeded"}, ["a"])
    assert manifests(proj.cache_dir()) == []
    assert proj.dry_run() == {"a": "cache off"}


def test_cache_info_and_clean(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.write("src/b.txt", "y\n")
    proj.config(
        {
            "a": proj.step("a", "out/a.txt", "src/a.txt"),
            "b": proj.step("b", "out/b.txt", "src/b.txt"),
        }
    )
    empty = proj.cli("cache", "info")
    assert empty.rc == 0, empty
    assert "entries: 0" in empty.out
    proj.build()
    info = proj.cli("cache", "info")
    assert info.rc == 0, info
    assert str(proj.cache_dir()) in info.out
    assert "entries: 2" in info.out
    keys = [m.name.removesuffix(".json")[:16] for m in manifests(proj.cache_dir())]
    for key in keys:
        assert key in info.out

    clean = proj.cli("cache", "clean")
    assert clean.rc == 0, clean
    assert "removed 2 entries" in clean.out
    assert manifests(proj.cache_dir()) == []
    assert blobs(proj.cache_dir()) == []
    after = proj.cli("cache", "info")
    assert "entries: 0" in after.out
    statuses, ran = proj.fresh()
    assert statuses == {"a": "succeeded", "b": "succeeded"}
    assert sorted(ran) == ["a", "b"]
    assert proj.fresh() == ({"a": "cached", "b": "cached"}, [])


def test_cache_max_size_evicts_least_recently_used(proj: Project) -> None:
    for n in "abc":
        proj.write(f"src/{n}.txt", f"{n}\n")
    proj.config(
        {n: proj.step(n, f"out/{n}.txt", f"src/{n}.txt") for n in "abc"},
        run={"cache-max-size": "1KB"},
    )
    assert proj.fresh("a") == ({"a": "succeeded"}, ["a"])
    assert proj.fresh("b") == ({"b": "succeeded"}, ["b"])
    assert proj.fresh("a") == ({"a": "cached"}, [])  # a is now used more recently than b
    assert proj.fresh("c") == ({"c": "succeeded"}, ["c"])
    total = sum(p.stat().st_size for p in manifests(proj.cache_dir()))
    assert len(manifests(proj.cache_dir())) < 3, total
    # b, the least recently used, went first; c (just stored) and a stayed.
    assert proj.fresh("c") == ({"c": "cached"}, [])
    assert proj.fresh("b") == ({"b": "succeeded"}, ["b"])


def test_cache_max_size_keeps_the_newest_entry_that_fits(proj: Project) -> None:
    """Entries of ~700 bytes under a 1000-byte limit: the one just stored must survive."""
    for n in "abc":
        proj.write(f"src/{n}.txt", n * 300)
    proj.config(
        {n: proj.step(n, f"out/{n}.txt", f"src/{n}.txt") for n in "abc"},
        run={"cache-max-size": "1KB"},
    )
    for n in "abc":
        assert proj.fresh(n) == ({n: "succeeded"}, [n])
        sizes = [e.size for e in Cache(proj.cache_dir()).entries()]
        assert sizes, f"the cache is empty right after storing {n}"
        assert all(size < 1000 for size in sizes)
        assert proj.fresh(n) == ({n: "cached"}, []), f"{n}, just stored and fitting, was evicted"
    assert proj.fresh("a") == ({"a": "succeeded"}, ["a"]), "a, least recently used, was kept"


# -- --dry-run ---------------------------------------------------------------------------------


def test_dry_run_explains_and_runs_nothing(probe: Project) -> None:
    p = probe
    p.write("src/b.txt", "b\n")
    p.write("src/u.txt", "u\n")
    p.write("src/d.txt", "d\n")
    builds = {
        "p": {"platform": "probe", "inputs": ["src/a.txt"], "outputs": ["out/probe.txt"]},
        "a": p.step("a", "out/a.txt", "src/a.txt"),
        "b": p.step("b", "out/b.txt", "src/b.txt", **{"depends-on": ["a"]}),
        "u": p.step("u", "out/u.txt", "src/u.txt"),
        "nin": p.step("nin", "out/nin.txt"),
        "e": p.step("e", "out/e.txt", "src/d.txt", env={"MODE": "1"}),
    }
    p.config(builds)
    p.build()
    assert sorted(p.runs()) == ["a", "b", "e", "nin", "probe", "u"]

    p.write("src/a.txt", "alpha changed\n")
    builds["e"] = p.step("e", "out/e.txt", "src/d.txt", env={"MODE": "2"})
    builds["new"] = p.step("new", "out/new.txt", "src/u.txt")
    p.config(builds)
    outputs = files_under(p.root / "out")
    state = (p.root / ".buildsys" / "cache-state.json").read_bytes()
    runs = p.runs()

    dry = p.dry_run(env={"PROBE_TOOL_VERSION": "2.0"})
    assert dry == {
        "p": "will run: toolchain probe-tool 1.0 -> probe-tool 2.0",
        "a": "will run: input src/a.txt changed",
        "b": "will run: dependency a changed",
        "u": "from the cache",
        "nin": "will run: no inputs declared",
        "e": "will run: variable env:MODE changed",
        "new": "will run: never built with the cache on",
    }
    assert p.runs() == runs, "--dry-run ran a build"
    assert files_under(p.root / "out") == outputs
    assert (p.root / ".buildsys" / "cache-state.json").read_bytes() == state

    # An unchanged project: everything cacheable would come from the cache.
    p.build(env={"PROBE_TOOL_VERSION": "2.0"})
    dry = p.dry_run(env={"PROBE_TOOL_VERSION": "2.0"})
    assert {k: v for k, v in dry.items() if k != "nin"} == dict.fromkeys(
        ["p", "a", "b", "u", "e", "new"], "from the cache"
    )


def test_dry_run_says_from_the_cache_after_a_deleted_output(proj: Project) -> None:
    proj.write("src/a.txt", "x\n")
    proj.config({"a": proj.step("a", "out/a.txt", "src/a.txt")})
    proj.build()
    (proj.root / "out" / "a.txt").unlink()
    assert proj.dry_run() == {"a": "from the cache"}
    assert not (proj.root / "out" / "a.txt").exists(), "--dry-run restored a file"


# -- secrets ---------------------------------------------------------------------------------


def test_key_env_values_never_reach_the_disk(proj: Project, tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-must-not-leak-9f8e7d"
    token = "tok-another-value-never-written-1234"
    proj.write("src/a.txt", "x\n")
    proj.config(
        {
            "a": proj.step(
                "a",
                "out/a.txt",
                "src/a.txt",
                **{"key-env": ["DEPLOY_TARGET", "API_TOKEN"]},
                env={"STATIC": "plain-static-value"},
            )
        }
    )
    env = {"DEPLOY_TARGET": secret, "API_TOKEN": token}
    assert proj.fresh(env=env) == ({"a": "succeeded"}, ["a"])
    assert proj.fresh(env=env) == ({"a": "cached"}, [])
    changed = {"DEPLOY_TARGET": secret + "-2", "API_TOKEN": token}
    assert proj.dry_run(env=changed) == {"a": "will run: variable key-env:DEPLOY_TARGET changed"}
    assert proj.fresh(env=changed) == ({"a": "succeeded"}, ["a"])
    info = proj.cli("cache", "info", env=env)
    assert secret not in info.text
    assert token not in info.text
    found = files_under(proj.root / ".buildsys")
    assert any(k.startswith("cache/manifests/") for k in found)
    assert "cache-state.json" in found
    for rel, data in found.items():
        for value in (secret, token):
            assert value.encode() not in data, f"{value!r} written to .buildsys/{rel}"
