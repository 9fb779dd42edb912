"""gitignore-style patterns for `inputs` and `outputs`, and walking the files they match.

Reading a pattern (`normalise`): `**` matches at any depth and dotfiles are
ordinary files; `!` excludes; a leading `/` anchors the pattern at the root
(the directory holding builds.toml), as in a .gitignore; a leading `./` is
dropped, so `./x` is `x`; empty and `.` parts go and `..` is resolved, so
`a//b` and `a/./b` are `a/b` (a pattern that had a slash before its last
part stays anchored: `a/../b` is `/b`). Patterns are then matched as pathspec's `GitIgnoreSpec`
matches them against a file's path, so a pattern that matches a directory
matches every file below it.

Walking: symlinks are listed as files and never followed; `.git` and
`.buildsys` are never walked. A walk starts at the literal prefix of each
positive pattern (`src/app/**` at `src/app`), and enters a directory only if
a positive pattern can match something below it and no `!dir/**` excludes it
for good (a later positive pattern could take files back); it asks pathspec
only about files whose names a positive pattern can match. A `FileTree` with
git's rules (`_gitignore`) also leaves out, and never enters, what git
ignores. A `FileTree` shared by the walks of one run lists each directory
once while the directory's stat vouches that it is unchanged.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Iterable

from .._racy import vouches
from ._gitignore import strip_trailing_spaces

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._gitignore import GitIgnore

__all__ = ["FileTree", "PatternSet", "may_overlap", "normalise", "pattern_problem"]

_GLOB = re.compile(r"[*?\[]")
_NEVER_WALKED = frozenset({".git", ".buildsys"})
_OUTSIDE = "points outside the project; patterns are relative to the directory holding builds.toml"


def _parse(pattern: str) -> tuple[str, str | None]:
    """The pattern as `normalise` gives it, and what is wrong with it (None: nothing)."""
    negated = pattern.startswith("!")
    body = strip_trailing_spaces(pattern[1:] if negated else pattern)
    if body.startswith("#"):
        return pattern, None  # a comment to gitignore: left as written
    lead = body.startswith("/")
    rest = body.lstrip("/")
    while rest.startswith("./"):
        rest = rest[2:].lstrip("/")
    if rest == ".":
        rest = ""
    dir_only = rest.endswith("/")
    rest = rest.rstrip("/")
    # As in a .gitignore, a slash before the last part anchors the pattern.
    anchored = lead or "/" in rest
    parts: list[str] = []
    for part in rest.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif not parts:
            return pattern, _OUTSIDE
        elif parts[-1] == "**" or _GLOB.search(parts[-1]) or "\\" in parts[-1]:
            return pattern, f"has '..' after a wildcard ({parts[-1]!r}); write the path without it"
        else:
            parts.pop()
    text = "/".join(parts)
    if text and (lead or (anchored and len(parts) == 1)):
        text = "/" + text
    if text and dir_only:
        text += "/"
    return ("!" if negated else "") + text, None


def normalise(pattern: str) -> str:
    """The pattern as walks and matches read it (see the module's docstring); one
    that `pattern_problem` refuses is returned as written."""
    text, problem = _parse(pattern)
    return pattern if problem is not None else text


def pattern_problem(pattern: str) -> str | None:
    """What makes `pattern` unusable, completing "pattern 'x' ...", or None."""
    if "\x00" in pattern:
        return "contains a NUL character, which no file system allows in a path"
    text, problem = _parse(pattern)
    if problem is not None:
        return problem
    body = text[1:] if text.startswith("!") else text
    if not body.strip("/"):
        return "is empty; a pattern names files, such as 'src/**' ('**' is every file)"
    if body.startswith("#"):
        return "starts with '#', which makes it a comment; write '\\#' for a leading '#'"
    if "\\" in body or "[" in body:  # the only ways pathspec can refuse one
        import pathspec

        try:
            pathspec.GitIgnoreSpec.from_lines([text])
        except (ValueError, re.error) as exc:
            return f"is not a valid pattern ({exc})"
    return None


def _simple(pattern: str) -> tuple[str, str] | None:
    """(directory, name glob) for a pattern anchored at a literal directory (or at
    the root, `/x`) whose only wildcards (* and ?) are in its last part, such as
    `src/app/*.ts`; else None.

    Such patterns are matched without pathspec: compiling one regular
    expression per pattern is most of the cost of hashing a thousand builds'
    inputs on a no-op run.
    """
    if pattern.startswith("!") or pattern.endswith("/") or not pattern.strip("/"):
        return None
    if "**" in pattern or "[" in pattern or "\\" in pattern or pattern.startswith("#"):
        return None
    body = pattern.lstrip("/")
    directory, _, name = body.rpartition("/")
    if not directory and not pattern.startswith("/"):
        return None  # `x.js` matches at any depth
    if not name or _GLOB.search(directory) or name in (".", ".."):
        return None
    if directory and any(part in ("", ".", "..") for part in directory.split("/")):
        return None
    return directory, name


def _reach_parts(pattern: str) -> list[str] | None:
    """A positive pattern's parts as a walk follows them (`_Alive`), a pattern that
    matches at any depth starting with `**`; None if it matches nothing."""
    body = pattern.rstrip("/")
    if not body or body.startswith("#"):
        return None
    if body.startswith("/"):
        parts = body[1:].split("/")
    elif "/" in body:
        parts = body.split("/")
    else:
        parts = ["**", body]  # matches at any depth
    return None if ".." in parts else parts


def _literal(parts: list[str]) -> list[str]:
    """The parts before the first wildcard."""
    literal: list[str] = []
    for part in parts:
        if _GLOB.search(part) or "\\" in part:
            break
        literal.append(part)
    return literal


def may_overlap(a: str, b: str) -> bool:
    """Whether two positive patterns may match a common file, by their literal
    prefixes (conservative: a pattern that matches at any depth may always)."""
    parts_a, parts_b = _reach_parts(normalise(a)), _reach_parts(normalise(b))
    if parts_a is None or parts_b is None:
        return False
    prefix_a, prefix_b = _literal(parts_a), _literal(parts_b)
    shared = min(len(prefix_a), len(prefix_b))
    return prefix_a[:shared] == prefix_b[:shared]


def _part_may_match(part: str, name: str) -> bool:
    if "[" in part or "\\" in part:
        return True  # bracket expressions and escapes: not worth reading here
    return fnmatch.fnmatchcase(name, part)


# Where a positive pattern stands in a walk, per directory: (its index, its parts,
# the position of the part the next name must match or _FREE once a `**` is
# reached (any depth may follow: only its last part still says something), and
# whether it may match this directory or one above, and so every file below).
_Alive = tuple[int, list[str], int, bool]
_FREE = -1


def _start(index: int, parts: list[str]) -> _Alive:
    return (index, parts, _FREE if parts[0] == "**" else 0, False)


def _descend(alive: list[_Alive], name: str) -> list[_Alive]:
    """The patterns that can still match in or below the child directory `name`."""
    out: list[_Alive] = []
    for index, parts, pos, covers in alive:
        if covers:
            out.append((index, parts, pos, True))
        elif pos == _FREE:
            last = parts[-1]
            out.append((index, parts, pos, last == "**" or _part_may_match(last, name)))
        elif _part_may_match(parts[pos], name):
            pos += 1
            if pos == len(parts):
                out.append((index, parts, pos, True))  # it matches the directory itself
            else:
                out.append((index, parts, _FREE if parts[pos] == "**" else pos, False))
    return out


def _may_match_file(alive: list[_Alive], name: str) -> bool:
    """Whether a pattern can match the file `name` in the directory: if none can,
    it is not worth asking pathspec, which costs far more than this."""
    for _, parts, pos, covers in alive:
        if covers:
            return True
        if pos == _FREE:
            if parts[-1] == "**" or _part_may_match(parts[-1], name):
                return True
        elif pos == len(parts) - 1 and _part_may_match(parts[pos], name):
            return True
    return False


class FileTree:
    """The files under one root as walks see them.

    `listing` remembers each directory's entries, and gives them again while the
    directory's mtime, inode and ctime are unchanged and outside the racy window
    (`_racy`): the walks of many builds of one run share a tree. With `ignore`,
    git's rules for the project, what git ignores is never listed, except that a
    path a pattern names (its literal part: `build/shared` in `build/shared/**`)
    is taken even when git ignores it, as `git add -f` takes it; git's rules
    still apply below it. `unmatched` keeps, per tuple of patterns walked, those
    that matched no file. Threads may share one: at worst two of them list the
    same directory.
    """

    __slots__ = ("_listings", "ignore", "root", "unmatched")

    def __init__(self, root: str | os.PathLike[str], ignore: GitIgnore | None = None) -> None:
        self.root = os.fspath(root)
        self.ignore = ignore
        self._listings: dict[
            tuple[str, str], tuple[tuple[int, int, int, int], list[tuple[str, bool]]]
        ] = {}
        self.unmatched: dict[tuple[str, ...], tuple[str, ...]] = {}

    @classmethod
    def for_inputs(cls, root: str | os.PathLike[str], respect_gitignore: bool = True) -> FileTree:
        """The tree `inputs` are walked in: with git's rules when `respect_gitignore`
        and the project is inside a git work tree."""
        ignore = None
        if respect_gitignore:
            from ._gitignore import GitIgnore

            ignore = GitIgnore.find(root)
        return cls(root, ignore)

    def _path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root  # noqa: PTH118

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether git ignores `rel`, or a directory above it (never without `ignore`)."""
        return self.ignore is not None and self.ignore.ignored(rel, is_dir)

    def _scope(self, named: str) -> str:
        """Where git's rules start for a walk below `named`: there if git ignores
        it, else at the top as for any path ("")."""
        return named if named and self.ignored(named, True) else ""

    def kind(self, rel: str, named: bool = False) -> str | None:
        """'dir', 'file' (anything else, symlinks included) or None: missing,
        unreadable, or ignored by git (itself or a directory above it), unless
        a pattern names `rel`."""
        try:
            st = os.lstat(self._path(rel)) if rel else os.stat(self.root)  # noqa: PTH116
        except (OSError, ValueError):
            return None
        is_dir = stat.S_ISDIR(st.st_mode)
        if not named and self.ignored(rel, is_dir):
            return None
        return "dir" if is_dir else "file"

    def listing(self, rel: str, named: str = "") -> list[tuple[str, bool]]:
        """(name, is a directory) of each entry of directory `rel` (in or below
        `named`, the directory a pattern names), sorted by name; empty if it
        cannot be read or git ignores it."""
        ignore = self.ignore
        scope = self._scope(named) if ignore is not None else ""
        if ignore is not None and ignore.ignored(rel, True, scope):
            return []
        path = self._path(rel)
        recorded = time.time_ns()  # before listing: a change meanwhile shows next time
        try:
            st = os.stat(path)  # noqa: PTH116 - os-level: once per directory walked
        except (OSError, ValueError):
            return []
        cached = self._listings.get((rel, scope))
        if cached is not None:
            (mtime_ns, ino, ctime_ns, when), entries = cached
            if vouches(st, mtime_ns, ino, ctime_ns, when):
                return entries
        try:
            with os.scandir(path) as found:
                raw = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in found]
        except OSError:
            return []
        raw.sort()
        prefix = f"{rel}/" if rel else ""
        entries = [
            (name, is_dir)
            for name, is_dir in raw
            if not (is_dir and name in _NEVER_WALKED)
            and (ignore is None or not ignore.ignored(prefix + name, is_dir, scope))
        ]
        facts = (st.st_mtime_ns, st.st_ino, st.st_ctime_ns, recorded)
        self._listings[(rel, scope)] = (facts, entries)
        return entries

    def below(self, rel: str, named: str = "") -> list[str]:
        """Every file in or below directory `rel` (in or below `named`: see `listing`)."""
        out: list[str] = []
        stack = [rel]
        while stack:
            directory = stack.pop()
            for name, is_dir in self.listing(directory, named):
                child = f"{directory}/{name}" if directory else name
                if is_dir:
                    stack.append(child)
                else:
                    out.append(child)
        return out


