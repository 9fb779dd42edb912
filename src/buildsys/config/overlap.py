"""Whether the `outputs` of two builds can name the same file, judged from their patterns alone."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from .model import BuildConfig
from .problems import ProblemLog

__all__ = ["check_outputs"]

_GLOB_CHARS = re.compile(r"[*?\[]")


def check_outputs(builds: Sequence[BuildConfig], log: ProblemLog) -> None:
    """Report each pair of builds whose `outputs` can name the same file."""
    # Two patterns can only overlap when one's literal directory prefix
    # holds the other's, so each pattern is compared only with earlier
    # ones filed under an ancestor of its prefix (`exact`) or under its
    # prefix or a descendant of it (`below`), not with every other.
    # Each entry: the build, the pattern as compared, as read (`normalise`: `./x`
    # is `x`, `/x` is anchored), and as written (for the message).
    from .patterns import normalise

    Entry = tuple[BuildConfig, str, str, str]
    exact: dict[tuple[str, ...], list[Entry]] = {}
    below: dict[tuple[str, ...], list[Entry]] = {}
    read_outputs = {b.name: [normalise(p) for p in b.outputs or ()] for b in builds}
    for build in builds:
        mine: list[tuple[tuple[str, ...], str, str, str]] = []
        outputs = read_outputs[build.name]
        for written, read in zip(build.outputs or (), outputs, strict=True):
            if read.startswith("!"):
                continue
            # As gitignore reads it: `app.js` or `dist` without a slash is at any depth.
            pattern = f"**/{read}" if _floats(read) else read
            prefix = tuple(_literal_prefix(pattern)[0])
            candidates = [
                *(e for end in range(len(prefix)) for e in exact.get(prefix[:end], ())),
                *below.get(prefix, ()),
            ]
            for other, other_pattern, other_read, other_written in candidates:
                if (
                    other.name != build.name
                    and (
                        _floating_overlap(read, other_read)
                        if _floats(read) or _floats(other_read)
                        else _patterns_overlap(pattern, other_pattern)
                    )
                    and not _leaves_out(outputs, other_read)
                    and not _leaves_out(read_outputs[other.name], read)
                ):
                    log.add(
                        f"outputs {written!r} overlap outputs {other_written!r} of build "
                        f"{other.name!r}; two builds must not write the same files",
                        at=log.at_key(build, "outputs"),
                        build=build.name,
                        key="outputs",
                    )
            mine.append((prefix, pattern, read, written))
        for prefix, pattern, read, written in mine:
            entry = (build, pattern, read, written)
            exact.setdefault(prefix, []).append(entry)
            for end in range(len(prefix) + 1):
                below.setdefault(prefix[:end], []).append(entry)


def _literal_prefix(pattern: str) -> tuple[list[str], str | None]:
    """The directory parts before the first glob, and the rest (None if no glob)."""
    parts = posixpath.normpath(pattern.strip("/")).split("/")
    for i, part in enumerate(parts):
        if _GLOB_CHARS.search(part):
            return parts[:i], "/".join(parts[i:])
    return parts, None


def _patterns_overlap(a: str, b: str) -> bool:
    """Whether two output patterns can match a common file (conservative, by literal prefix)."""
    prefix_a, rest_a = _literal_prefix(a)
    prefix_b, rest_b = _literal_prefix(b)
    short, long_ = sorted([prefix_a, prefix_b], key=len)
    if long_[: len(short)] != short:
        return False
    if rest_a is None and rest_b is None:
        return True  # the same path, or one inside the other
    # Both end in distinct literal extensions (dist/*.js vs dist/*.css): no common file.
    ext_a = _literal_suffix(rest_a)
    ext_b = _literal_suffix(rest_b)
    if ext_a and ext_b and not (ext_a.endswith(ext_b) or ext_b.endswith(ext_a)):
        return False
    if rest_a is None or rest_b is None:
        literal_parts, glob_prefix = (
            (prefix_a, prefix_b) if rest_a is None else (prefix_b, prefix_a)
        )
        if len(literal_parts) <= len(glob_prefix):
            return True  # the literal is a directory holding everything the glob matches
        literal, pattern = (a, b) if rest_a is None else (b, a)
        return _glob_matches(pattern, literal)
    return True


def _floating_overlap(a: str, b: str) -> bool:
    """`_patterns_overlap` where one pattern has no slash and so names a file or
    directory at any depth: they overlap when that name can be one of the
    other's path components, or its file name."""
    name, other = (a, b) if _floats(a) else (b, a)
    name = name.rstrip("/")
    if _floats(other):
        return _names_overlap(name, other.rstrip("/"))
    *dirs, last = posixpath.normpath(other.strip("/")).split("/")
    if last == "**":
        return True  # any file below: one named `name` among them
    # Glob directories (`**`, `*`) are left out: a name there would be a
    # directory called like a file (`x.map/`), and reporting that is noise.
    return _names_overlap(name, last) or any(
        _names_overlap(name, part) for part in dirs if not _GLOB_CHARS.search(part)
    )


