"""Benchmark buildsys against make and ninja on identical workloads.

Method
------
One run of this script writes every workload into a fresh temporary directory
and times the same builds three ways: ``buildsys build`` (run as a subprocess
through its console script, so it runs from whatever virtualenv it is installed
in), ``make -j N -f Makefile`` and, when it is on PATH, ``ninja -j N -C DIR``.
Each tool gets its own directory and its own copy of the build description, and
every build runs the very same argv under every tool.  Repetitions are
interleaved (buildsys, make, ninja, buildsys, make, ...) after one untimed
warm-up run of each, so that drift in the machine's load spreads over all
tools; each figure is the median of the repetitions.

Workloads
---------
``sleep``
    64 independent builds of ``bash job.sh STAMP 0.1`` at ``-j 8``.  ``job.sh``
    writes the time to ``STAMP.start``, sleeps 0.1 s, then writes it to
    ``STAMP.end``, with bash's ``$EPOCHREALTIME`` so that a time stamp costs no
    process (where bash lacks it, ``sh`` runs the script and ``date +%s.%N``
    gives the time; where ``date`` has no ``%N`` either, the stamp files'
    modification times are read).  Figures: the wall time of the whole tool
    process; the scheduling efficiency ``ideal / (last end - first start)``
    from the builds' own time stamps, where ``ideal = 64 * 0.1 / 8 = 0.8 s``;
    and the packing ``sum(end - start) / 8 / (last end - first start)``, which
    leaves out the time a build spends inside itself (starting ``sleep``) and
    so isolates the gaps the orchestrator leaves between builds; and the
    ceiling ``ideal / (64 / 8 * median(end - start))``, the efficiency that
    a tool leaving no gap at all would reach on this machine, since each of
    the 8 slots runs 8 builds back to back.
``true``
    2000 independent builds of ``true`` at ``-j 2``.  Figure: wall time of the
    whole process divided by 2000, i.e. the orchestrator's cost per build.
``noop``
    1000 builds, each concatenating its 5 small input files
    (``src/bNNNN/{a..e}.txt``) into one output (``out/bNNNN.txt``) with the
    same ``sh -c "cat src/bNNNN/*.txt > out/bNNNN.txt"`` under every tool, at
    ``-j 2``: buildsys with ``inputs``/``outputs`` (content-hash cache), ninja
    with explicit inputs and outputs, ``make -r`` with real file targets
    (mtime based), and doit, when installed, with ``file_dep``/``targets``
    (md5, computed when a file's mtime changed; ``doit -n 2 -P thread``).
    The project is a git work tree (a ``.git`` directory) whose ``.gitignore``
    leaves out ``out/`` and a ``node_modules/`` of 1000 files, so that
    buildsys's inputs are filtered by git's rules, as by default.
    Each round, in a fresh copy per tool: a cold build (timed;
    buildsys also cold with ``--no-cache`` in another fresh copy, and the
    difference is the cost of hashing and storing), then the 1st no-op
    rebuild (its own figure: racy stat entries, and buildsys sets each log
    aside with a note), then 3
    more no-op rebuilds (the ``no-op`` figure is their median), then
    every input is touched without changing it (``os.utime`` to now) and the
    next run is timed (make and ninja rebuild everything there: they go by
    mtime), then the run after that.  Every buildsys run of this workload
    writes ``--report-json`` outside the project, and each no-op run is
    checked to have served every build from the cache (status ``cached``);
    every no-op run of any tool is checked to have rewritten no output.
``web``
    16 web builds (the ``web`` plugin with the real ``node`` and ``npm`` on
    PATH): each package's ``build`` script is ``node build.js``, which writes
    ``dist/index.html``; no dependencies, so nothing is installed or fetched.
    After a cold build (its own figure), the fully cached no-op is timed two
    ways, interleaved: answered from ``.buildsys/replay`` (``replayed no-op``;
    each is followed by an untimed run with Python's import log on, which must
    show no engine, so nothing was left for the timed one to re-record) and
    through the engine, with the journal deleted before each run (``engine
    no-op``; it takes node's and npm's versions from what the last run kept,
    asking neither). Each run's report must list every build ``cached``.
    Skipped, with a note, without node and npm.
``startup``
    ``buildsys --version`` and ``buildsys list -f FILE`` on a 100-build file,
    next to ``python -c pass`` and ``python -c "import subprocess, argparse,
    tomllib, threading, json"`` (the standard library an orchestrator needs)
    run by the interpreter that runs buildsys.  Figure: the median of N runs.

The environment handed to every tool is the caller's, less the variables that
make a tool behave differently on CI or inside another make (``CI``,
``GITHUB_ACTIONS``, ``MAKEFLAGS``, ``BUILDSYS_*``...).  buildsys runs with
``--progress none`` (dropped if this version rejects it) and no
``--report-json`` (except in ``noop``, where every run writes one so that its
statuses can be checked; its cost is inside those figures).

Ratios are ``tool / make``.  Targets (printed beside the figures, checked
against buildsys only): sleep efficiency >= 0.97 and wall <= 1.10x make; true
<= 1.5x make per build; ``--version`` < 60 ms; ``list`` < 150 ms; each of the
no-op figures (1st no-op, no-op, touched, after touch) < 120 ms and <= 0.7x doit's
figure for the same phase (when doit is not installed, issue 4's 175 ms: <= 122.5 ms);
web's replayed no-op < 160 ms (half of the 320 ms Turborepo takes for the no-op of a
16-package pnpm workspace, issue 15; a reference, not the same workload).

Usage: ``python benchmarks/bench.py [--quick] [--only sleep,true,noop,web,startup]
[--json PATH] [--buildsys PATH]``; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

WORKLOADS = ("sleep", "true", "noop", "web", "startup")
BUILDSYS = "buildsys"
MAKE = "make"
NINJA = "ninja"
DOIT = "doit"  # measured in `noop` only, when installed (nox -s bench installs it)

SLEEP_BUILDS = 64
SLEEP_SECONDS = 0.1
SLEEP_JOBS = 8
TRUE_BUILDS = 2000
TRUE_JOBS = 2
LIST_BUILDS = 100
NOOP_BUILDS = 1000
NOOP_INPUTS = ("a", "b", "c", "d", "e")
NOOP_JOBS = 2
# The noop project is a git work tree whose .gitignore leaves out `out/` and a
# `node_modules/` of this many packages of NOOP_PACKAGE_FILES files, so that
# buildsys's figures are taken with its git filtering of inputs on.
NOOP_PACKAGES = 50
NOOP_PACKAGE_FILES = 20
NOOP_RUNS = 3  # no-op rebuilds per round after the 1st one (the other phases: one run each)
DOIT_NOOP_MS = 175.0  # issue 4's figure (md5 with an mtime check), used when doit is absent
ORCHESTRATOR_IMPORTS = "import subprocess, argparse, tomllib, threading, json"
WEB_BUILDS = 16
WEB_TURBO_NOOP_MS = 320.0  # issue 15: Turborepo's no-op of a 16-package pnpm workspace
WEB_BUILD_JS = """\
const fs = require("fs");
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", "<!doctype html><h1>" + process.argv[2] + "</h1>\\n");
"""
# npm quiet and offline: the packages have nothing to download.
WEB_NPM_ENV = {
    "npm_config_offline": "true",
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
}

# Variables that make a tool (or its console/reporting layer) behave differently
# from an interactive run on a developer's machine.
ODD_VARIABLES = (
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "FORCE_COLOR",
    "NO_COLOR",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEFILES",
    "GNUMAKEFLAGS",
    "PYTHONDONTWRITEBYTECODE",  # else an editable install recompiles its source every run
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONASYNCIODEBUG",
    "PYTHONWARNINGS",
)

# Run by bash where it has $EPOCHREALTIME (no process spawned for a time stamp),
# else by sh, where each time stamp costs a `date` process.
JOB_SCRIPT = """\
# usage: job.sh STAMP SECONDS -- records start and end times around a sleep
echo "${EPOCHREALTIME:-$(date +%s.%N)}" > "$1.start"
sleep "$2"
echo "${EPOCHREALTIME:-$(date +%s.%N)}" > "$1.end"
"""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Target:
    """A goal for a figure: ``value`` (or ``ratio`` to make) ``op`` ``bound``."""

    text: str
    op: str
    bound: float
    on: str = "value"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        if self.op == "<":
            return subject < self.bound
        if self.op == "<=":
            return subject <= self.bound
        return subject >= self.bound


@dataclass(frozen=True)
class AllOf:
    """Several goals for one figure, met when every one is."""

    parts: tuple[Target, ...]

    @property
    def text(self) -> str:
        return "; ".join(part.text for part in self.parts)

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        each = [part.met(value, ratio) for part in self.parts]
        return None if None in each else all(each)


@dataclass
class Figure:
    """One measured figure: the median of ``samples``.

    ``invalid`` says why the samples do not measure what they claim (e.g. a
    no-op run that did not serve every build from the cache): such a figure
    never meets its target.
    """

    workload: str
    tool: str
    metric: str
    unit: str
    samples: list[float]
    ratio: float | None = None
    target: Target | AllOf | None = None
    invalid: str | None = None

    @property
    def value(self) -> float:
        return statistics.median(self.samples)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return False if self.invalid else self.target.met(self.value, self.ratio)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["value"] = self.value
        data["target"] = None if self.target is None else self.target.text
        data["met"] = self.met
        return data


@dataclass(frozen=True)
class Build:
    """One build: a name and the argv every tool runs for it."""

    name: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Invocation:
    """How one tool runs one workload."""

    tool: str
    argv: tuple[str, ...]
    cwd: Path
    before: Callable[[], None] = lambda: None
    after: Callable[[], dict[str, float]] = dict


class ToolError(RuntimeError):
    """A tool exited non-zero or did not run every build."""

    def __init__(self, argv: Sequence[str], cwd: Path, detail: str) -> None:
        self.command = f"(cd {shlex.quote(str(cwd))} && {shlex.join(argv)})"
        super().__init__(f"{self.command}\n{detail}")


@dataclass
class Bench:
    """Settings and shared state of one benchmark run."""

    root: Path
    buildsys: Path
    python: Path
    env: dict[str, str]
    peers: dict[str, str]
    repeat: int
    startup_runs: int
    progress: list[str] | None = None
    probe_error: ToolError | None = None
    doit: str | None = None  # the doit script, if installed
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------- processes


def clean_env(root: Path) -> dict[str, str]:
    """The caller's environment without CI markers or inherited make state.

    Bytecode is allowed (an editable install would otherwise recompile its
    source on every run) and written under ``root``, not into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k not in ODD_VARIABLES}
    env = {k: v for k, v in env.items() if not k.startswith("BUILDSYS_")}
    env.setdefault("PYTHONPYCACHEPREFIX", str(root / "pycache"))
    return env


