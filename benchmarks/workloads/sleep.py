"""``sleep``: how well the orchestrator keeps 8 slots busy.

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
the 8 slots runs 8 builds back to back.  Targets: efficiency >= 0.97, wall
<= 1.10x make.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

from harness import (
    JOB_SCRIPT,
    Bench,
    Build,
    Figure,
    Invocation,
    Target,
    ToolError,
    figures_with_ratios,
    invocations,
    job_shell,
    measure,
    read_stamp,
)

SLEEP_BUILDS = 64
SLEEP_SECONDS = 0.1
SLEEP_JOBS = 8


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


def sleep_invocations(bench: Bench, workload: str) -> list[Invocation]:
    """The sleep workload written for every tool under ``bench.root / workload``."""
    job = bench.root / "job.sh"
    job.write_text(JOB_SCRIPT)
    shell = job_shell(bench.env)
    bench.notes.append(f"{workload}: each build runs `{shell} job.sh STAMP {SLEEP_SECONDS}`")

    def builds_for(directory: Path) -> list[Build]:
        stamps = directory / "stamps"
        return [
            Build(f"b{i:02d}", (shell, str(job), str(stamps / f"b{i:02d}"), str(SLEEP_SECONDS)))
            for i in range(SLEEP_BUILDS)
        ]

    return invocations(bench, workload, SLEEP_JOBS, builds_for, efficiency_reader)


def run(bench: Bench) -> list[Figure]:
    runs = sleep_invocations(bench, "sleep")
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
