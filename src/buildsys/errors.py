"""Exceptions: the ones builders raise and the one the CLI turns into exit code 2."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._converters import strs

__all__ = ["BuildFailed", "ConfigError", "Problem", "UsageError"]


class BuildFailed(Exception):
    """Raised by a builder (or any callable run by buildsys) to fail its build.

    The message and suggestions reach the person reading the report as they are,
    so write them for that person: what went wrong and what to do about it.
    """

    def __init__(
        self,
        message: str,
        suggestions: Iterable[str] = (),
        *,
        code: str = "BUILD_FAILED",
        transient: bool = False,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = strs(suggestions)  # one str is one hint, not its letters
        self.code = code
        self.transient = transient
        self.context = dict(context or {})


@attrs.frozen
class Problem:
    """One located error in a configuration file."""

    message: str
    file: str
    line: int | None = None
    column: int | None = None
    build: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = []
        if self.build is not None:
            subject.append(f"build {self.build!r}")
        if self.key is not None:
            subject.append(f"key {self.key!r}")
        prefix = f"{where}: " + (", ".join(subject) + ": " if subject else "")
        return prefix + self.message


class ConfigError(Exception):
    """A `builds.toml` that cannot be run; carries every problem found in one pass."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """A command line that cannot be run (unknown build name, conflicting options)."""