def run_timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """Run ``argv`` to completion; return its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace")[-3000:]
        raise ToolError(argv, cwd, f"exit code {proc.returncode}; output (tail):\n{tail}")
    return elapsed


def interpreter_of(script: Path) -> Path:
    """The Python that runs a console script (its shebang), else this one."""
    try:
        with script.open("rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return Path(sys.executable)
    if first.startswith("#!") and "python" in Path(first[2:].split()[0]).name:
        return Path(first[2:].split()[0])
    return Path(sys.executable)


def tool_version(argv: Sequence[str], env: dict[str, str]) -> str:
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"unavailable ({exc})"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not lines:
        return f"unavailable (`{shlex.join(argv)}` exit {proc.returncode})"
    return lines[0]


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


# ------------------------------------------------------------- build descriptions


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def write_builds_toml(directory: Path, builds: Sequence[Build]) -> Path:
    lines = []
    for build in builds:
        command = ", ".join(toml_string(arg) for arg in build.argv)
        lines += [f"[builds.{build.name}]", 'platform = "command"', f"command = [{command}]", ""]
    path = directory / "builds.toml"
    path.write_text("\n".join(lines))
    return path


def write_makefile(directory: Path, builds: Sequence[Build]) -> Path:
    names = " ".join(build.name for build in builds)
    lines = [f".PHONY: all {names}", f"all: {names}", ""]
    for build in builds:
        lines += [f"{build.name}:", "\t" + shlex.join(build.argv).replace("$", "$$"), ""]
    path = directory / "Makefile"
    path.write_text("\n".join(lines))
    return path


def write_build_ninja(directory: Path, builds: Sequence[Build]) -> Path:
    # Outputs are never created, so ninja runs every build on every invocation.
    lines = ["rule run", "  command = $cmd", ""]
    for build in builds:
        lines += [
            f"build {build.name}: run",
            "  cmd = " + shlex.join(build.argv).replace("$", "$$"),
        ]
    lines += ["", "build all: phony " + " ".join(build.name for build in builds), "default all", ""]
    path = directory / "build.ninja"
    path.write_text("\n".join(lines))
    return path


def buildsys_progress_args(bench: Bench) -> list[str]:
    """``["--progress", "none"]`` if this buildsys accepts it, else ``[]``.

    Raises `ToolError` if buildsys cannot build a one-build file at all; the
    probe runs once per benchmark run.
    """
    if bench.progress is not None:
        return bench.progress
    if bench.probe_error is not None:
        raise bench.probe_error
    probe = bench.root / "probe"
    probe.mkdir(exist_ok=True)
    file = write_builds_toml(probe, [Build("probe", ("true",))])
    base = [str(bench.buildsys), "build", "-f", str(file), "-j", "1"]
    try:
        run_timed([*base, "--progress", "none"], probe, bench.env)
        bench.progress = ["--progress", "none"]
    except ToolError as with_flag:
        try:
            run_timed(base, probe, bench.env)
        except ToolError:
            bench.probe_error = with_flag
            bench.errors.append(f"buildsys cannot build (probe of a 1-build file):\n{with_flag}")
            raise with_flag from None
        bench.notes.append(f"--progress none was rejected; ran without it:\n{with_flag}")
        bench.progress = []
    return bench.progress


def invocations(
    bench: Bench,
    workload: str,
    jobs: int,
    builds_for: Callable[[Path], list[Build]],
    after_for: Callable[[Path, list[Build]], Callable[[], dict[str, float]]],
) -> list[Invocation]:
    """Write the workload for every tool; return how to run each."""
    result = []
    for tool in (BUILDSYS, *bench.peers):
        directory = bench.root / workload / tool
        directory.mkdir(parents=True)
        builds = builds_for(directory)
        if tool == BUILDSYS:
            file = write_builds_toml(directory, builds)
            argv = [str(bench.buildsys), "build", "-f", str(file), "-j", str(jobs)]
            try:
                argv += buildsys_progress_args(bench)
            except ToolError:
                bench.failed.append((workload, BUILDSYS))
                continue
        elif tool == MAKE:
            write_makefile(directory, builds)
            argv = [bench.peers[MAKE], "-j", str(jobs), "-f", "Makefile"]
        else:
            write_build_ninja(directory, builds)
            argv = [bench.peers[NINJA], "-j", str(jobs), "-C", str(directory)]
        stamps = directory / "stamps"
        result.append(
            Invocation(
                tool,
                tuple(argv),
                directory,
                before=lambda stamps=stamps: reset_dir(stamps),
                after=after_for(stamps, builds),
            )
        )
    return result


def reset_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


# ---------------------------------------------------------------------- measuring


def measure(
    bench: Bench, workload: str, runs: Sequence[Invocation], repeat: int
) -> dict[str, dict[str, list[float]]]:
    """Warm up, then run every invocation ``repeat`` times, interleaved.

    Returns ``{tool: {metric: samples}}``; the metric ``wall`` is always there.
    A tool that fails is reported in ``bench.errors`` and left out.
    """
    samples: dict[str, dict[str, list[float]]] = {run.tool: {} for run in runs}
    live = list(runs)
    for round_no in range(repeat + 1):
        for run in list(live):
            try:
                run.before()
                wall = run_timed(run.argv, run.cwd, bench.env)
                metrics = {"wall": wall, **run.after()}
            except ToolError as exc:
                bench.errors.append(f"{run.tool} failed:\n{exc}")
                bench.failed.append((workload, run.tool))
                live.remove(run)
                samples.pop(run.tool)
                continue
            if round_no == 0:
                continue  # warm-up
            for metric, value in metrics.items():
                samples[run.tool].setdefault(metric, []).append(value)
    return samples


def figures_with_ratios(
    workload: str,
    samples: dict[str, dict[str, list[float]]],
    metric: str,
    unit: str,
    scale: float,
    target: Target | AllOf | None,
) -> list[Figure]:
    """One figure per tool for ``metric`` (values multiplied by ``scale``)."""
    figures = [
        Figure(workload, tool, metric, unit, [v * scale for v in metrics[metric]])
        for tool, metrics in samples.items()
        if metric in metrics
    ]
    make = next((f for f in figures if f.tool == MAKE), None)
    for figure in figures:
        if make is not None and make.value > 0:
            figure.ratio = figure.value / make.value
        if figure.tool == BUILDSYS:
            figure.target = target
    return figures


# ---------------------------------------------------------------------- workloads


def read_stamp(path: Path) -> float:
    text = path.read_text().strip()
    try:
        return float(text)
    except ValueError:  # BSD date has no %N: fall back to the file's mtime
        return path.stat().st_mtime_ns / 1e9


def efficiency_reader(stamps: Path, builds: list[Build]) -> Callable[[], dict[str, float]]:
    def read() -> dict[str, float]:
        try:
            starts = [read_stamp(stamps / f"{b.name}.start") for b in builds]
            ends = [read_stamp(stamps / f"{b.name}.end") for b in builds]
        except OSError as exc:
            raise ToolError(["(time stamps)"], stamps, f"not every build ran: {exc}") from exc
        span = max(ends) - min(starts)
        ideal = len(builds) * SLEEP_SECONDS / SLEEP_JOBS
        inside = [end - start for start, end in zip(starts, ends, strict=True)]
        busy = sum(inside) / SLEEP_JOBS
        # Each slot runs builds/jobs builds back to back: even with no gap
        # between them, a slot takes that many times a build's own duration.
        ceiling = ideal / (len(builds) / SLEEP_JOBS * statistics.median(inside))
        return {
            "efficiency": ideal / span,
            "packing": busy / span,
            "ceiling": ceiling,
            "span": span,
        }

    return read


def job_shell(env: dict[str, str]) -> str:
    """``bash`` if it has ``$EPOCHREALTIME`` (bash 5), else ``sh``."""
    bash = shutil.which("bash", path=env.get("PATH"))
    if bash:
        probe = [bash, "-c", 'echo "$EPOCHREALTIME"']
        out = subprocess.run(probe, capture_output=True, text=True, check=False).stdout
        if out.strip():
            return "bash"
    return "sh"


def bench_sleep(bench: Bench) -> list[Figure]:
    job = bench.root / "job.sh"
    job.write_text(JOB_SCRIPT)
    shell = job_shell(bench.env)
    bench.notes.append(f"sleep: each build runs `{shell} job.sh STAMP {SLEEP_SECONDS}`")

    def builds_for(directory: Path) -> list[Build]:
        stamps = directory / "stamps"
        return [
            Build(f"b{i:02d}", (shell, str(job), str(stamps / f"b{i:02d}"), str(SLEEP_SECONDS)))
            for i in range(SLEEP_BUILDS)
        ]

    runs = invocations(bench, "sleep", SLEEP_JOBS, builds_for, efficiency_reader)
    samples = measure(bench, "sleep", runs, bench.repeat)
    return [
        *figures_with_ratios(
            "sleep", samples, "wall", "s", 1.0, Target("<= 1.10x make", "<=", 1.10, "ratio")
        ),
        *figures_with_ratios(
            "sleep", samples, "efficiency", "", 1.0, Target(">= 0.97", ">=", 0.97)
        ),
        *figures_with_ratios("sleep", samples, "packing", "", 1.0, None),
        *figures_with_ratios("sleep", samples, "ceiling", "", 1.0, None),
    ]


def bench_true(bench: Bench) -> list[Figure]:
    def builds_for(_directory: Path) -> list[Build]:
        return [Build(f"b{i:04d}", ("true",)) for i in range(TRUE_BUILDS)]

    runs = invocations(bench, "true", TRUE_JOBS, builds_for, lambda _s, _b: dict)
    samples = measure(bench, "true", runs, bench.repeat)
    target = Target("<= 1.5x make", "<=", 1.5, "ratio")
    return figures_with_ratios("true", samples, "wall", "us/build", 1e6 / TRUE_BUILDS, target)


# --------------------------------------------------------------------------- noop

NOOP_COLD = "buildsys --no-cache"  # the key of buildsys's --no-cache cold runs
NOOP_PHASES = ("1st no-op", "no-op", "touched", "after touch")


def noop_command(name: str) -> tuple[str, ...]:
    return ("sh", "-c", f"cat src/{name}/*.txt > out/{name}.txt")


def noop_inputs(name: str) -> list[str]:
    return [f"src/{name}/{letter}.txt" for letter in NOOP_INPUTS]


def noop_names() -> list[str]:
    return [f"b{i:04d}" for i in range(NOOP_BUILDS)]


def write_noop_project(directory: Path, tool: str) -> None:
    """A fresh copy of the workload: its inputs, ``out/`` and ``tool``'s build file."""
    names = noop_names()
    (directory / "out").mkdir(parents=True)
    (directory / ".git" / "info").mkdir(parents=True)  # all git needs to see a work tree here
    (directory / ".git" / "info" / "exclude").write_text("# nothing excluded\n")
    (directory / ".gitignore").write_text("out/\nnode_modules/\n")
    for package in range(NOOP_PACKAGES):
        folder = directory / "node_modules" / f"p{package:02d}"
        folder.mkdir(parents=True)
        for index in range(NOOP_PACKAGE_FILES):
            (folder / f"f{index:02d}.js").write_text("module.exports = 1;\n")
    for name in names:
        folder = directory / "src" / name
        folder.mkdir(parents=True)
        for letter in NOOP_INPUTS:
            (folder / f"{letter}.txt").write_text(f"{name} {letter}\n")
    lines: list[str] = []
    if tool == BUILDSYS:
        for name in names:
            command = ", ".join(toml_string(arg) for arg in noop_command(name))
            lines += [
                f"[builds.{name}]",
                'platform = "command"',
                f"command = [{command}]",
                f"inputs = [{toml_string(f'src/{name}/*.txt')}]",
                f"outputs = [{toml_string(f'out/{name}.txt')}]",
                "",
            ]
        (directory / "builds.toml").write_text("\n".join(lines))
    elif tool == DOIT:
        lines = [
            "# doit's default checker: a file's md5, computed when its mtime changed.",
            f"NAMES = {names!r}",
            f"LETTERS = {list(NOOP_INPUTS)!r}",
            "",
            "",
            "def task_build():",
            "    for name in NAMES:",
            "        yield {",
            '            "name": name,',
            '            "actions": [["sh", "-c", f"cat src/{name}/*.txt > out/{name}.txt"]],',
            '            "file_dep": [f"src/{name}/{letter}.txt" for letter in LETTERS],',
            '            "targets": [f"out/{name}.txt"],',
            "        }",
            "",
        ]
        (directory / "dodo.py").write_text("\n".join(lines))
    elif tool == MAKE:
        outputs = " ".join(f"out/{name}.txt" for name in names)
        lines = [".PHONY: all", f"all: {outputs}", ""]
        for name in names:
            lines += [
                f"out/{name}.txt: " + " ".join(noop_inputs(name)),
                "\t" + shlex.join(noop_command(name)).replace("$", "$$"),
                "",
            ]
        (directory / "Makefile").write_text("\n".join(lines))
    else:
        lines = ["rule run", "  command = $cmd", ""]
        for name in names:
            lines += [
                f"build out/{name}.txt: run " + " ".join(noop_inputs(name)),
                "  cmd = " + shlex.join(noop_command(name)).replace("$", "$$"),
            ]
        outputs = " ".join(f"out/{name}.txt" for name in names)
        lines += ["", f"build all: phony {outputs}", "default all", ""]
        (directory / "build.ninja").write_text("\n".join(lines))


