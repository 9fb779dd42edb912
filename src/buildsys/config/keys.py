"""The keys builds.toml takes, each with the converter that checks its value,
and the "did you mean" that names a close key when one is misspelt."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .._converters import timeout_seconds
from .._durations import parse_duration
from .._toml import describe, literal
from ..host.facts import KNOWN_OS

__all__ = [
    "ALL_BUILD_KEYS",
    "BUILD_KEYS",
    "NAME_RE",
    "NEAR_MISS",
    "RUN_KEYS",
    "STRATEGIES",
    "TOP_LEVEL",
    "WORKSPACE_KEYS",
    "Invalid",
    "did_you_mean",
    "str_list",
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
STRATEGIES = ("parallel", "stop-on-failure")
TOP_LEVEL = ("run", "defaults", "builds", "workspaces")
# Keys of a [workspaces.<name>] table besides build keys and platform options.
WORKSPACE_KEYS = ("root", "members", "exclude", "overrides")


def did_you_mean(word: str, candidates: Sequence[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest candidate (difflib's ratio at least
    `cutoff`), or ''."""
    normalised = {c.replace("_", "-").lower(): c for c in candidates}
    import difflib  # only when there is a mistake to explain

    close = difflib.get_close_matches(word.replace("_", "-").lower(), list(normalised), 1, cutoff)
    return f" (did you mean {normalised[close[0]]!r}?)" if close else ""


# How close an unchecked key must be to a core key to be called a typo of it:
# `timout`, `tag`, `input`, `dependson` are; `target`, `tasks` are not.
NEAR_MISS = 0.8


class Invalid(Exception):
    """A value that does not fit its key; each message completes 'key: ...'."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {describe(value)}")
    return value


def str_list(value: Any, what: str = "strings") -> tuple[str, ...]:
    """An array of strings; `Invalid` otherwise."""
    return _str_list(value, what)


def _str_list(value: Any, what: str = "strings") -> tuple[str, ...]:
    if isinstance(value, str):
        raise Invalid(f"expected an array of {what}, got {describe(value)}; write [{value!r}]")
    if not isinstance(value, list):
        raise Invalid(f"expected an array of {what}, got {describe(value)}")
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f"expected an array of {what}, but it holds {describe(item)}")
    return tuple(value)


_NUL = "contains a NUL character, which no file system allows in a path"


def _path(value: Any) -> str:
    """A path: a string the file system can take."""
    text = _str(value)
    if "\x00" in text:
        raise Invalid(_NUL)
    return text


def _directory(value: Any) -> str:
    text = _path(value)
    if not text.strip():
        raise Invalid('is empty; name a directory, such as ".buildsys/cache"')
    return text


def _patterns(value: Any) -> tuple[str, ...]:
    from .patterns import pattern_problem

    patterns = _str_list(value, "patterns")
    messages = [
        f"pattern {pattern!r} {problem}"
        for pattern in patterns
        if (problem := pattern_problem(pattern)) is not None
    ]
    if messages:  # each of them, as unknown `depends-on` names are
        raise Invalid(*messages)
    return patterns


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {describe(value)}")
    return value


def _count(value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number, got {describe(value)}")
    if value < minimum:
        raise Invalid(f"expected a number of at least {minimum}, got {value}")
    return value


def _checked(check: Callable[[Any], float]) -> Callable[[Any], float]:
    """`check`, its ValueError (a message fit for a config error) made `Invalid`."""

    def convert(value: Any) -> float:
        try:
            return check(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    return convert


def _env_names(value: Any) -> tuple[str, ...]:
    names = _str_list(value, "variable names")
    for name in names:
        if not _ENV_NAME.match(name):
            raise Invalid(f"{name!r} is not a valid environment variable name")
    return names


def _env_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid(
            'expected a table of strings such as { NODE_ENV = "production" }, '
            f"got {describe(value)}"
        )
    for key, item in value.items():
        if not _ENV_NAME.match(key):
            raise Invalid(f"{key!r} is not a valid environment variable name")
        if not isinstance(item, str):
            raise Invalid(
                f'{key} must be a string, got {describe(item)}; quote it: {key} = "{literal(item)}"'
            )
    return dict(value)


# SPEC reads `macos` as `darwin`, and no other alias: a name outside the
# contract is refused, so every tool reading builds.toml agrees on its meaning.
_OS_ALIASES = {"macos": "darwin"}
# Aliases accepted before SPEC was followed, now refused with the name to write.
_OS_HINTS = {"osx": "darwin", "mac": "darwin", "win32": "windows"}


def _os_list(value: Any) -> tuple[str, ...]:
    names = _str_list(value, "OS names")
    out: list[str] = []
    unknown: list[str] = []
    for name in names:
        lowered = _OS_ALIASES.get(name.lower(), name.lower())
        if lowered in KNOWN_OS:
            out.append(lowered)
            continue
        hint = _OS_HINTS.get(lowered)
        unknown.append(
            f"unknown OS {name!r}"
            + (f" (did you mean {hint!r}?)" if hint else did_you_mean(name, [*KNOWN_OS, "macos"]))
            + f"; use {', '.join(KNOWN_OS)} (macos means darwin)"
        )
    if unknown:  # every one of them, as unknown `depends-on` names are
        raise Invalid(*unknown)
    return tuple(out)


def _strategy(value: Any) -> str:
    text = _str(value)
    if text not in STRATEGIES:
        raise Invalid(
            f"unknown strategy {text!r}{did_you_mean(text, STRATEGIES)}; "
            f"use one of {', '.join(STRATEGIES)}"
        )
    return text


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?", re.IGNORECASE)


def _size(value: Any) -> int:
    """Bytes: a whole number, or "500MB", "2GiB", "1.5g"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f'expected a size such as "500MB" or "2GiB", got {describe(value)}')
    unit = (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    power = "bkmgt".index(unit[0]) if unit else 0
    size = int(float(match.group(1)) * base**power)
    if size <= 0:
        raise Invalid(f"expected a size above zero, got {describe(value)}")
    return size


# Per-build keys; `profiles` is handled apart. Values: validator.
BUILD_KEYS: dict[str, Callable[[Any], Any]] = {
    "platform": _str,
    "depends-on": lambda v: _str_list(v, "build names"),
    "timeout": _checked(timeout_seconds),
    "retries": _count,
    "cwd": _path,
    "env": _env_table,
    "key-env": _env_names,
    "secret-env": _env_names,
    "inputs": _patterns,
    "outputs": _patterns,
    "requires-os": _os_list,
    "skip-if-unavailable": _bool,
    "tags": _str_list,
}
RUN_KEYS: dict[str, Callable[[Any], Any]] = {
    "strategy": _strategy,
    "max-concurrency": lambda v: _count(v, 1),
    "timeout": _checked(timeout_seconds),
    "kill-grace": _checked(parse_duration),  # 0 is valid: SIGKILL right after SIGTERM
    "retries": _count,
    "cache": _bool,
    "cache-dir": _directory,
    "cache-max-size": _size,
    "inputs-respect-gitignore": _bool,
}
ALL_BUILD_KEYS = (*BUILD_KEYS, "profiles")
