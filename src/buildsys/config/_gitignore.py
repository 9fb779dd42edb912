"""git's ignore rules, read as git reads them, for walks of `inputs`.

A project is inside a git work tree when its directory, or one above it, holds
`.git`: a directory, or a file saying `gitdir: PATH` (a linked worktree, a
submodule). Its `inputs` then leave out what git ignores there, as git decides
it: every `.gitignore` speaks of paths relative to its own directory; a deeper
file's patterns take precedence over a shallower one's, and `.gitignore` files
over `$GIT_DIR/info/exclude`; within one file the last pattern that matches
decides, a `!` pattern re-including; a pattern ending in `/` matches only
directories; and a path inside an ignored directory stays ignored whatever any
pattern says of it, since git never looks inside such a directory.

The patterns are compiled here, to regular expressions matched against the
whole path, not with pathspec's `GitIgnoreSpec`: that one matches a pattern
against a path or any directory above it, which is how `inputs` patterns are
read, but for `*` followed by `!*/` it calls `src/` ignored where git
re-includes it. Nothing here runs git. `core.excludesFile` (one person's
global ignores) is not read: a project's inputs must not depend on it.
Patterns are case-sensitive, as git's are unless `core.ignorecase` is set.

What was read, and where a file was looked for and not found, is kept as
`probes`: `replay` checks them by `lstat` to know the rules are unchanged.
"""

from __future__ import annotations

import os
import re
import stat
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["GitIgnore", "compile_line", "strip_trailing_spaces"]

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}


class _Malformed(Exception):
    """A pattern git's wildmatch gives up on: it matches nothing."""


def _bracket(text: str, start: int) -> tuple[str, int]:
    """The regex for the bracket expression opening at `text[start]`, and the index
    after it. Like wildmatch's, it never matches `/`."""
    i = start + 1
    negated = i < len(text) and text[i] in "!^"
    if negated:
        i += 1
    items: list[str] = []
    first = True
    while True:
        if i >= len(text):
            raise _Malformed  # no closing bracket
        char = text[i]
        if char == "]" and not first:
            i += 1
            break
        first = False
        if char == "[" and text.startswith("[:", i):
            end = text.find(":]", i + 2)
            if end < 0:
                raise _Malformed
            name = text[i + 2 : end]
            if name not in _POSIX_CLASSES:
                raise _Malformed
            items.append(_POSIX_CLASSES[name])
            i = end + 2
            continue
        if char == "\\":
            i += 1
            if i >= len(text):
                raise _Malformed
            char = text[i]
        low = char
        i += 1
        if i + 1 < len(text) and text[i] == "-" and text[i + 1] != "]":
            high = text[i + 1]
            i += 2
            if high == "\\":
                if i >= len(text):
                    raise _Malformed
                high = text[i]
                i += 1
            if low <= high:  # a reversed range matches nothing, as in wildmatch
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            continue
        items.append(re.escape(low))
    body = "".join(items)
    if negated:
        return f"[^/{body}]", i
    return (f"(?!/)[{body}]" if body else "(?!)"), i