def output_mtimes(directory: Path) -> dict[str, int]:
    """``{build: mtime_ns}`` of every output; raises `ToolError` if one is missing or wrong."""
    mtimes = {}
    for name in noop_names():
        path = directory / "out" / f"{name}.txt"
        expected = "".join(f"{name} {letter}\n" for letter in NOOP_INPUTS)
        try:
            text = path.read_text()
            mtimes[name] = path.stat().st_mtime_ns
        except OSError as exc:
            raise ToolError(["(outputs)"], directory, f"output missing: {exc}") from exc
        if text != expected:
            raise ToolError(["(outputs)"], directory, f"{path} holds {text!r}, not {expected!r}")
    return mtimes


def touch_inputs(directory: Path) -> None:
    """Set every input's modification time to now, leaving its content as it is."""
    for name in noop_names():
        for relative in noop_inputs(name):
            os.utime(directory / relative)


def report_statuses(report: Path) -> dict[str, str]:
    """``{build: status}`` from a buildsys ``--report-json`` file."""
    data = json.loads(report.read_text())
    return {result["name"]: result["status"] for result in data["results"]}


def status_problem(
    statuses: dict[str, str], expected: str, builds: int = NOOP_BUILDS
) -> str | None:
    """Why ``statuses`` is not every build of the workload with status ``expected``."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    if len(statuses) == builds and counts == {expected: builds}:
        return None
    found = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    return f"expected {builds} builds {expected}, the report lists {found}"


@dataclass
class NoopCopy:
    """One tool's fresh copy of the noop workload within one round."""

    tool: str
    argv: list[str]
    directory: Path
    report: Path | None = None  # buildsys's --report-json, outside the project
    mtimes: dict[str, int] = field(default_factory=dict)


