"""``scale``: 1,000 and 10,000 builds, as the largest monorepos have.

A generated project of N builds (N = 1,000, then 10,000): ``command`` builds
``bNNNNN`` running ``true``, each with one input ``src/bNNNNN.txt`` and
``outputs = []`` (cached on its success alone, so a no-op serves every build
from the cache), in N/10 independent chains of 10 (each build depends on the
one before it in its chain).  Where buildsys reads ``[workspaces.*]`` (issue
14), one build in 10 is instead a member of a pnpm workspace in ``ws/``
(``[workspaces.ws]``, ``outputs = []``; members in chains of 10 through
``workspace:*``, one source file each, a lockfile as pnpm writes it): its
package manager is a stand-in ``pnpm`` script on PATH that answers
``--version`` and exits 0, so that a member's build costs one process, as a
command build's does (the real pnpm is the ``workspace`` workload's).

Each round (after an untimed warm-up round) starts without ``.buildsys/``:
``buildsys list``, ``build --dry-run``, the cold build at ``-j 2``, the 1st
no-op and 3 more no-ops (``no-op``: their median).  Every build runs with
``--report-json`` (its cost is inside the figures): the cold run must list
every build ``succeeded``, each no-op every build ``cached``.  Figures per N:
wall times (the cold build's per build), and the peak memory, the largest
``ru_maxrss`` of the buildsys process (``os.wait4``) over a round's runs.
Then each figure's growth from 1,000 to 10,000 builds.  Targets at 10,000:
``list`` and ``--dry-run`` < 1 s, cold <= 1.0 ms a build, every no-op
< 0.3 s, memory < 150 MB; each growth linear (<= 11x for 10x the builds,
10% left for noise).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from harness import (
    BUILDSYS,
    Bench,
    Figure,
    Target,
    ToolError,
    buildsys_accepts,
    buildsys_progress_args,
    read_report,
    run_rusage,
    statuses_problem,
    toml_list,
)

from . import _pnpm

SCALE_SIZES = (1000, 10000)
SCALE_JOBS = 2
CHAIN = 10  # builds per chain
MEMBER_SHARE = 10  # with workspaces: one build in this many is a member
NOOP_RUNS = 3
OTHERS_OK = ("succeeded", "cached", "skipped")
STUB_PNPM = f"""\
#!/bin/sh
# Stands in for pnpm: a member's build costs one process, as a command build's does.
case "$1" in
  --version|-v) echo {_pnpm.PNPM_VERSION} ;;
esac
exit 0
"""
PROBE_FILES = {
    "builds.toml": '[workspaces.ws]\nplatform = "web"\nscript = "build"\n',
    "package.json": f'{{"private": true, "packageManager": "pnpm@{_pnpm.PNPM_VERSION}"}}\n',
    "pnpm-workspace.yaml": 'packages:\n  - "packages/*"\n',
    "packages/a/package.json": '{"name": "a", "version": "1.0.0", "scripts": {"build": "true"}}\n',
}
# figure: (unit, scale from seconds or MB, target at the largest size)
TARGETS: dict[str, tuple[str, float, Target]] = {
    "list": ("ms", 1000.0, Target("< 1000 ms", "<", 1000.0)),
    "dry-run": ("ms", 1000.0, Target("< 1000 ms", "<", 1000.0)),
    "cold": ("ms/build", 1000.0, Target("<= 1.0 ms/build", "<=", 1.0)),
    "1st no-op": ("ms", 1000.0, Target("< 300 ms", "<", 300.0)),
    "no-op": ("ms", 1000.0, Target("< 300 ms", "<", 300.0)),
    "peak memory": ("MB", 1.0, Target("< 150 MB", "<", 150.0)),
}
GROWTH = Target("<= 11x (linear: 10x)", "<=", 11.0)


def write_project(directory: Path, builds: int, with_members: bool) -> dict[str, str]:
    """The project of ``builds`` builds; returns each build's name with its cold status."""
    members = builds // MEMBER_SHARE if with_members else 0
    commands = builds - members
    (directory / "src").mkdir(parents=True)
    lines = []
    if members:
        workspace = [
            _pnpm.Member(f"m{i:05d}", (f"m{i - 1:05d}",) if i % CHAIN else ())
            for i in range(members)
        ]
        _pnpm.write_workspace(directory / "ws", workspace, 1, build_script="true")
        _pnpm.write_lockfile(directory / "ws", workspace)
        lines += ["[workspaces.ws]", 'platform = "web"', 'root = "ws"', 'script = "build"']
        lines += ["outputs = []", ""]
    for i in range(commands):
        name = f"b{i:05d}"
        (directory / "src" / f"{name}.txt").write_text(f"{name}\n")
        lines += [f"[builds.{name}]", 'platform = "command"', 'command = ["true"]']
        lines += [f"inputs = {toml_list([f'src/{name}.txt'])}", "outputs = []"]
        if i % CHAIN:
            lines.append(f"depends-on = {toml_list([f'b{i - 1:05d}'])}")
        lines.append("")
    (directory / "builds.toml").write_text("\n".join(lines))
    names = [f"b{i:05d}" for i in range(commands)] + [f"ws.m{i:05d}" for i in range(members)]
    return dict.fromkeys(names, "succeeded")


