"""Finding a workspace's package directories from its globs (`packages/*`, `!**/legacy`).

The globs are those of pnpm-workspace.yaml, package.json "workspaces" and
Cargo's `members`: relative to the workspace root, matched against whole
directory paths. `*` and `?` stay within one path part, `**` spans any number
of parts (none included), `[abc]` and `{a,b}` are as in a shell, and a
wildcard does not match a name starting with `.`. A leading `!` excludes the
directories it matches, wherever it stands in the list. A directory is a
package when it holds the marker file (`package.json`).

The walk starts at each glob's literal prefix (`packages` for `packages/*`),
goes no deeper than the glob can match, does not follow symlinks and never
enters hidden directories or the `skip` ones (`node_modules`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

__all__ = ["check_glob", "find_workspace_packages", "glob_matches"]

_WILD = re.compile(r"[*?\[{]")
_BRACES = re.compile(r"\{([^{}]*)\}")


def check_glob(pattern: str) -> str | None:
    """What is wrong with a workspace glob, or None."""
    body = pattern.removeprefix("!")
    if not body.strip():
        return "is empty"
    if body.startswith("/") or re.match(r"[A-Za-z]:[\\/]", body):
        return "is absolute; workspace globs are relative to the workspace root"
    if ".." in _clean(body).split("/"):
        return "points outside the workspace root ('..')"
    return None


def _clean(pattern: str) -> str:
    body = pattern.strip().replace("\\", "/")
    while body.startswith("./"):
        body = body[2:]
    return "/".join(part for part in body.split("/") if part not in ("", "."))


def _expand(pattern: str) -> list[str]:
    """Brace alternatives spelled out: `{a,b}/x` is `a/x` and `b/x`."""
    match = _BRACES.search(pattern)
    if match is None or "," not in match[1]:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [out for choice in match[1].split(",") for out in _expand(head + choice + tail)]


def _part_regex(part: str) -> str:
    out = "" if part.startswith(".") else r"(?!\.)"
    i = 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = part.find("]", i + 2)
            if end == -1:
                out += re.escape(char)
            else:
                inner = part[i + 1 : end]
                if inner[0] in "!^":
                    inner = "^" + inner[1:]
                out += "[" + inner.replace("\\", "\\\\") + "]"
                i = end
        else:
            out += re.escape(char)
        i += 1
    return out


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    """One regex for a glob (braces expanded), matched against `dir/` paths."""
    alternatives = []
    for expanded in _expand(_clean(pattern)):
        regex = ""
        for part in expanded.split("/") if expanded else []:
            regex += r"(?:(?!\.)[^/]+/)*" if part == "**" else _part_regex(part) + "/"
        alternatives.append(regex)
    return re.compile("(?:" + "|".join(alternatives) + r")\Z")


def glob_matches(pattern: str, directory: str) -> bool:
    """Whether a workspace glob (without its `!`) matches a root-relative directory."""
    return _compile(pattern.removeprefix("!")).match(directory + "/") is not None


def _start(pattern: str) -> tuple[str, int | None]:
    """Where a glob's walk starts (its literal prefix) and how deep below it may match."""
    parts = _clean(pattern).split("/")
    literal = 0
    while literal < len(parts) and not _WILD.search(parts[literal]) and parts[literal]:
        literal += 1
    rest = parts[literal:]
    depth = None if any("**" in part or "{" in part for part in rest) else len(rest)
    return "/".join(parts[:literal]), depth


def _walk(
    root: Path, base: str, depth: int | None, marker: str, skip: frozenset[str]
) -> Iterator[str]:
    stack = [(base, 0)]
    while stack:
        rel, level = stack.pop()
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name == marker:
                if entry.is_file():
                    yield rel
            elif (
                (depth is None or level < depth)
                and not entry.name.startswith(".")
                and entry.name not in skip
                and entry.is_dir(follow_symlinks=False)
            ):
                stack.append((f"{rel}/{entry.name}" if rel else entry.name, level + 1))


def find_workspace_packages(
    root: str | os.PathLike[str],
    patterns: Sequence[str],
    *,
    marker: str = "package.json",
    skip: Iterable[str] = ("node_modules",),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the package directories the globs select, sorted; the globs that select none).

    Directories are relative to `root`, posix; `root` itself is never one (it is
    the workspace). A glob that selects none is one whose directories all lack
    the marker, or were all excluded by the `!` globs; `!` globs are never in
    that list. Raises ValueError naming a glob `check_glob` refuses.
    """
    for pattern in patterns:
        problem = check_glob(pattern)
        if problem is not None:
            raise ValueError(f"workspace glob {pattern!r} {problem}")
    base_dir = Path(root)
    skipped = frozenset(skip)
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    found: set[str] = set()
    unmatched: list[str] = []
    walked: dict[tuple[str, int | None], list[str]] = {}
    for pattern in patterns:
        if pattern.startswith("!"):
            continue
        start = _start(pattern)
        if start not in walked:
            walked[start] = list(_walk(base_dir, *start, marker, skipped))
        hits = [
            d
            for d in walked[start]
            if d
            and glob_matches(pattern, d)
            and not any(part in skipped for part in d.split("/"))
            and not any(glob_matches(exclude, d) for exclude in excludes)
        ]
        if not hits:
            unmatched.append(pattern)
        found.update(hits)
    return tuple(sorted(found)), tuple(unmatched)