def bench_noop(bench: Bench) -> list[Figure]:
    progress = buildsys_progress_args(bench)
    reports = bench.root / "noop-reports"
    reports.mkdir()
    tools = [BUILDSYS, NOOP_COLD, *bench.peers, *([DOIT] if bench.doit else [])]
    samples: dict[str, dict[str, list[float]]] = {tool: {} for tool in tools}
    invalid: dict[tuple[str, str], str] = {}

    def new_copy(round_dir: Path, tool: str) -> NoopCopy:
        directory = round_dir / tool.replace(" ", "")
        write_noop_project(directory, BUILDSYS if tool == NOOP_COLD else tool)
        if tool in (BUILDSYS, NOOP_COLD):
            report = reports / f"{tool.replace(' ', '')}.json"
            argv = [str(bench.buildsys), "build", "-f", str(directory / "builds.toml")]
            argv += ["-j", str(NOOP_JOBS), *progress, "--report-json", str(report)]
            if tool == NOOP_COLD:
                argv.append("--no-cache")
            return NoopCopy(tool, argv, directory, report)
        if tool == MAKE:
            argv = [bench.peers[MAKE], "-r", "-j", str(NOOP_JOBS), "-f", "Makefile"]
        elif tool == DOIT:
            assert bench.doit is not None
            argv = [bench.doit, "-n", str(NOOP_JOBS), "-P", "thread"]
        else:
            argv = [bench.peers[NINJA], "-j", str(NOOP_JOBS), "-C", str(directory)]
        return NoopCopy(tool, argv, directory)

    def timed(copy: NoopCopy, phase: str, record: bool) -> None:
        if copy.report is not None:
            copy.report.unlink(missing_ok=True)
        wall = run_timed(copy.argv, copy.directory, bench.env)
        problems = []
        mtimes = output_mtimes(copy.directory)
        if phase != "cold" and (phase != "touched" or copy.tool == BUILDSYS):
            rewritten = sum(mtimes[name] != copy.mtimes[name] for name in mtimes)
            if rewritten:
                problems.append(f"{rewritten} outputs rewritten by a run that must change none")
        copy.mtimes = mtimes
        if copy.report is not None:
            try:
                statuses = report_statuses(copy.report)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                statuses = {"(unreadable report)": f"{type(exc).__name__}: {exc}"}
            problem = status_problem(statuses, "succeeded" if phase == "cold" else "cached")
            if problem:
                problems.append(problem)
        if problems:
            detail = "; ".join(problems)
            message = f"noop {copy.tool} {phase} run: {detail}\n  ({shlex.join(copy.argv)})"
            print(f"ERROR: {message}", file=sys.stderr, flush=True)
            bench.errors.append(message)
            if record:
                invalid.setdefault((copy.tool, phase), detail)
        if record:
            samples[copy.tool].setdefault(phase, []).append(wall)

    live = list(tools)
    for round_no in range(bench.repeat + 1):  # round 0: warm-up, not recorded
        record = round_no > 0
        round_dir = bench.root / "noop" / f"r{round_no}"
        copies = []
        for tool in list(live):
            try:
                copy = new_copy(round_dir, tool)
                timed(copy, "cold", record)
            except ToolError as exc:
                bench.errors.append(f"noop {tool} failed:\n{exc}")
                bench.failed.append(("noop", tool))
                live.remove(tool)
                samples.pop(tool)
                continue
            if tool != NOOP_COLD:
                copies.append(copy)
        phases = ["1st no-op", *["no-op"] * NOOP_RUNS, "touched", "after touch"]
        for phase in phases:
            for copy in list(copies):
                try:
                    if phase == "touched":
                        touch_inputs(copy.directory)
                    timed(copy, phase, record)
                except ToolError as exc:
                    bench.errors.append(f"noop {copy.tool} failed:\n{exc}")
                    bench.failed.append(("noop", copy.tool))
                    live.remove(copy.tool)
                    samples.pop(copy.tool)
                    copies.remove(copy)
        if round_no < bench.repeat:  # the last round's copies stay for --keep
            shutil.rmtree(round_dir, ignore_errors=True)

    def targets(phase: str) -> AllOf:
        """< 120 ms, and <= 0.7x doit's figure for the phase (measured, else issue 4's)."""
        measured = samples.get(DOIT, {}).get(phase)
        doit_ms = statistics.median(measured) * 1000 if measured else DOIT_NOOP_MS
        return AllOf(
            (
                Target("< 120 ms", "<", 120.0),
                Target(f"<= 0.7x doit ({0.7 * doit_ms:.1f} ms)", "<=", 0.7 * doit_ms),
            )
        )

    figures = figures_with_ratios("noop", samples, "cold", "s", 1.0, None)
    cached, uncached = samples.get(BUILDSYS, {}), samples.get(NOOP_COLD, {})
    if "cold" in cached and "cold" in uncached:
        extra = [(a - b) * 1000 for a, b in zip(cached["cold"], uncached["cold"], strict=False)]
        figures.append(Figure("noop", BUILDSYS, "cold extra vs --no-cache", "ms", extra))
    for phase in NOOP_PHASES:
        figures += figures_with_ratios("noop", samples, phase, "ms", 1000.0, targets(phase))
    for figure in figures:
        figure.invalid = invalid.get((figure.tool, figure.metric))
        if figure.tool == MAKE:
            figure.tool = "make -r"
    doit_note = (
        f"doit `-n {NOOP_JOBS} -P thread` is measured (md5 with an mtime check)"
        if bench.doit
        else f"doit is not installed: its issue-4 no-op, {DOIT_NOOP_MS:.0f} ms, is the bound"
    )
    bench.notes.append(
        f"noop: {doit_note}; make -r and ninja rebuild every output after the touch"
        " (they go by mtime), buildsys and doit must not"
    )
    return figures