def measure_size(
    bench: Bench, builds: int, with_members: bool, env: Mapping[str, str]
) -> dict[str, list[float]] | None:
    """Every phase's samples (s; MB for ``peak memory``) at one size, or None if a run failed."""
    directory = bench.root / "scale" / f"n{builds}"
    expected = write_project(directory, builds, with_members)
    cached = dict.fromkeys(expected, "cached")
    file = str(directory / "builds.toml")
    report = bench.root / "scale" / f"report-{builds}.json"
    base = [str(bench.buildsys), "build", "-f", file, "-j", str(SCALE_JOBS)]
    base += buildsys_progress_args(bench)
    build = [*base, "--report-json", str(report)]
    phases = [
        ("list", [str(bench.buildsys), "list", "-f", file], None),
        ("dry-run", [*base, "--dry-run"], None),
        ("cold", build, expected),
        ("1st no-op", build, cached),
        *[("no-op", build, cached)] * NOOP_RUNS,
    ]
    samples: dict[str, list[float]] = {}
    for round_no in range(bench.repeat + 1):  # round 0: warm-up
        shutil.rmtree(directory / ".buildsys", ignore_errors=True)
        peak = 0.0
        for phase, argv, statuses in phases:
            report.unlink(missing_ok=True)
            try:
                wall, memory = run_rusage(argv, directory, env)
            except ToolError as exc:
                bench.errors.append(f"scale {builds} builds, {phase} failed:\n{exc}")
                bench.failed.append(("scale", f"{BUILDSYS} ({builds} builds)"))
                return None
            problem = None
            if statuses is not None:
                problem = statuses_problem(read_report(report), statuses, OTHERS_OK)
            if problem:
                message = f"scale {builds} builds, {phase}: {problem}"
                print(f"ERROR: {message}", file=sys.stderr, flush=True)
                bench.errors.append(message)
            peak = max(peak, memory)
            if round_no:
                samples.setdefault(phase, []).append(wall)
        if round_no:
            samples.setdefault("peak memory", []).append(peak)
    return samples


def run(bench: Bench) -> list[Figure]:
    with_members = buildsys_accepts(bench, "workspaces", PROBE_FILES) is None
    stub = bench.root / "scale" / "bin"
    stub.mkdir(parents=True)
    (stub / "pnpm").write_text(STUB_PNPM)
    (stub / "pnpm").chmod(0o755)
    env = {**bench.env, "PATH": f"{stub}{os.pathsep}{bench.env.get('PATH', '')}"}
    figures: list[Figure] = []
    medians: dict[int, dict[str, float]] = {}
    for builds in SCALE_SIZES:
        print(f"  {builds:,} builds", flush=True)
        samples = measure_size(bench, builds, with_members, env)
        if samples is None:
            continue
        tool = f"{BUILDSYS}, {builds:,} builds"
        medians[builds] = {}
        for metric, (unit, scale, target) in TARGETS.items():
            per = 1.0 / builds if unit == "ms/build" else 1.0
            figure = Figure("scale", tool, metric, unit, [v * scale * per for v in samples[metric]])
            if builds == max(SCALE_SIZES):
                figure.target = target
            figures.append(figure)
            medians[builds][metric] = figure.value / per
    small, large = min(SCALE_SIZES), max(SCALE_SIZES)
    if small in medians and large in medians:
        for metric in TARGETS:
            growth = medians[large][metric] / medians[small][metric]
            label = f"{large:,} vs {small:,} builds"
            figures.append(Figure("scale", label, f"{metric} growth", "x", [growth], target=GROWTH))
    kind = (
        f"one in {MEMBER_SHARE} a workspace member (stand-in pnpm)"
        if with_members
        else "all command builds ([workspaces.*] not read by this buildsys)"
    )
    bench.notes.append(
        f"scale: {', '.join(f'{n:,}' for n in SCALE_SIZES)} builds, {kind}; chains of {CHAIN};"
        " every build run writes --report-json; growth is of the whole wall time (memory: MB)"
    )
    return figures
