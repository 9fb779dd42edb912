"""``workspace``: a pnpm monorepo, built by buildsys and by Turborepo.

A generated pnpm workspace of ``--members`` members (200; 50 with
``--quick``): 4 chains 10 deep (``lib<c>-<d>`` depends on ``lib<c>-<d-1>``),
the rest (``app<i>``) each depending on one chain member, spread over the
chains and depths (fewer members: fewer, shorter chains).  Each member is
``@bench/<name>`` with 20 source files ``src/fNN.js``, its dependencies as
``workspace:*``, and a ``build`` script ``node build.js`` that writes its
sources' concatenation to ``dist/index.js``.  The root has a
``package.json`` with ``packageManager`` (pnpm, pinned), a
``pnpm-workspace.yaml``, a ``turbo.json`` (``build`` depends on ``^build``,
outputs ``dist/**``), a ``.gitignore`` (``node_modules/``, ``dist/``,
``.turbo/``) and a ``builds.toml`` with one ``[workspaces.js]`` table
(``platform = "web"``, ``script = "build"``, ``outputs = ["dist/**"]``, SPEC
section 8).  Each tool gets its own copy, made a git repository with every
file committed after ``pnpm install --offline`` (no third-party packages:
nothing to download), as a real monorepo is.

pnpm and turbo (pinned) are installed from the npm registry with npm into
``~/.cache/buildsys-bench/npm-tools-<versions>`` (``$XDG_CACHE_HOME`` when
set) once and reused; turbo runs
with its telemetry off (``TURBO_TELEMETRY_DISABLED=1``, ``DO_NOT_TRACK=1``)
and no update check.  Both tools run at the same concurrency, the usable
CPUs (``turbo run build --concurrency N --output-logs errors-only``,
``buildsys build -j N --progress none --report-json R``).

Each round (after an untimed warm-up round) starts without caches
(``.turbo/``, ``.buildsys/``, ``dist/`` removed, sources restored): the cold
build, 3 fully cached no-ops, then one leaf's source changed (``app``, the
last member: only it rebuilds), then the root's (``lib0-00``: it and its
dependents rebuild, 50 of 200).  Every run is checked: every member's
``dist/index.js`` holds its current sources; Turborepo's summary counts the
cached tasks expected; buildsys's report lists each member ``succeeded`` or
``cached`` as expected (builds it adds, such as ``js.install``, may be
anything but failed).  Then ``buildsys list`` on the workspace and on a
one-build file are timed, interleaved; their difference is the discovery and
planning of the members.

Targets: no-op <= 0.5x Turborepo's; cold and each one-changed run <= 1.0x;
discovery and planning < 150 ms.  Before issue 14, buildsys rejects
``[workspaces.*]`` (exit 2): a note says so and Turborepo's figures are
reported alone, with the targets they set.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    BUILDSYS,
    Bench,
    Build,
    Figure,
    Target,
    ToolError,
    buildsys_progress_args,
    figures_with_ratios,
    read_report,
    run_output,
    run_timed,
    statuses_problem,
    usable_cpus,
    write_builds_toml,
)

from . import _pnpm

TURBO = "turbo"
TURBO_VERSION = "2.11.13"
SOURCES = 20
NOOP_RUNS = 3
PHASES = ("cold", "no-op", "leaf changed", "root changed")
WORKSPACE_TOML = """\
[workspaces.js]
platform = "web"
script = "build"
outputs = ["dist/**"]
"""
TOOL_ENV = {
    "TURBO_TELEMETRY_DISABLED": "1",
    "DO_NOT_TRACK": "1",
    "npm_config_update_notifier": "false",
    "npm_config_audit": "false",
    "npm_config_fund": "false",
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}
TURBO_SUMMARY = re.compile(r"Cached:\s+(\d+) cached, (\d+) total")
OTHERS_OK = ("succeeded", "cached", "skipped")


def members_for(count: int) -> list[_pnpm.Member]:
    """A few chains 10 deep, the rest each depending on one chain member."""
    chains = min(4, max(1, count // 50))
    depth = min(10, max(1, count // chains))
    members = [
        _pnpm.Member(f"lib{c}-{d:02d}", (f"lib{c}-{d - 1:02d}",) if d else ())
        for c in range(chains)
        for d in range(depth)
    ][:count]
    for i in range(count - len(members)):
        members.append(_pnpm.Member(f"app{i:03d}", (f"lib{i % chains}-{i // chains % depth:02d}",)))
    return members


def npm_tools(bench: Bench, env: Mapping[str, str]) -> Path | str:
    """The ``.bin`` directory holding pinned pnpm and turbo, or why there is none.

    Installed once with npm into a directory named by the versions (staged,
    then renamed, so that an interrupted install is never reused).
    """
    home = bench.cache / f"npm-tools-pnpm-{_pnpm.PNPM_VERSION}-turbo-{TURBO_VERSION}"
    tools = home / "node_modules" / ".bin"
    if (tools / "pnpm").exists() and (tools / TURBO).exists():
        return tools
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None or shutil.which("node", path=env.get("PATH")) is None:
        return "node and npm are needed to install pnpm and turbo"
    bench.cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".npm-tools-", dir=bench.cache))
    try:
        (staging / "package.json").write_text('{"private": true}\n')
        argv = [npm, "install", "--save-exact", "--no-audit", "--no-fund", "--prefix", str(staging)]
        argv += [f"pnpm@{_pnpm.PNPM_VERSION}", f"turbo@{TURBO_VERSION}"]
        print(f"  installing {argv[-2]} and {argv[-1]} into {home}", flush=True)
        try:
            run_timed(argv, staging, env)
        except ToolError as exc:
            return f"npm could not install pnpm and turbo:\n{exc}"
        with contextlib.suppress(OSError):  # another run installed them meanwhile
            staging.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tools


@dataclass
class Copy:
    """One tool's copy of the workspace."""

    tool: str
    directory: Path
    argv: list[str]
    report: Path | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)


