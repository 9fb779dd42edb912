"""`BuildSpec`: one build, fully resolved, as builders and executors receive it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["BuildSpec"]


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(value)


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class BuildSpec:
    """Everything about one build after defaults, profile and command line are applied.

    Plain data (strings, numbers, tuples, mappings and the platform's options
    object), so that it can be sent to another process or machine.
    """

    name: str
    platform: str
    root: str  # the directory holding builds.toml
    cwd: str  # absolute
    options: Any = None  # an instance of the builder's `options` class, else a mapping
    profile: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)  # the build's own variables
    inputs: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    outputs: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    args: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    timeout: float | None = None
    retries: int = 0
    requires_os: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    skip_if_unavailable: bool = False
    key_env: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    secret_env: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
