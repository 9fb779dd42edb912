"""The validated builds.toml as frozen objects: `Config`, its `RunSettings` and `BuildConfig`s."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ._locate import KeyLines

__all__ = ["BuildConfig", "Config", "RunSettings"]


@attrs.frozen
class RunSettings:
    """The `[run]` table."""

    strategy: str = "parallel"
    max_concurrency: int | None = None
    timeout: float | None = None
    kill_grace: float = 5.0
    retries: int = 0
    cache: bool = True
    cache_dir: str | None = None  # default: .buildsys/cache; may be shared between projects
    cache_max_size: int | None = None  # bytes; least recently used entries go first
    # Inside a git work tree, `inputs` leave out what git ignores (see _gitignore).
    inputs_respect_gitignore: bool = True


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class BuildConfig:
    """One build as configured: defaults applied, and a profile if `profile` is set."""

    name: str
    platform: str
    depends_on: tuple[str, ...] = ()
    timeout: float | None = None
    # Where the effective timeout is set, so a timed-out build says where to raise it.
    timeout_source: str | None = None
    retries: int | None = None
    cwd: str = "."
    env: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    key_env: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    requires_os: tuple[str, ...] | None = None
    skip_if_unavailable: bool = False
    tags: tuple[str, ...] = ()
    options: Any = None
    profile: str | None = None
    profiles: Mapping[str, BuildConfig] = attrs.field(factory=dict, converter=_frozen)
    # Set when the plugin providing the platform failed to load: the build fails, alone.
    broken: str | None = None
    # For a member of a [workspaces.<name>] table: that name, and its package name.
    workspace: str | None = None
    package: str | None = None

    def for_profile(self, profile: str | None) -> BuildConfig:
        if profile is None:
            return self
        return self.profiles.get(profile, self)


@attrs.frozen(slots=False)  # slots=False: lets functools.cached_property store the index
class Config:
    """A validated builds.toml."""

    path: Path
    display_path: str
    run: RunSettings
    builds: tuple[BuildConfig, ...]

    @property
    def root(self) -> Path:
        """The directory holding builds.toml: paths in it are relative to this."""
        return self.path.parent

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.builds)

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(sorted({p for b in self.builds for p in b.profiles}))

    def get(self, name: str) -> BuildConfig:
        """The build named `name` (no profile applied); raises KeyError."""
        return self._by_name[name]

    @functools.cached_property
    def _by_name(self) -> dict[str, BuildConfig]:
        return {b.name: b for b in self.builds}

    def line_of(self, name: str) -> int | None:
        """The line where build `name` is written (scans the file: for messages, not loops)."""
        return self._key_lines.line("builds", name)

    @functools.cached_property
    def _key_lines(self) -> KeyLines:
        try:
            return KeyLines(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return KeyLines("")

    def builds_for(self, profile: str | None) -> tuple[BuildConfig, ...]:
        return tuple(b.for_profile(profile) for b in self.builds)