def make_copy(directory: Path, members: Sequence[_pnpm.Member], env: Mapping[str, str]) -> None:
    """Write the workspace, install it offline, and commit it all to a new git repository."""
    _pnpm.write_workspace(directory, members, SOURCES)
    (directory / "builds.toml").write_text(WORKSPACE_TOML)
    git_env = {**env, **GIT_IDENTITY}
    run_timed(["git", "init", "-q", "."], directory, git_env)
    run_timed(["pnpm", "install", "--offline"], directory, env)
    if not (directory / "pnpm-lock.yaml").is_file():
        raise ToolError(["pnpm", "install", "--offline"], directory, "no pnpm-lock.yaml written")
    run_timed(["git", "add", "-A"], directory, git_env)
    run_timed(["git", "commit", "-q", "-m", "workspace"], directory, git_env)


def reset(copy: Copy, env: Mapping[str, str]) -> None:
    """Back to the committed sources, with no output and no cache of either tool."""
    run_timed(["git", "checkout", "-q", "--", "."], copy.directory, env)
    shutil.rmtree(copy.directory / ".turbo", ignore_errors=True)
    shutil.rmtree(copy.directory / ".buildsys", ignore_errors=True)
    for package in (copy.directory / "packages").iterdir():
        shutil.rmtree(package / "dist", ignore_errors=True)
        shutil.rmtree(package / ".turbo", ignore_errors=True)


def edit(directory: Path, member: str, round_no: int) -> None:
    with (directory / "packages" / member / "src" / "f00.js").open("a") as handle:
        handle.write(f"// edited in round {round_no}\n")


def output_problem(directory: Path, members: Sequence[_pnpm.Member]) -> str | None:
    """Why some member's ``dist/index.js`` does not hold its current sources."""
    wrong = []
    for member in members:
        package = directory / "packages" / member.name
        try:
            ok = (package / "dist" / "index.js").read_text() == _pnpm.expected_dist(package)
        except OSError:
            ok = False
        if not ok:
            wrong.append(member.name)
    if not wrong:
        return None
    return f"{len(wrong)} members' dist/index.js missing or stale: {', '.join(wrong[:5])}"


