"""Benchmark buildsys against make, ninja and Turborepo on identical workloads.

One run of this script writes every workload into a fresh temporary directory
and times the same builds with each tool: ``buildsys build`` (run as a
subprocess through its console script, so it runs from whatever virtualenv it
is installed in), ``make -j N -f Makefile`` and, when it is on PATH, ``ninja
-j N -C DIR`` (``workspace``: Turborepo). Each tool gets its own directory
and its own copy of the build description, and every build runs the very
same argv under every tool. Repetitions are interleaved (buildsys, make,
ninja, buildsys, make, ...) after one untimed warm-up run of each, so that
drift in the machine's load spreads over all tools; each figure is the median
of the repetitions.

The machinery (timing, interleaving, figures and targets, the environment,
printing, ``--json``) is in ``harness.py``; each workload is a module of
``workloads/`` whose docstring says what it runs, what it measures and the
targets. README.md beside this file has the tables.

Usage: ``python benchmarks/bench.py [--quick] [--only WORKLOAD,...] [--json PATH]
[--buildsys PATH]``; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness import (
    DOIT,
    MAKE,
    NINJA,
    Bench,
    Figure,
    ToolError,
    clean_env,
    interpreter_of,
    machine_info,
    print_figures,
    print_table,
    usable_cpus,
    write_json,
)
from workloads import BY_NAME, DEFAULT, WORKLOADS


def default_buildsys() -> str | None:
    """``buildsys`` on PATH, else the one beside this interpreter (an unactivated venv)."""
    beside = Path(sys.executable).parent / "buildsys"
    return shutil.which("buildsys") or (str(beside) if beside.is_file() else None)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    opt_in = [w.name for w in WORKLOADS if not w.default]
    parser.add_argument(
        "--buildsys",
        default=default_buildsys(),
        help="the console script to measure (default: buildsys on PATH, else beside this python)",
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT),
        help=f"comma-separated workloads, or `all` (default: {','.join(DEFAULT)};"
        f" only when named: {','.join(opt_in)})",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller work")
    parser.add_argument("--repeat", type=int, help="runs per workload (default 5, quick 2)")
    parser.add_argument("--startup-runs", type=int, help="runs per start-up case (20, quick 5)")
    parser.add_argument(
        "--members", type=int, help="workspace: members of the pnpm workspace (200, quick 50)"
    )
    parser.add_argument(
        "--scale", type=float, help="chain16: multiplies every build's duration (1.0, quick 0.1)"
    )
    parser.add_argument("--json", type=Path, help="write every figure and sample here")
    parser.add_argument("--keep", action="store_true", help="keep the generated workloads")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    names = [w.strip() for w in args.only.split(",") if w.strip()]
    args.only = [w.name for w in WORKLOADS] if names == ["all"] else names
    unknown = sorted(set(args.only) - set(BY_NAME))
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)} or all"
        )
    if not args.buildsys:
        parser.error("buildsys is not on PATH; pass --buildsys PATH")
    if args.members is not None and args.members < 1:
        parser.error("--members must be at least 1")
    if args.scale is not None and args.scale <= 0:
        parser.error("--scale must be above 0")
    args.repeat_given = args.repeat is not None
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.startup_runs = args.startup_runs or (5 if args.quick else 20)
    args.members = args.members or (50 if args.quick else 200)
    return args


def run_workloads(bench: Bench, names: Sequence[str]) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        print(f"[{name}]", flush=True)
        try:
            new = BY_NAME[name].run(bench)
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
        quick=args.quick,
        repeat_given=args.repeat_given,
        members=args.members,
        scale=args.scale,
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
        write_json(args.json, info, figures, bench)
    missed = any(f.met is False for f in figures)
    return 1 if bench.errors or (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