def bench_startup(bench: Bench) -> list[Figure]:
    directory = bench.root / "startup"
    directory.mkdir()
    file = write_builds_toml(directory, [Build(f"b{i:03d}", ("true",)) for i in range(LIST_BUILDS)])
    python, buildsys = str(bench.python), str(bench.buildsys)
    cases = [
        ("python -c pass", [python, "-c", "pass"], None),
        ("python + orchestrator stdlib", [python, "-c", ORCHESTRATOR_IMPORTS], None),
        ("python -c 'import buildsys'", [python, "-c", "import buildsys"], None),
        ("buildsys --version", [buildsys, "--version"], Target("< 60 ms", "<", 60.0)),
        (
            f"buildsys list ({LIST_BUILDS} builds)",
            [buildsys, "list", "-f", str(file)],
            Target("< 150 ms", "<", 150.0),
        ),
    ]
    runs = [Invocation(name, tuple(argv), directory) for name, argv, _ in cases]
    samples = measure(bench, "startup", runs, bench.startup_runs)
    figures = []
    for name, _argv, target in cases:
        if name in samples:
            ms = [s * 1000 for s in samples[name]["wall"]]
            figures.append(Figure("startup", name, "wall", "ms", ms, target=target))
    return figures


# ---------------------------------------------------------------------------- web


