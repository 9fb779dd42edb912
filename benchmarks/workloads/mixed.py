"""``mixed``: builds of mixed lengths, where the order ready builds start in matters.

40 independent builds of ``sleep D`` at ``-j 4``, each D drawn uniformly
from 0.02-0.5 s by ``random.Random(12)`` (rounded to the millisecond; 9.36 s
in all), in that order in every tool's file.  buildsys's builds.toml has
``[run] history = true`` where this version knows the key (issue 16), and
the untimed warm-up run is the earlier run whose durations it records.
Figures: the wall time of the whole tool process, and the efficiency
``ideal / wall`` with ``ideal = max(sum(D) / 4, max(D))`` (2.34 s), start-up
included; beside them, computed and not measured: the efficiency of running
the builds in batches of 4 (each waiting for its longest), of file order
and of longest-path-first with no overhead at all ("on paper").  Target:
buildsys's efficiency >= 0.95 and above make's.
"""

from __future__ import annotations

import random
from pathlib import Path

from harness import (
    AllOf,
    Bench,
    Build,
    Figure,
    Target,
    figures_with_ratios,
    history_key,
    invocations,
    measure,
    no_metrics,
)

from . import _schedule

MIXED_BUILDS = 40
MIXED_JOBS = 4
MIXED_SEED = 12  # its file order on paper: 0.93, as make measures in issue 16
MIXED_RANGE = (0.02, 0.5)


def durations() -> list[float]:
    draw = random.Random(MIXED_SEED)
    return [round(draw.uniform(*MIXED_RANGE), 3) for _ in range(MIXED_BUILDS)]


def run(bench: Bench) -> list[Figure]:
    seconds = durations()
    independent: list[list[int]] = [[] for _ in seconds]
    ideal = _schedule.ideal(seconds, independent, MIXED_JOBS)

    def builds_for(_directory: Path) -> list[Build]:
        return [Build(f"b{i:02d}", ("sleep", f"{d:.3f}")) for i, d in enumerate(seconds)]

    header = "[run]\nhistory = true\n" if history_key(bench) else ""
    runs = invocations(bench, "mixed", MIXED_JOBS, builds_for, no_metrics, header=header)
    samples = measure(bench, "mixed", runs, bench.repeat)
    for metrics in samples.values():
        metrics["efficiency"] = [ideal / wall for wall in metrics["wall"]]
    figures = figures_with_ratios("mixed", samples, "wall", "s", 1.0, None)
    target = AllOf((Target(">= 0.95", ">=", 0.95), Target("above make", ">", 1.0, "ratio")))
    figures += figures_with_ratios("mixed", samples, "efficiency", "", 1.0, target)
    on_paper = {
        "on paper: batches of 4": _schedule.batches(seconds, MIXED_JOBS),
        "on paper: file order": _schedule.list_schedule(
            seconds, independent, MIXED_JOBS, range(len(seconds))
        ),
        "on paper: longest first": _schedule.list_schedule(
            seconds, independent, MIXED_JOBS, _schedule.longest_path_order(seconds, independent)
        ),
    }
    figures += [
        Figure("mixed", tool, "efficiency", "", [ideal / wall]) for tool, wall in on_paper.items()
    ]
    history = "with `[run] history = true`" if header else "without history (no such key)"
    bench.notes.append(
        f"mixed: ideal {ideal:.3f} s (sum {sum(seconds):.2f} s / {MIXED_JOBS}); buildsys ran"
        f" {history}; `on paper` figures are computed, with no overhead"
    )
    return figures
