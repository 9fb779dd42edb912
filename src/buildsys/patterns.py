"""gitignore-style patterns for `inputs` and `outputs`, and walking the files they match.

`**` matches at any depth and dotfiles are ordinary files; `!` excludes.
Symlinks are listed as files and never followed. `.git` and `.buildsys` are
never walked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["PatternSet"]

_GLOB = re.compile(r"[*?\[]")
_NEVER_WALKED = {".git", ".buildsys"}


class PatternSet:
    """A list of gitignore-style patterns, matched against paths relative to a root."""

    def __init__(self, patterns: Iterable[str]) -> None:
        import pathspec

        self.patterns = tuple(patterns)
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)

    def matches(self, relpath: str) -> bool:
        return bool(self._spec.match_file(relpath))

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