class PatternSet:
    """A list of gitignore-style patterns, matched against paths relative to a root."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._normal = tuple(normalise(p) for p in self.patterns)
        simple = [_simple(p) for p in self._normal]
        self._simple: list[tuple[str, str]] | None = (
            None if any(x is None for x in simple) else [x for x in simple if x is not None]
        )
        self._compiled: object | None = None

    @property
    def _spec(self) -> object:
        if self._compiled is None:
            import pathspec

            self._compiled = pathspec.GitIgnoreSpec.from_lines(self._normal)
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

    def _bases(self, tree: FileTree) -> list[str]:
        """Where to walk from: the literal prefix of each positive pattern, but for
        those inside another's, unless git ignores it (a pattern that names an
        ignored directory is walked from there, with git's rules from there on)."""
        bases: set[str] = set()
        for pattern in self._normal:
            parts = _reach_parts(pattern) if not pattern.startswith("!") else None
            if parts is None:
                continue
            bases.add("/".join(_literal(parts)))
        kept: list[str] = []
        for base in sorted(bases):
            inside = any(k == "" or base.startswith(k + "/") for k in kept)
            # An ignored file and an ignored directory alike: either way, it is named.
            if not inside or tree.ignored(base, True) or tree.ignored(base, False):
                kept.append(base)
        return kept

    def files(self, root: str | os.PathLike[str], tree: FileTree | None = None) -> list[str]:
        """Sorted relative POSIX paths of the files (and symlinks) under `root` that
        match, walked in `tree` (which must be of `root`; default: a tree of its own).
        The patterns that matched none of them are left in `tree.unmatched`."""
        if tree is None:
            tree = FileTree(root)
        found: set[str] = set()
        if self._simple is not None:
            unmatched = self._simple_files(tree, found)
        else:
            unmatched = self._walk(tree, found)
        files = sorted(found)
        tree.unmatched[self.patterns] = tuple(self.patterns[i] for i in unmatched)
        return files

    def _walk(self, tree: FileTree, found: set[str]) -> list[int]:
        """The general walk; returns the indices of positive patterns that matched nothing."""
        check = self._spec.check_file  # type: ignore[attr-defined]
        positives = [
            (i, parts)
            for i, p in enumerate(self._normal)
            if not p.startswith("!") and (parts := _reach_parts(p)) is not None
        ]
        # A `!dir/**` excludes every file below a directory it matches, and no
        # pattern before it can take one back (pathspec's rule: a pattern matching
        # the file itself beats one that matches a directory above it).
        excluders = []
        for index, pattern in enumerate(self._normal):
            if pattern.startswith("!") and pattern.endswith("/**"):
                import pathspec

                excluders.append((pathspec.GitIgnoreSpec.from_lines([pattern[1:]]), index))
        decided: set[int] = set()
        root_alive = [_start(i, parts) for i, parts in positives]

        def enter(rel: str, alive: list[_Alive]) -> bool:
            """Whether a walk enters `rel`, where `alive` can still match."""
            return bool(alive) and not any(
                spec.match_file(rel + "/") and not any(a[0] > index for a in alive)
                for spec, index in excluders
            )

        for base in self._bases(tree):
            kind = tree.kind(base, named=True)
            if kind == "file":
                result = check(base)
                if result.include:
                    found.add(base)
                    decided.add(result.index)
                continue
            alive = root_alive
            for name in base.split("/") if base else ():
                alive = _descend(alive, name)
            if kind is None or (base and not enter(base, alive)):
                continue
            stack = [(base, alive)]
            while stack:
                directory, alive = stack.pop()
                for name, is_dir in tree.listing(directory, base):
                    child = f"{directory}/{name}" if directory else name
                    if is_dir:
                        below = _descend(alive, name)
                        if enter(child, below):
                            stack.append((child, below))
                    elif _may_match_file(alive, name):
                        result = check(child)
                        if result.include:
                            found.add(child)
                            decided.add(result.index)
        return self._undecided([i for i, _ in positives if i not in decided], found)

    def _undecided(self, indices: list[int], found: set[str]) -> list[int]:
        """Of positive patterns that decided no file, those that match none found:
        a file may have matched one and been decided by a later one."""
        if not indices or not found:
            return indices
        import pathspec

        out = []
        for index in indices:
            single = pathspec.GitIgnoreSpec.from_lines([self._normal[index]])
            if not any(single.match_file(f) for f in found):
                out.append(index)
        return out

    def _simple_files(self, tree: FileTree, seen: set[str]) -> list[int]:
        """What gitignore matching gives for simple patterns: the directory's entries
        whose names match, and everything below an entry that is a directory."""
        unmatched = []
        assert self._simple is not None
        for index, (directory, name) in enumerate(self._simple):
            before = len(seen)
            prefix = f"{directory}/" if directory else ""
            if not _GLOB.search(name):
                # A literal path: one lstat, not a scan of a directory of thousands.
                rel = prefix + name
                kind = tree.kind(rel, named=True)
                if kind == "file":
                    seen.add(rel)
                elif kind == "dir" and name not in _NEVER_WALKED:
                    seen.update(tree.below(rel, rel))
            else:
                for entry, is_dir in tree.listing(directory, directory):
                    if not fnmatch.fnmatchcase(entry, name):
                        continue
                    if is_dir:
                        seen.update(tree.below(prefix + entry, directory))
                    else:
                        seen.add(prefix + entry)
            if len(seen) == before and not any(
                f.startswith(prefix) and fnmatch.fnmatchcase(f[len(prefix) :].split("/")[0], name)
                for f in seen
            ):
                unmatched.append(index)
        return unmatched
