"""``chain16``: the shape of a real 16-package TypeScript workspace, in sleeps.

Issue 16's workspace: a 9-deep dependency chain, cold builds of 6-14 s each.
Here (durations in seconds, each build a ``sleep``; ``--scale`` multiplies
them, 0.1 with ``--quick``): the chain ``config`` 6 <- ``utils`` 10 <-
``types`` 8 <- ``schema`` 9 <- ``core`` 14 <- ``api`` 12 <- ``store`` 11 <-
``ui`` 13 <- ``web`` 9 (92 s), and 7 packages hanging off it: ``icons`` 7
and ``i18n`` 6 on ``utils``, ``testing`` 12 on ``core``, ``cli`` 8 on
``api``, ``mobile`` 9 on ``store``, ``docs`` 10 and ``admin`` 11 on ``ui``
(155 s in all; the critical path, ending in ``admin``, 94 s).  Builds are in
alphabetical order, as a workspace lists its packages, so file order starts
``i18n`` and ``icons`` before ``types`` when ``utils`` is done.  At ``-j 2``,
built by buildsys twice, in file order (``[run] history = false``) and
longest-path-first (``history = true``, after one untimed recording run),
and by make (its prerequisites in the same order).  Where buildsys has no
``history`` key (before issue 16), only its file order is measured, and a
note says so.  One run each (``--repeat`` sets more): the sleeps dominate,
and a run takes minutes.  Figures: wall times, and beside them, computed,
file order and longest-path-first with no overhead, and the critical path.
Target: longest-path-first not slower than file order (1% left for noise).
"""

from __future__ import annotations

from harness import (
    MAKE,
    Bench,
    Build,
    Figure,
    Invocation,
    Target,
    buildsys_progress_args,
    figures_with_ratios,
    history_key,
    measure,
    write_builds_toml,
    write_makefile,
)

from . import _schedule

CHAIN_JOBS = 2
CHAIN_NOISE = 0.01
# name: (cold build seconds, the packages it depends on)
CHAIN_PACKAGES: dict[str, tuple[float, tuple[str, ...]]] = {
    "config": (6, ()),
    "utils": (10, ("config",)),
    "types": (8, ("utils",)),
    "schema": (9, ("types",)),
    "core": (14, ("schema",)),
    "api": (12, ("core",)),
    "store": (11, ("api",)),
    "ui": (13, ("store",)),
    "web": (9, ("ui",)),
    "icons": (7, ("utils",)),
    "i18n": (6, ("utils",)),
    "testing": (12, ("core",)),
    "cli": (8, ("api",)),
    "mobile": (9, ("store",)),
    "docs": (10, ("ui",)),
    "admin": (11, ("ui",)),
}
FILE_ORDER = "buildsys (file order)"
LONGEST_FIRST = "buildsys (longest path first)"


def chain_builds(scale: float) -> list[Build]:
    return [
        Build(name, ("sleep", f"{CHAIN_PACKAGES[name][0] * scale:.3f}"), CHAIN_PACKAGES[name][1])
        for name in sorted(CHAIN_PACKAGES)
    ]


def run(bench: Bench) -> list[Figure]:
    scale = bench.scale or (0.1 if bench.quick else 1.0)
    builds = chain_builds(scale)
    index = {build.name: i for i, build in enumerate(builds)}
    seconds = [CHAIN_PACKAGES[build.name][0] * scale for build in builds]
    depends = [[index[need] for need in build.depends] for build in builds]
    progress = buildsys_progress_args(bench)
    variants = {FILE_ORDER: "history = false", LONGEST_FIRST: "history = true"}
    if not history_key(bench):
        variants = {FILE_ORDER: ""}
        bench.notes.append("chain16: no history key, so longest-path-first is not measured")
    runs = []
    for tool, history in variants.items():
        directory = bench.root / "chain16" / (history.replace(" = ", "-") or "buildsys")
        directory.mkdir(parents=True)
        file = write_builds_toml(directory, builds, f"[run]\n{history}\n" if history else "")
        argv = [str(bench.buildsys), "build", "-f", str(file), "-j", str(CHAIN_JOBS), *progress]
        # The one warm-up run is longest-path-first's recording run; the sleeps
        # dominate every run, so nothing else needs warming up.
        runs.append(Invocation(tool, tuple(argv), directory, warmup=tool == LONGEST_FIRST))
    if MAKE in bench.peers:
        directory = bench.root / "chain16" / MAKE
        directory.mkdir(parents=True)
        write_makefile(directory, builds)
        make = (bench.peers[MAKE], "-j", str(CHAIN_JOBS), "-f", "Makefile")
        runs.append(Invocation(MAKE, make, directory, warmup=False))
    repeat = bench.repeat if bench.repeat_given else 1
    samples = measure(bench, "chain16", runs, repeat)
    figures = figures_with_ratios("chain16", samples, "wall", "s", 1.0, None)
    by_tool = {figure.tool: figure for figure in figures}
    if FILE_ORDER in by_tool and LONGEST_FIRST in by_tool:
        # 1% for noise: with no gain at all, the two would otherwise tie by chance.
        bound = by_tool[FILE_ORDER].value * (1 + CHAIN_NOISE)
        text = f"<= file order + {CHAIN_NOISE:.0%} ({bound:.1f} s)"
        by_tool[LONGEST_FIRST].target = Target(text, "<=", bound)
    on_paper = {
        "on paper: file order": _schedule.list_schedule(
            seconds, depends, CHAIN_JOBS, range(len(builds))
        ),
        "on paper: longest first": _schedule.list_schedule(
            seconds, depends, CHAIN_JOBS, _schedule.longest_path_order(seconds, depends)
        ),
        "on paper: critical path": max(_schedule.longest_paths(seconds, depends)),
    }
    figures += [Figure("chain16", tool, "wall", "s", [wall]) for tool, wall in on_paper.items()]
    bench.notes.append(
        f"chain16: durations x {scale:g} ({sum(seconds):.1f} s of builds at -j {CHAIN_JOBS});"
        f" {repeat} timed run(s) per tool"
    )
    return figures
