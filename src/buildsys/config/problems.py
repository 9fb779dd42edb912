"""The problems found in one builds.toml, each placed at the line where its key is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._toml import describe
from ..errors import Problem
from ._locate import KeyLines, quick_line

if TYPE_CHECKING:
    from .model import BuildConfig

__all__ = ["ProblemLog", "owner"]


def owner(build: str, at: Sequence[str]) -> str | None:
    """The build to name in a problem of a value written at `at`: None for [defaults]
    and for a workspace's own table, whose values every member shares (one problem,
    not one per build); `build` otherwise."""
    if at and at[0] == "defaults":
        return None
    if len(at) >= 2 and at[0] == "workspaces" and (len(at) < 3 or at[2] != "overrides"):
        return None
    return build


class ProblemLog:
    """Problems of the file `display` with text `text`, each reported once."""

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.text = text
        self.problems: list[Problem] = []
        self._seen: set[str] = set()
        # Lines are scanned only once there is a problem to place (see _locate).
        self._lines: KeyLines | None = None
        self._quick_lines: dict[tuple[tuple[str, ...], str], int | None] = {}
        # Builds that are written as workspace members: the tables their keys come
        # from, most specific first (`[workspaces.js.overrides.ui]`, `[workspaces.js]`).
        self.tables: dict[str, tuple[tuple[str, ...], ...]] = {}

    def add(
        self, message: str, *, at: Sequence[str], build: str | None = None, key: str | None = None
    ) -> None:
        found = Problem(message, file=self.display, line=self.line(*at), build=build, key=key)
        text = str(found)
        if text not in self._seen:
            self._seen.add(text)
            self.problems.append(found)

    def table(self, value: Any, at: tuple[str, ...], build: str | None = None) -> dict[str, Any]:
        """`value` if it is a table; otherwise a problem, and an empty table."""
        if isinstance(value, dict):
            return value
        # The key is what follows the build's own path: e.g. 'profiles.release'.
        key = ".".join(at[2:]) if build is not None else ".".join(at)
        self.add(f"expected a table, got {describe(value)}", at=at, build=build, key=key or None)
        return {}

    # -- where keys are written ------------------------------------------------

    def line(self, *path: str) -> int | None:
        return self._key_lines().line(*path)

    def has(self, *path: str) -> bool:
        return self._key_lines().has(*path)

    def quick_line(self, table: tuple[str, ...], key: str) -> int | None:
        """The line of `key` under `[table]`, cheap enough for every load (see _locate)."""
        found = self._quick_lines.get((table, key), -1)
        if found == -1:
            found = self._quick_lines[(table, key)] = quick_line(self.text, table, key)
        return found

    def at_key(self, build: BuildConfig, key: str) -> tuple[str, ...]:
        """Where `key` of `build` is written: its profile, its table or [defaults]."""
        if build.profile is not None:
            at = ("builds", build.name, "profiles", build.profile, key)
            if self.has(*at):
                return at
        if self.has("builds", build.name, key):
            return ("builds", build.name, key)
        tables = self.tables.get(build.name, ())
        for table in tables:
            if self.has(*table, key):
                return (*table, key)
        if self.has("defaults", key):
            return ("defaults", key)
        return tables[-1] if tables else ("builds", build.name)

    def _key_lines(self) -> KeyLines:
        if self._lines is None:
            self._lines = KeyLines(self.text)
        return self._lines