def write_web_project(directory: Path) -> Path:
    """``WEB_BUILDS`` packages, each a web build whose script runs ``node build.js``."""
    lines = []
    for i in range(WEB_BUILDS):
        name = f"pkg{i:02d}"
        package = directory / name
        package.mkdir(parents=True)
        scripts = {"build": f"node build.js {name}"}
        (package / "package.json").write_text(
            json.dumps({"name": name, "version": "1.0.0", "private": True, "scripts": scripts})
        )
        (package / "build.js").write_text(WEB_BUILD_JS)
        inputs = ", ".join(toml_string(f"{name}/{f}") for f in ("package.json", "build.js"))
        lines += [f"[builds.{name}]", 'platform = "web"', f'cwd = "{name}"']
        lines += [f"inputs = [{inputs}]", ""]
    path = directory / "builds.toml"
    path.write_text("\n".join(lines))
    return path


def was_replayed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> bool:
    """Run ``argv`` once with Python's import log on: a replay never imports the engine."""
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(argv, cwd, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return "buildsys.engine" not in proc.stderr


def bench_web(bench: Bench) -> list[Figure]:
    missing = [t for t in ("node", "npm") if shutil.which(t, path=bench.env.get("PATH")) is None]
    if missing:
        bench.notes.append(f"web: skipped, {' and '.join(missing)} not on PATH")
        return []
    env = {**bench.env, **WEB_NPM_ENV}
    directory = bench.root / "web"
    file = write_web_project(directory)
    report = bench.root / "web-report.json"
    argv = [str(bench.buildsys), "build", "-f", str(file), *buildsys_progress_args(bench)]
    argv += ["--report-json", str(report)]
    journal = directory / ".buildsys" / "replay"
    samples: dict[str, list[float]] = {"cold": [], "replayed no-op": [], "engine no-op": []}
    invalid: dict[str, str] = {}

    def timed(phase: str, record: bool) -> None:
        report.unlink(missing_ok=True)
        if phase == "engine no-op":
            journal.unlink(missing_ok=True)
        wall = run_timed(argv, directory, env)
        expected = "succeeded" if phase == "cold" else "cached"
        problem = status_problem(report_statuses(report), expected, WEB_BUILDS)
        if phase == "replayed no-op" and not was_replayed(argv, directory, env):
            problem = "the no-op was not answered from .buildsys/replay"
        if problem:
            print(f"ERROR: web {phase}: {problem}", file=sys.stderr, flush=True)
            bench.errors.append(f"web {phase}: {problem}\n  ({shlex.join(argv)})")
            if record:
                invalid.setdefault(phase, problem)
        if record:
            samples[phase].append(wall)

    try:
        for round_no in range(bench.repeat + 1):  # round 0: warm-up, not recorded
            record = round_no > 0
            shutil.rmtree(directory / ".buildsys", ignore_errors=True)
            for package in directory.glob("pkg*/dist"):
                shutil.rmtree(package)
            timed("cold", record)
            for _ in range(NOOP_RUNS):
                timed("replayed no-op", record)
                timed("engine no-op", record)
    except ToolError as exc:
        bench.errors.append(f"web failed:\n{exc}")
        bench.failed.append(("web", BUILDSYS))
        return []
    half = WEB_TURBO_NOOP_MS / 2
    targets = {"replayed no-op": Target(f"< {half:.0f} ms", "<", half)}
    figures = []
    for phase, values in samples.items():
        scale, unit = (1.0, "s") if phase == "cold" else (1000.0, "ms")
        figure = Figure("web", BUILDSYS, phase, unit, [v * scale for v in values])
        figure.target = targets.get(phase)
        figure.invalid = invalid.get(phase)
        figures.append(figure)
    bench.notes.append(
        f"web: {WEB_BUILDS} web builds with the real node and npm; `engine no-op` deletes "
        ".buildsys/replay before each run"
    )
    return figures


RUNNERS: dict[str, Callable[[Bench], list[Figure]]] = {
    "sleep": bench_sleep,
    "true": bench_true,
    "noop": bench_noop,
    "web": bench_web,
    "startup": bench_startup,
}


# ----------------------------------------------------------------------- reporting


def format_value(figure: Figure) -> str:
    value = figure.value
    if figure.unit == "s":
        return f"{value:.3f} s"
    if figure.unit == "ms":
        return f"{value:.1f} ms"
    if figure.unit == "us/build":
        return f"{value:.0f} us/build"
    return f"{value:.3f}"


def format_met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def describe(figure: Figure) -> str:
    metric = "" if figure.metric == "wall" and figure.unit != "s" else f"{figure.metric} "
    invalid = " INVALID (see ERROR)" if figure.invalid else ""
    return f"{metric}{format_value(figure)}{invalid}"


def print_figures(figures: Sequence[Figure]) -> None:
    for figure in figures:
        ratio = "" if figure.ratio is None else f"  ({figure.ratio:.2f}x make)"
        spread = f"  [min {min(figure.samples):.4g}, max {max(figure.samples):.4g}]"
        print(f"  {figure.workload:<8} {figure.tool:<30} {describe(figure)}{ratio}{spread}")
    sys.stdout.flush()


def print_table(figures: Sequence[Figure], failed: Sequence[tuple[str, str]]) -> None:
    header = ("workload", "tool", "figure", "ratio to make", "target", "met?")
    rows = [
        (
            f.workload,
            f.tool,
            describe(f),
            "-" if f.ratio is None else f"{f.ratio:.2f}x",
            "-" if f.target is None else f.target.text,
            format_met(f.met),
        )
        for f in figures
    ]
    rows += [(workload, tool, "FAILED (see below)", "-", "-", "NO") for workload, tool in failed]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = " | ".join("{:<%d}" % w for w in widths)  # noqa: UP031
    print()
    print(line.format(*header))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def machine_info(bench: Bench) -> dict[str, object]:
    bench.versions[BUILDSYS] = tool_version([str(bench.buildsys), "--version"], bench.env)
    for tool, path in bench.peers.items():
        bench.versions[tool] = tool_version([path, "--version"], bench.env)
    if bench.doit:
        bench.versions[DOIT] = tool_version([bench.doit, "--version"], bench.env)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "platform": platform.platform(),
        "usable_cpus": usable_cpus(),
        "load_average": os.getloadavg(),
        "python": str(bench.python),
        "buildsys": str(bench.buildsys),
        "versions": bench.versions,
        "repeat": bench.repeat,
        "startup_runs": bench.startup_runs,
    }


