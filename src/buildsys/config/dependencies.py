"""Checking `depends-on`: unknown builds, a build depending on itself, and cycles."""

from __future__ import annotations

from collections.abc import Sequence

from .keys import did_you_mean
from .model import BuildConfig
from .problems import ProblemLog

__all__ = ["check_dependencies"]


def check_dependencies(variants: Sequence[Sequence[BuildConfig]], log: ProblemLog) -> None:
    """Report the dependency problems of each variant: the builds as each profile sees
    them, the base first."""
    names = [b.name for b in variants[0]]
    for variant in variants:
        for build in variant:
            for dep in build.depends_on:
                at = log.at_key(build, "depends-on")
                if dep == build.name:
                    log.add("depends on itself", at=at, build=build.name, key="depends-on")
                elif dep not in names:
                    log.add(
                        f"unknown build {dep!r}{did_you_mean(dep, names)}",
                        at=at,
                        build=build.name,
                        key="depends-on",
                    )
        for cycle in _cycles(variant):
            first = next(b for b in variant if b.name == cycle[0])
            log.add(
                f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}",
                at=log.at_key(first, "depends-on"),
                build=cycle[0],
                key="depends-on",
            )


def _cycles(builds: Sequence[BuildConfig]) -> list[list[str]]:
    """Each dependency cycle once, members in dependency order, from its first build in the file."""
    deps = {b.name: [d for d in b.depends_on if d != b.name] for b in builds}
    order = {b.name: i for i, b in enumerate(builds)}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for build in builds:
        if build.name in state:
            continue
        # Iterative depth-first search: a chain of thousands of builds is fine.
        path: list[str] = []
        stack: list[tuple[str, int]] = [(build.name, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            edges = [d for d in deps.get(node, ()) if d in deps]
            if index < len(edges):
                stack.append((node, index + 1))
                dep = edges[index]
                if state.get(dep) == 1:
                    cycle = path[path.index(dep) :]
                    key = frozenset(cycle)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                        found.append(cycle[start:] + cycle[:start])
                elif dep not in state:
                    stack.append((dep, 0))
            else:
                path.pop()
                state[node] = 2
    return found
