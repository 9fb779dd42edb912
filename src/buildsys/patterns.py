"""gitignore-style patterns for `inputs` and `outputs`, and walking the files they match.

`**` matches at any depth and dotfiles are ordinary files; `!` excludes.
Symlinks are listed as files and never followed. `.git` and `.buildsys` are
never walked.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["PatternSet"]

_GLOB = re.compile(r"[*?\[]")
_NEVER_WALKED = {".git", ".buildsys"}


def _simple(pattern: str) -> tuple[str, str] | None:
    """(directory, name glob) for a pattern anchored at a literal directory whose
    only wildcards (* and ?) are in its last part, such as `src/app/*.ts`; else None.

    Such patterns are matched without pathspec: compiling one regular
    expression per pattern is most of the cost of hashing a thousand builds'
    inputs on a no-op run.
    """
    if pattern.startswith("!") or "**" in pattern or "[" in pattern or "\\" in pattern:
        return None
    body = pattern.strip("/")
    directory, _, name = body.rpartition("/")
    if not directory or not name or _GLOB.search(directory) or name in (".", ".."):
        return None
    if any(part in ("", ".", "..") for part in directory.split("/")):
        return None
    return directory, name


class PatternSet:
    """A list of gitignore-style patterns, matched against paths relative to a root."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        simple = [_simple(p) for p in self.patterns]
        self._simple: list[tuple[str, str]] | None = (
            None if any(x is None for x in simple) else [x for x in simple if x is not None]
        )
        self._compiled: object | None = None

    @property
    def _spec(self) -> object:
        if self._compiled is None:
            import pathspec

            self._compiled = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        return self._compiled

    def matches(self, relpath: str) -> bool:
        return bool(self._spec.match_file(relpath))  # type: ignore[attr-defined]

    def listed_dirs(self) -> list[str] | None:
        """For simple patterns (see `_simple`), the directories whose entries decide
        what matches, unless a match is itself a directory; else None.

        While those directories' entries stay the same, so do the matches:
        `replay` checks their stat instead of listing them again.
        """
        if self._simple is None:
            return None
        return sorted({directory for directory, _ in self._simple})

    def _bases(self) -> list[str]:
        """Directories worth walking: the literal prefix of each positive pattern."""
        bases: list[str] = []
        for pattern in self.patterns:
            if pattern.startswith("!") or not pattern.strip():
                continue
            parts = pattern.strip("/").split("/")
            if len(parts) == 1 and not pattern.startswith("/"):
                return [""]  # "*.js" matches at any depth
            literal: list[str] = []
            for part in parts:
                if _GLOB.search(part):
                    break
                literal.append(part)
            bases.append("/".join(literal))
        bases.sort()
        pruned: list[str] = []
        for base in bases:
            if not any(base == p or base.startswith(p + "/") or p == "" for p in pruned):
                pruned.append(base)
        return pruned

    def files(self, root: Path) -> Iterator[str]:
        """Relative POSIX paths of the files (and symlinks) under `root` that match."""
        if self._simple is not None:
            yield from self._simple_files(root)
            return
        for base in self._bases():
            start = root / base if base else root
            if start.is_symlink() or start.is_file():
                if self.matches(base):
                    yield base
                continue
            if not start.is_dir():
                continue
            yield from self._walk(start, base)

    def _walk(self, directory: Path, rel: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name in _NEVER_WALKED:
                    continue
                yield from self._walk(Path(entry.path), child)
            elif self.matches(child):
                yield child

    def _simple_files(self, root: Path) -> Iterator[str]:
        """What gitignore matching gives for simple patterns: the directory's entries
        whose names match, and everything below an entry that is a directory."""
        seen: set[str] = set()
        assert self._simple is not None
        for directory, name in self._simple:
            if not _GLOB.search(name):
                # A literal path: one lstat, not a scan of a directory of thousands.
                rel = f"{directory}/{name}"
                try:
                    is_dir = stat.S_ISDIR(os.lstat(root / rel).st_mode)
                except OSError:
                    continue
                if not is_dir:
                    seen.add(rel)
                elif name not in _NEVER_WALKED:
                    seen.update(self._walk_all(root / rel, rel))
                continue
            try:
                entries = sorted(os.scandir(root / directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if not fnmatch.fnmatchcase(entry.name, name):
                    continue
                rel = f"{directory}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _NEVER_WALKED:
                        found = self._walk_all(Path(entry.path), rel)
                        seen.update(f for f in found if f not in seen)
                    continue
                seen.add(rel)
        yield from sorted(seen)

    def _walk_all(self, directory: Path, rel: str) -> list[str]:
        out: list[str] = []
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return out
        for entry in entries:
            child = f"{rel}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _NEVER_WALKED:
                    out.extend(self._walk_all(Path(entry.path), child))
            else:
                out.append(child)
        return out
