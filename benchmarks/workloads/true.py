"""``true``: the orchestrator's own cost per build.

2000 independent builds of ``true`` at ``-j 2``.  Figure: wall time of the
whole process divided by 2000 (planning, spawning and reaping a process,
bookkeeping, logging; start-up is spread over the 2000 builds).  Target:
<= 1.5x make.
"""

from __future__ import annotations

from pathlib import Path

from harness import (
    Bench,
    Build,
    Figure,
    Target,
    figures_with_ratios,
    invocations,
    measure,
    no_metrics,
)

TRUE_BUILDS = 2000
TRUE_JOBS = 2


def true_builds(_directory: Path) -> list[Build]:
    return [Build(f"b{i:04d}", ("true",)) for i in range(TRUE_BUILDS)]


def run(bench: Bench) -> list[Figure]:
    runs = invocations(bench, "true", TRUE_JOBS, true_builds, no_metrics)
    samples = measure(bench, "true", runs, bench.repeat)
    target = Target("<= 1.5x make", "<=", 1.5, "ratio")
    return figures_with_ratios("true", samples, "wall", "us/build", 1e6 / TRUE_BUILDS, target)