# ---------------------------------------------------------------------------- main


def default_buildsys() -> str | None:
    """``buildsys`` on PATH, else the one beside this interpreter (an unactivated venv)."""
    beside = Path(sys.executable).parent / "buildsys"
    return shutil.which("buildsys") or (str(beside) if beside.is_file() else None)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--buildsys",
        default=default_buildsys(),
        help="the console script to measure (default: buildsys on PATH, else beside this python)",
    )
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--repeat", type=int, help="runs per workload (default 5, quick 2)")
    parser.add_argument("--startup-runs", type=int, help="runs per start-up case (20, quick 5)")
    parser.add_argument("--json", type=Path, help="write every figure and sample here")
    parser.add_argument("--keep", action="store_true", help="keep the generated workloads")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(args.only) - set(WORKLOADS))
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    if not args.buildsys:
        parser.error("buildsys is not on PATH; pass --buildsys PATH")
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.startup_runs = args.startup_runs or (5 if args.quick else 20)
    return args


def run_workloads(bench: Bench, names: Sequence[str]) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        print(f"[{name}]", flush=True)
        try:
            new = RUNNERS[name](bench)
        except ToolError as exc:
            bench.errors.append(f"{name}: {exc}")
            new = []
        print_figures(new)
        figures += new
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    buildsys = Path(args.buildsys).absolute()
    peers = {tool: path for tool in (MAKE, NINJA) if (path := shutil.which(tool))}
    beside = Path(sys.executable).parent / DOIT
    doit = shutil.which(DOIT) or (str(beside) if beside.exists() else None)
    root = Path(tempfile.mkdtemp(prefix="buildsys-bench-"))
    bench = Bench(
        root,
        buildsys,
        interpreter_of(buildsys),
        clean_env(root),
        peers,
        args.repeat,
        args.startup_runs,
        doit=doit,
    )
    info = machine_info(bench)
    versions = "; ".join(f"{tool}: {v}" for tool, v in bench.versions.items())
    print(f"{buildsys}\n{versions}\n{usable_cpus()} usable CPUs; {bench.repeat} runs per workload,")
    print(f"{bench.startup_runs} per start-up case; work in {root}", flush=True)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f} before the run; figures may be noisy", flush=True)
    try:
        figures = run_workloads(bench, args.only)
    finally:
        if args.keep:
            print(f"workloads kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print_table(figures, bench.failed)
    for note in bench.notes:
        print(f"note: {note}")
    for error in bench.errors:
        print(f"\nERROR: {error}", file=sys.stderr)
    if args.json:
        info["load_average_after"] = os.getloadavg()
        data = {
            "machine": info,
            "figures": [f.as_json() for f in figures],
            "notes": bench.notes,
            "errors": bench.errors,
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    missed = any(f.met is False for f in figures)
    return 1 if bench.errors or (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
