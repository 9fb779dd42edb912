"""The rules every builder's discovery shares: which packages are members, their
names, their dependencies on each other, their default inputs, and cycles.

Naming (one rule): a member is named after its package name without the scope
(`@acme/ui` is `ui`) when no other member has that unscoped name and it is a
valid build name; otherwise after its directory's last part (`packages/ui` is
`ui`). Two members that still get one name are an error naming both
directories.

`members` and `exclude` choose which packages become members. A package they
leave out, like a member without the script, is not a build: its dependents
take its files as inputs and depend on what it depends on.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from .workspace import (
    MEMBER_NAME,
    WorkspaceError,
    WorkspaceMember,
    WorkspaceOptions,
    WorkspacePackage,
    WorkspaceProblem,
)
from .workspace_globs import check_glob, glob_matches

__all__ = ["assemble_members", "member_name"]


def member_name(package: WorkspacePackage, unscoped_counts: Counter[str]) -> str:
    """The member part of a build name, by the rule in this module's docstring."""
    if package.package:
        unscoped = package.package.rpartition("/")[2]
        if unscoped_counts[unscoped] == 1 and MEMBER_NAME.match(unscoped):
            return unscoped
    return package.directory.rpartition("/")[2]


def _select(
    packages: Sequence[WorkspacePackage],
    options: WorkspaceOptions,
    problems: list[WorkspaceProblem],
) -> list[WorkspacePackage]:
    for key in ("members", "exclude"):
        for glob in getattr(options, key):
            problem = check_glob(glob) or (
                None
                if any(glob_matches(glob, p.directory) for p in packages)
                else "matches no package of the workspace"
            )
            if problem is not None:
                problems.append(WorkspaceProblem(f"{key} glob {glob!r} {problem}", key=key))
    chosen = [
        p
        for p in packages
        if (not options.members or any(glob_matches(g, p.directory) for g in options.members))
        and not any(glob_matches(g, p.directory) for g in options.exclude)
    ]
    return chosen


def _strongly_connected(edges: dict[int, list[int]], count: int) -> list[list[int]]:
    """Tarjan's components, iteratively (a deep chain must not hit the recursion limit)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    for start in range(count):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_in(component: list[int], edges: dict[int, list[int]]) -> list[int]:
    """A shortest cycle through a component's first node, as a path back to it."""
    inside = set(component)
    start = min(component)
    parent: dict[int, int] = {}
    queue = [start]
    for node in queue:  # breadth first: the list grows as it is read
        for nxt in edges[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt in inside and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    raise AssertionError("a strongly connected component always has a cycle")


def assemble_members(
    root: str | os.PathLike[str],
    packages: Sequence[WorkspacePackage],
    options: WorkspaceOptions,
    *,
    shared: Sequence[str] = (),
    manifest: str = "package.json",
) -> tuple[WorkspaceMember, ...]:
    """The members of a workspace from the packages a builder read, sorted by directory.

    `shared` are root-relative files every member's inputs hold (the lockfile,
    the root package.json); `manifest` is the name of a package's own file,
    for error messages. Raises `WorkspaceError` with every problem found: a
    `members`/`exclude` glob that matches no package, two packages with one
    package name, two members with one member name, a dependency cycle
    through a member that is a build.
    """
    root_path = Path(root)
    problems: list[WorkspaceProblem] = []
    by_package: dict[str, int] = {}
    for i, package in enumerate(packages):
        if package.package is None:
            continue
        if package.package in by_package:
            other = packages[by_package[package.package]]
            problems.append(
                WorkspaceProblem(
                    f"two packages of the workspace at {root_path} are named "
                    f"{package.package!r}: {other.directory} and {package.directory}",
                    file=str(root_path / package.directory / manifest),
                )
            )
        else:
            by_package[package.package] = i
    chosen = _select(packages, options, problems)
    chosen_dirs = {p.directory for p in chosen}
    counts = Counter(p.package.rpartition("/")[2] for p in chosen if p.package)
    names = {p.directory: member_name(p, counts) for p in chosen}
    holders: dict[str, list[str]] = defaultdict(list)
    for directory, name in names.items():
        holders[name].append(directory)
    for name, directories in sorted(holders.items()):
        if not MEMBER_NAME.match(name):
            for directory in directories:
                problems.append(
                    WorkspaceProblem(
                        f"the member in {directory} gets no valid build name ({name!r}); "
                        "name its package, or exclude it",
                        file=str(root_path / directory / manifest),
                    )
                )
        elif len(directories) > 1:
            problems.append(
                WorkspaceProblem(
                    f"members {' and '.join(sorted(directories))} of the workspace at "
                    f"{root_path} would both be named {name!r}; give one a package name "
                    "that is unique without its scope, or leave one out with `exclude`",
                    key="members",
                )
            )

    edges: dict[int, list[int]] = {
        i: sorted({by_package[d] for d in p.dependencies if d in by_package} - {i})
        for i, p in enumerate(packages)
    }
    is_build = [p.is_build and p.directory in chosen_dirs for p in packages]
    for component in _strongly_connected(edges, len(packages)):
        if len(component) > 1 and any(is_build[i] for i in component):
            cycle = _cycle_in(component, edges)
            shown = " -> ".join(
                f"{names.get(packages[i].directory) or packages[i].package} "
                f"({packages[i].directory})"
                for i in cycle
            )
            problems.append(
                WorkspaceProblem(
                    f"dependency cycle among the members of the workspace at {root_path}: "
                    f"{shown}; a member cannot be built before itself",
                    file=str(root_path / packages[cycle[0]].directory / manifest),
                )
            )
    if problems:
        raise WorkspaceError(problems)

    all_dirs = sorted(p.directory for p in packages)
    outputs = options.outputs or ()
    members = []
    for i, package in enumerate(packages):
        if package.directory not in chosen_dirs:
            continue
        depends_on: set[str] = set()
        uses: list[str] = []
        seen, todo = {i}, list(edges[i])
        while todo:
            dep = todo.pop(0)
            if dep in seen:
                continue
            seen.add(dep)
            if is_build[dep]:
                depends_on.add(names[packages[dep].directory])
            else:
                uses.append(packages[dep].directory)
                todo.extend(edges[dep])
        prefix = package.directory + "/"
        at = bisect.bisect_right(all_dirs, prefix)
        nested = []
        while at < len(all_dirs) and all_dirs[at].startswith(prefix):
            nested.append(all_dirs[at])
            at += 1
        members.append(
            WorkspaceMember(
                name=names[package.directory],
                package=package.package,
                directory=package.directory,
                is_build=is_build[i],
                depends_on=sorted(depends_on),
                dependencies=sorted({n for d in edges[i] if (n := packages[d].package)}),
                scripts=sorted(package.scripts),
                outputs=outputs,
                uses=sorted(uses),
                nested=nested,
                shared=shared,
            )
        )
    return tuple(sorted(members, key=lambda m: m.directory))
