"""``loaded``: the ``sleep`` workload while two busy loops hold both cores.

The 64 builds of ``job.sh STAMP 0.1`` at ``-j 8`` of ``sleep``, every run
(the warm-up included) with two CPU-bound Python processes started by the
bench beforehand (``while True``, as compilers hold the cores in a real
build) and killed after the last run; each loop also exits by itself if
the bench dies first.  A finished build must start the next one without
waiting for the scheduler to get a time slice.  Figures as in ``sleep``:
wall time, efficiency and packing from the builds' own time stamps.
Target: buildsys's efficiency within 0.05 of make's in the same run (its
unloaded twin, ``sleep``, says whether it is no worse than before without
the load).
"""

from __future__ import annotations

from harness import (
    BUILDSYS,
    MAKE,
    Bench,
    Figure,
    Target,
    busy_loops,
    figures_with_ratios,
    measure,
)

from .sleep import sleep_invocations

LOADED_LOOPS = 2
LOADED_MARGIN = 0.05


def run(bench: Bench) -> list[Figure]:
    runs = sleep_invocations(bench, "loaded")
    with busy_loops(LOADED_LOOPS, str(bench.python)):
        samples = measure(bench, "loaded", runs, bench.repeat)
    figures = [
        *figures_with_ratios("loaded", samples, "wall", "s", 1.0, None),
        *figures_with_ratios("loaded", samples, "efficiency", "", 1.0, None),
        *figures_with_ratios("loaded", samples, "packing", "", 1.0, None),
    ]
    make = next((f for f in figures if f.tool == MAKE and f.metric == "efficiency"), None)
    for figure in figures:
        if figure.tool == BUILDSYS and figure.metric == "efficiency":
            if make is None:
                bench.notes.append("loaded: make was not measured; no target for buildsys")
                continue
            bound = make.value - LOADED_MARGIN
            figure.target = Target(f">= make - {LOADED_MARGIN} ({bound:.3f})", ">=", bound)
    bench.notes.append(
        f"loaded: {LOADED_LOOPS} busy loops (`{bench.python.name} -c 'while ...: pass'`) held"
        " the cores during every run"
    )
    return figures
