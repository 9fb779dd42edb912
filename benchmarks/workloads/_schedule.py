"""Schedules on paper: the wall time an order would give with no overhead at all.

The references the scheduling workloads print beside what the tools measure:
``list_schedule`` starts, whenever a slot is free, the first ready build in a
given order (file order, or longest remaining path first); ``batches`` runs
builds in groups of ``slots``, each group waiting for its longest.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def dependents_of(depends: Sequence[Sequence[int]]) -> list[list[int]]:
    result: list[list[int]] = [[] for _ in depends]
    for build, needs in enumerate(depends):
        for need in needs:
            result[need].append(build)
    return result


def longest_paths(durations: Sequence[float], depends: Sequence[Sequence[int]]) -> list[float]:
    """Each build's duration plus the longest chain of its dependents after it."""
    after = dependents_of(depends)
    memo: dict[int, float] = {}

    def path(build: int) -> float:
        if build not in memo:
            memo[build] = durations[build] + max((path(d) for d in after[build]), default=0.0)
        return memo[build]

    return [path(build) for build in range(len(durations))]


def longest_path_order(durations: Sequence[float], depends: Sequence[Sequence[int]]) -> list[int]:
    """Builds by longest remaining path, ties in file order (SPEC section 9)."""
    paths = longest_paths(durations, depends)
    return sorted(range(len(durations)), key=lambda build: (-paths[build], build))


def list_schedule(
    durations: Sequence[float],
    depends: Sequence[Sequence[int]],
    slots: int,
    order: Sequence[int],
) -> float:
    """The wall time when each free slot takes the first ready build in ``order``."""
    rank = {build: index for index, build in enumerate(order)}
    after = dependents_of(depends)
    waiting = [len(needs) for needs in depends]
    ready = [(rank[b], b) for b in range(len(durations)) if not waiting[b]]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < slots:
            _, build = heapq.heappop(ready)
            heapq.heappush(running, (now + durations[build], build))
        now, done = heapq.heappop(running)
        for dependent in after[done]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(ready, (rank[dependent], dependent))
    return now


def batches(durations: Sequence[float], slots: int) -> float:
    """The wall time of groups of ``slots`` builds in file order, each waiting for its longest."""
    return sum(max(durations[i : i + slots]) for i in range(0, len(durations), slots))


def ideal(durations: Sequence[float], depends: Sequence[Sequence[int]], slots: int) -> float:
    """The lower bound: the work spread over every slot, or the critical path if longer."""
    return max(sum(durations) / slots, max(longest_paths(durations, depends), default=0.0))
