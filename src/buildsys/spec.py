"""`BuildSpec`: one build, fully resolved, as builders and executors receive it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._converters import opt_strs, strs

__all__ = ["BuildSpec"]


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
    inputs: tuple[str, ...] | None = attrs.field(default=None, converter=opt_strs)
    outputs: tuple[str, ...] | None = attrs.field(default=None, converter=opt_strs)
    args: tuple[str, ...] = attrs.field(default=(), converter=strs)
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=strs)
    tags: tuple[str, ...] = attrs.field(default=(), converter=strs)
    timeout: float | None = None
    retries: int = 0
    requires_os: tuple[str, ...] | None = attrs.field(default=None, converter=opt_strs)
    skip_if_unavailable: bool = False
    key_env: tuple[str, ...] = attrs.field(default=(), converter=strs)
    secret_env: tuple[str, ...] = attrs.field(default=(), converter=strs)
