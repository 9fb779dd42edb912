"""The dependency graph: selecting builds, ordering them, drawing them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from ..errors import UsageError
from .keys import did_you_mean
from .model import BuildConfig

__all__ = ["dependency_order", "leaves", "select", "to_dot"]


def select(
    builds: Sequence[BuildConfig], names: Iterable[str] = (), tags: Iterable[str] = ()
) -> list[BuildConfig]:
    """The named builds, the builds with any of `tags`, and what they depend on, in file order.

    No names and no tags: every build.
    """
    names = list(names)
    tags = list(tags)
    by_name = {b.name: b for b in builds}
    for name in names:
        if name not in by_name:
            raise UsageError(
                f"unknown build {name!r}{did_you_mean(name, list(by_name))}; "
                f"builds: {', '.join(by_name) or 'none'}"
            )
    known_tags = sorted({t for b in builds for t in b.tags})
    for tag in tags:
        if tag not in known_tags:
            raise UsageError(
                f"no build has tag {tag!r}{did_you_mean(tag, known_tags)}; "
                f"tags: {', '.join(known_tags) or 'none'}"
            )
    if not names and not tags:
        return list(builds)
    wanted = set(names) | {b.name for b in builds if set(b.tags) & set(tags)}
    stack = list(wanted)
    while stack:
        for dep in by_name[stack.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [b for b in builds if b.name in wanted]


class _Node(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def depends_on(self) -> tuple[str, ...]: ...


NodeT = TypeVar("NodeT", bound=_Node)


def dependency_order(builds: Sequence[NodeT]) -> list[NodeT]:
    """`builds` with each after its dependencies, otherwise in file order."""
    by_name = {b.name: b for b in builds}
    done: set[str] = set()
    ordered: list[NodeT] = []
    for first in builds:
        # Iterative depth-first walk: a long chain must not hit the recursion limit.
        stack: list[tuple[NodeT, int]] = [(first, 0)]
        while stack:
            build, index = stack.pop()
            if index == 0:
                if build.name in done:
                    continue
                done.add(build.name)
            deps = [d for d in build.depends_on if d in by_name]
            if index < len(deps):
                stack.append((build, index + 1))
                if deps[index] not in done:
                    stack.append((by_name[deps[index]], 0))
            else:
                ordered.append(build)
    return ordered


def leaves(builds: Sequence[BuildConfig]) -> list[str]:
    """Builds no other build in `builds` depends on: what a user would have named."""
    needed = {d for b in builds for d in b.depends_on}
    return [b.name for b in builds if b.name not in needed]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(builds: Sequence[BuildConfig]) -> str:
    """Graphviz DOT: an edge from each build to what it depends on."""
    lines = ["digraph buildsys {", "  rankdir=LR;", "  node [shape=box];"]
    for build in builds:
        label = f"{build.name}\\n({build.platform})"
        lines.append(f'  {_quote(build.name)} [label="{label}"];')
    for build in builds:
        for dep in build.depends_on:
            lines.append(f"  {_quote(build.name)} -> {_quote(dep)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
