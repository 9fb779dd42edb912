"""The dependency graph: selecting builds, ordering them, drawing them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .config import BuildConfig, did_you_mean
from .errors import UsageError

__all__ = ["leaves", "select", "to_dot"]


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