def turbo_problem(output: str, members: int, rebuilt: int) -> str | None:
    found = TURBO_SUMMARY.findall(output)
    if not found:
        return "no `Cached: N cached, M total` line in turbo's output"
    cached, total = (int(n) for n in found[-1])
    if (cached, total) != (members - rebuilt, members):
        return f"turbo: {cached} cached of {total}, expected {members - rebuilt} of {members}"
    return None


def buildsys_complaint(bench: Bench, directory: Path, env: Mapping[str, str]) -> str | None:
    """None if buildsys reads the workspace's builds.toml, else its config error (exit 2)."""
    argv = [str(bench.buildsys), "list", "-f", str(directory / "builds.toml")]
    proc = subprocess.run(
        argv,
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0:
        return None
    if proc.returncode != 2:
        raise ToolError(argv, directory, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
    lines = proc.stderr.strip().replace(f"{directory}{os.sep}", "").splitlines()
    return "\n  ".join(lines)


def time_list(bench: Bench, directory: Path, env: Mapping[str, str]) -> dict[str, list[float]]:
    """``buildsys list`` on the workspace and on a one-build file, interleaved (ms)."""
    baseline = bench.root / "workspace" / "one-build"
    baseline.mkdir(parents=True)
    one = write_builds_toml(baseline, [Build("one", ("true",))])
    runs = {
        "list": ([str(bench.buildsys), "list", "-f", str(directory / "builds.toml")], directory),
        "list of 1 build": ([str(bench.buildsys), "list", "-f", str(one)], baseline),
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for round_no in range(bench.startup_runs + 1):
        for name, (argv, cwd) in runs.items():
            wall = run_timed(argv, cwd, env) * 1000
            if round_no:
                samples[name].append(wall)
    return samples


def run(bench: Bench) -> list[Figure]:
    if shutil.which("git", path=bench.env.get("PATH")) is None:
        bench.notes.append("workspace: skipped, git is not on PATH")
        return []
    env = {**bench.env, **TOOL_ENV}
    tools = npm_tools(bench, env)
    if isinstance(tools, str):
        bench.notes.append(f"workspace: skipped, {tools}")
        return []
    env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '')}"
    members = members_for(bench.members)
    names = [member.name for member in members]
    leaf, root = names[-1], names[0]
    rebuilt = {
        "cold": set(names),
        "no-op": set(),
        "leaf changed": {leaf},
        "root changed": _pnpm.dependents(members, root),
    }
    jobs = usable_cpus()
    copies = []
    try:
        for tool in (TURBO, BUILDSYS):
            directory = bench.root / "workspace" / tool
            print(f"  writing a {len(members)}-member workspace for {tool}", flush=True)
            make_copy(directory, members, env)
            if tool == TURBO:
                argv = [str(tools / TURBO), "run", "build", "--concurrency", str(jobs)]
                argv += ["--output-logs", "errors-only", "--no-update-notifier"]
                copies.append(Copy(tool, directory, argv))
                continue
            complaint = buildsys_complaint(bench, directory, env)
            if complaint is not None:
                bench.notes.append(
                    f"workspace: buildsys cannot read [workspaces.*] yet (issue 14), so"
                    f" Turborepo's figures stand alone; it said:\n  {complaint}"
                )
                continue
            report = bench.root / "workspace" / "report.json"
            argv = [str(bench.buildsys), "build", "-f", str(directory / "builds.toml")]
            argv += ["-j", str(jobs), *buildsys_progress_args(bench), "--report-json", str(report)]
            copies.append(Copy(tool, directory, argv, report))
    except ToolError as exc:
        bench.errors.append(f"workspace: could not set up the workspace:\n{exc}")
        bench.failed.append(("workspace", "setup"))
        return []
    invalid: dict[tuple[str, str], str] = {}

    def timed(copy: Copy, phase: str, record: bool) -> None:
        if copy.report is not None:
            copy.report.unlink(missing_ok=True)
        wall, output = run_output(copy.argv, copy.directory, env)
        problems = [output_problem(copy.directory, members)]
        if copy.report is None:
            problems.append(turbo_problem(output, len(members), len(rebuilt[phase])))
        else:
            expected = {
                f"js.{name}": "succeeded" if name in rebuilt[phase] else "cached" for name in names
            }
            problems.append(statuses_problem(read_report(copy.report), expected, OTHERS_OK))
        detail = "; ".join(p for p in problems if p)
        if detail:
            message = f"workspace {copy.tool} {phase}: {detail}\n  ({' '.join(copy.argv)})"
            print(f"ERROR: {message}", file=sys.stderr, flush=True)
            bench.errors.append(message)
            if record:
                invalid.setdefault((copy.tool, phase), detail)
        if record:
            copy.samples.setdefault(phase, []).append(wall)

    live = list(copies)
    for round_no in range(bench.repeat + 1):  # round 0: warm-up, not recorded
        record = round_no > 0
        for copy in list(live):
            try:
                reset(copy, env)
            except ToolError as exc:
                bench.errors.append(f"workspace {copy.tool}: reset failed:\n{exc}")
                live.remove(copy)
        for phase in ("cold", *["no-op"] * NOOP_RUNS, "leaf changed", "root changed"):
            for copy in list(live):
                if phase in ("leaf changed", "root changed"):
                    edit(copy.directory, leaf if phase == "leaf changed" else root, round_no)
                try:
                    timed(copy, phase, record)
                except ToolError as exc:
                    bench.errors.append(f"workspace {copy.tool} failed:\n{exc}")
                    bench.failed.append(("workspace", copy.tool))
                    live.remove(copy)
                    copy.samples.clear()
    samples = {copy.tool: copy.samples for copy in copies if copy.samples}
    figures: list[Figure] = []
    targets = {
        "cold": Target("<= 1.0x turbo", "<=", 1.0, "ratio"),
        "no-op": Target("<= 0.5x turbo", "<=", 0.5, "ratio"),
        "leaf changed": Target("<= 1.0x turbo", "<=", 1.0, "ratio"),
        "root changed": Target("<= 1.0x turbo", "<=", 1.0, "ratio"),
    }
    for phase in PHASES:
        unit, scale = ("ms", 1000.0) if phase == "no-op" else ("s", 1.0)
        figures += figures_with_ratios(
            "workspace", samples, phase, unit, scale, targets[phase], TURBO
        )
    for figure in figures:
        figure.invalid = invalid.get((figure.tool, figure.metric))
    buildsys = next((copy for copy in live if copy.tool == BUILDSYS), None)
    if buildsys is not None:
        try:
            listed = time_list(bench, buildsys.directory, env)
        except ToolError as exc:
            bench.errors.append(f"workspace buildsys list failed:\n{exc}")
        else:
            figures.append(Figure("workspace", BUILDSYS, "list", "ms", listed["list"]))
            planning = [
                a - b for a, b in zip(listed["list"], listed["list of 1 build"], strict=True)
            ]
            target = Target("< 150 ms", "<", 150.0)
            figures.append(
                Figure(
                    "workspace", BUILDSYS, "discovery and planning", "ms", planning, target=target
                )
            )
    turbo = {f.metric: f.value for f in figures if f.tool == TURBO}
    if buildsys is None and turbo:
        shown = ", ".join(
            f"{phase} <= {factor:g}x turbo ({turbo[phase] * factor:.3g} {unit})"
            for phase, factor, unit in (
                ("cold", 1.0, "s"),
                ("no-op", 0.5, "ms"),
                ("leaf changed", 1.0, "s"),
                ("root changed", 1.0, "s"),
            )
            if phase in turbo
        )
        bench.notes.append(
            f"workspace: targets for buildsys: {shown}; discovery and planning < 150 ms"
        )
    bench.notes.append(
        f"workspace: {len(members)} members ({len(rebuilt['root changed'])} rebuilt when"
        f" {root} changes), pnpm {_pnpm.PNPM_VERSION}, turbo {TURBO_VERSION}, both at"
        f" concurrency {jobs}; tools in {tools.parent.parent}"
    )
    return figures