def _names_overlap(a: str, b: str) -> bool:
    """Whether two single path components (each literal or a glob) can name the same."""
    import fnmatch

    a_glob, b_glob = bool(_GLOB_CHARS.search(a)), bool(_GLOB_CHARS.search(b))
    if not a_glob or not b_glob:
        literal, other = (a, b) if not a_glob else (b, a)
        return fnmatch.fnmatchcase(literal, other)
    ext_a, ext_b = _literal_suffix(a), _literal_suffix(b)
    return not (ext_a and ext_b and not (ext_a.endswith(ext_b) or ext_b.endswith(ext_a)))


def _leaves_out(patterns: Sequence[str], pattern: str) -> bool:
    """Whether `patterns` exclude every file `pattern` can match, so that they
    cannot overlap it.

    Only the common case is understood: a `!dir/**` with a literal `dir`, which
    excludes every file below `dir`, and that no later pattern takes files back
    from. Other exclusions (`!**/*.map`, `!x/*/keep/**`, and `!dir`, which
    pathspec applies below dir or not depending on the pattern it undoes) are
    ignored: an overlap they would remove is still reported, never the reverse.
    """
    parts = _literal_prefix(pattern)[0]
    for index, negated in enumerate(patterns):
        subtree = _excluded_subtree(negated)
        # `pattern` equal to `dir` counts as inside it: `!dir/**` says dir is a directory.
        if subtree is None or tuple(parts[: len(subtree)]) != subtree or _floats(pattern):
            continue
        later = patterns[index + 1 :]
        if not any(not p.startswith("!") and _may_reach(p, subtree) for p in later):
            return True
    return False


def _excluded_subtree(pattern: str) -> tuple[str, ...] | None:
    """For `!dir/**` with a literal dir, dir's parts (every file below it is excluded)."""
    if not pattern.startswith("!"):
        return None
    prefix, rest = _literal_prefix(pattern[1:])
    return tuple(prefix) if rest == "**" else None


def _floats(pattern: str) -> bool:
    """A pattern with no slash but a trailing one (`*.js`, `dist`) matches at any depth."""
    return "/" not in pattern.rstrip("/")


def _may_reach(pattern: str, subtree: tuple[str, ...]) -> bool:
    """Whether `pattern` could match a file below `subtree` (conservative)."""
    if _floats(pattern):
        return True
    prefix = tuple(_literal_prefix(pattern)[0])
    shared = min(len(prefix), len(subtree))
    return prefix[:shared] == subtree[:shared]


def _literal_suffix(rest: str | None) -> str:
    if rest is None:
        return ""
    last = rest.rsplit("/", 1)[-1]
    match = re.search(r"[*?\]]([^*?\[\]]*)\Z", last)
    return match.group(1) if match else ""


def _glob_matches(pattern: str, path: str) -> bool:
    from .patterns import PatternSet

    spec = PatternSet([pattern])
    return spec.matches(path) or spec.matches(path.rstrip("/") + "/x")
