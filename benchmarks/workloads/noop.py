"""``noop``: what a user waits for when nothing (or only mtimes) has changed.

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
Targets: each no-op figure < 120 ms and <= 0.7x doit's figure for the same
phase (when doit is not installed, issue 4's 175 ms: <= 122.5 ms).
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    BUILDSYS,
    DOIT,
    MAKE,
    NINJA,
    AllOf,
    Bench,
    Figure,
    Target,
    ToolError,
    buildsys_progress_args,
    figures_with_ratios,
    read_report,
    run_timed,
    status_problem,
    toml_string,
)

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


@dataclass
class NoopCopy:
    """One tool's fresh copy of the noop workload within one round."""

    tool: str
    argv: list[str]
    directory: Path
    report: Path | None = None  # buildsys's --report-json, outside the project
    mtimes: dict[str, int] = field(default_factory=dict)


def run(bench: Bench) -> list[Figure]:
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
            statuses = read_report(copy.report)
            expected = "succeeded" if phase == "cold" else "cached"
            problem = status_problem(statuses, expected, NOOP_BUILDS)
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