def _component(text: str) -> str:
    """The regex for one path component of a pattern (no `/` in it)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*":
            while i < len(text) and text[i] == "*":
                i += 1  # `a**b` is `a*b`: only a whole component `**` spans directories
            out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, i = _bracket(text, i)
            out.append(regex)
            continue
        elif char == "\\":
            i += 1
            if i >= len(text):
                raise _Malformed  # a trailing backslash
            out.append(re.escape(text[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def strip_trailing_spaces(line: str) -> str:
    """Trailing spaces go, unless escaped with a backslash (git's rule)."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        if end >= 2 and line[end - 2] == "\\":
            break
        end -= 1
    return line[:end]


def compile_line(line: str) -> tuple[str, bool, bool] | None:
    """One line of a .gitignore as (regex over a whole relative path, negated,
    directories only), or None for a blank line, a comment, or one that matches nothing."""
    line = strip_trailing_spaces(line.rstrip("\r"))
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    # A slash at the start or in the middle anchors the pattern to its file's directory.
    anchored = "/" in line
    parts = line.lstrip("/").split("/")
    try:
        regex = "" if anchored else "(?:.*/)?"
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "**":
                regex += ".+" if last else "(?:.*/)?"
            else:
                regex += _component(part) + ("" if last else "/")
    except _Malformed:
        return None
    return regex, negated, dir_only


class _Rules:
    """The patterns of one ignore file, as two alternations (last pattern first):
    one for directories, one for everything else."""

    __slots__ = ("_dirs", "_dirs_negated", "_files", "_files_negated")

    def __init__(self, text: str) -> None:
        compiled = [c for c in map(compile_line, text.split("\n")) if c is not None]
        compiled.reverse()  # alternation takes the first that matches: the file's last
        self._dirs, self._dirs_negated = self._join(compiled)
        self._files, self._files_negated = self._join([c for c in compiled if not c[2]])

    @staticmethod
    def _join(
        compiled: list[tuple[str, bool, bool]],
    ) -> tuple[Callable[[str], re.Match[str] | None] | None, list[bool]]:
        if not compiled:
            return None, []
        regex = "|".join(f"({c[0]})" for c in compiled)
        try:
            matcher = re.compile(regex, re.DOTALL).fullmatch
        except (re.error, RecursionError, OverflowError):  # pragma: no cover - escaped above
            return None, []
        return matcher, [c[1] for c in compiled]

    def verdict(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a `!` pattern; None: no pattern matches."""
        matcher, negated = (
            (self._dirs, self._dirs_negated) if is_dir else (self._files, self._files_negated)
        )
        if matcher is None:
            return None
        found = matcher(path)
        if found is None:
            return None
        assert found.lastindex is not None
        return not negated[found.lastindex - 1]


def _read(path: str, probes: dict[str, list[object]]) -> str | None:
    """The text of an ignore file, or None if there is none; what was seen goes to `probes`."""
    import hashlib

    recorded = time.time_ns()  # before reading, as the stat memo takes it
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | _O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        probes[path] = ["absent", path]
        return None
    except (OSError, ValueError):
        # A directory, a symlink (git does not follow a symlinked .gitignore),
        # unreadable: nothing is read, and a replay checks it by content, so
        # that it always hands the run to the engine, which looks again.
        probes[path] = ["file", path, "", -1, 0, 0, 0, 0]
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            probes[path] = ["file", path, "", -1, 0, 0, 0, 0]
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    probes[path] = [
        "file",
        path,
        hashlib.sha256(data).hexdigest(),
        len(data),
        st.st_mtime_ns,
        st.st_ino,
        st.st_ctime_ns,
        recorded,
    ]
    return data.decode("utf-8", "surrogateescape")


def _find_top(root: str, probes: dict[str, list[object]]) -> tuple[str, str | None] | None:
    """The work tree holding `root` (its top directory and git directory), or None."""
    directory = root
    while True:
        marker = os.path.join(directory, ".git")  # noqa: PTH118
        try:
            st = os.lstat(marker)
        except (OSError, ValueError):
            probes[marker] = ["absent", marker]
        else:
            if stat.S_ISDIR(st.st_mode):
                probes[marker] = ["dir", marker]
                return directory, marker
            text = _read(marker, probes)
            if text is not None and text.startswith("gitdir:"):
                target = text[len("gitdir:") :].strip()
                return directory, os.path.join(directory, target)  # noqa: PTH118
            return directory, None  # not a git file git could use: .gitignore files only
        parent = os.path.dirname(directory)  # noqa: PTH120
        if parent == directory:
            return None
        directory = parent


class GitIgnore:
    """Whether git ignores a path of one project, by the rules of its work tree.

    Paths are relative to the project's root, POSIX-style. Each `.gitignore` is
    read once, when a path below its directory is first asked about, and each
    directory's verdict is remembered: a run asks about thousands of paths.
    Threads may share one: at worst two of them read the same file.
    """

    __slots__ = ("_dirs", "_exclude", "_levels", "_prefix", "_top", "probes")

    def __init__(
        self, top: str, root: str, exclude_file: str | None, probes: dict[str, list[object]]
    ) -> None:
        self._top = top
        rel = os.path.relpath(root, top)
        self._prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        self.probes = probes
        self._levels: dict[str, _Rules | None] = {}
        self._dirs: dict[str, bool] = {}
        self._exclude: _Rules | None = None
        if exclude_file is not None:
            text = _read(exclude_file, probes)
            self._exclude = _Rules(text) if text else None

    @classmethod
    def find(cls, root: str | os.PathLike[str]) -> GitIgnore | None:
        """The rules for the project at `root`, or None outside a git work tree."""
        root = os.path.abspath(root)  # noqa: PTH100
        probes: dict[str, list[object]] = {}
        found = _find_top(root, probes)
        if found is None:
            return None
        top, git_dir = found
        exclude_file = None
        if git_dir is not None:
            # A linked worktree's git directory names the repository's in `commondir`.
            common = _read(os.path.join(git_dir, "commondir"), probes)  # noqa: PTH118
            base = os.path.join(git_dir, common.strip()) if common else git_dir  # noqa: PTH118
            exclude_file = os.path.join(base, "info", "exclude")  # noqa: PTH118
        return cls(top, root, exclude_file, probes)

    def ignored(self, rel: str, is_dir: bool, scope: str = "") -> bool:
        """Whether git ignores `rel` (a directory if `is_dir`), or a directory above it.

        With `scope`, a directory `rel` is in or below, that directory and those
        above it count as not ignored: only the rules below it decide (a pattern
        that names an ignored directory asks for what is in it).
        """
        path = self._path(rel)
        if scope:
            top = self._path(scope)
            if path == top:
                return False
            return self._dir_ignored(path.rpartition("/")[0], top) or self._decide(path, is_dir)
        if is_dir:
            return self._dir_ignored(path)
        return self._dir_ignored(path.rpartition("/")[0]) or self._decide(path, False)

    def _path(self, rel: str) -> str:
        return self._prefix + rel if rel else self._prefix[:-1]

    def _dir_ignored(self, path: str, scope: str | None = None) -> bool:
        if not path or path == scope:
            return False  # the work tree's top, or the scope's
        key = path if scope is None else f"{scope}\0{path}"
        found = self._dirs.get(key)
        if found is None:
            found = self._dir_ignored(path.rpartition("/")[0], scope) or self._decide(path, True)
            self._dirs[key] = found
        return found

    def _decide(self, path: str, is_dir: bool) -> bool:
        """The verdict of the patterns about `path` itself, its directories set aside."""
        level = path.rpartition("/")[0]
        while True:
            rules = self._rules(level)
            if rules is not None:
                verdict = rules.verdict(path[len(level) + 1 :] if level else path, is_dir)
                if verdict is not None:
                    return verdict
            if not level:
                break
            level = level.rpartition("/")[0]
        if self._exclude is not None:
            verdict = self._exclude.verdict(path, is_dir)
            if verdict is not None:
                return verdict
        return False

    def _rules(self, level: str) -> _Rules | None:
        if level in self._levels:
            return self._levels[level]
        path = os.path.join(self._top, level, ".gitignore")  # noqa: PTH118
        text = _read(path, self.probes)
        rules = _Rules(text) if text else None
        self._levels[level] = rules
        return rules
