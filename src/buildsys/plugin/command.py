"""The built-in `command` platform: runs one argv list, no shell.

    [builds.tools]
    platform = "command"
    command = ["make", "-C", "tools", "all"]

Arguments after `buildsys build NAME -- ARGS` are appended to the command.

Its toolchain is its program: the fingerprint is the path the build's PATH
resolves it to, and the program's content joins the cache key, so editing a
script the command runs, or installing another `make` earlier on PATH,
invalidates the build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from ..host._memo import memoised
from ..host.fingerprint import Fingerprint, Program, find_tool
from ..results import BuildError
from .marker import hookimpl

if TYPE_CHECKING:
    from ..host.context import BuildContext
    from ..host.facts import Host
    from ..spec import BuildSpec
    from .registry import PlatformRegistry

__all__ = ["CommandBuilder", "CommandOptions", "buildsys_register_platforms"]


def _argv(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(
            f"expected a list of arguments, got the string {value!r}; write it as a list, "
            f'e.g. {value.split()!r}, or ["sh", "-c", {value!r}] if it needs a shell'
        )
    if not isinstance(value, list | tuple) or not all(isinstance(a, str) for a in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    if not value:
        raise ValueError("the command is empty; give at least the program to run")
    return tuple(value)


@attrs.frozen
class CommandOptions:
    """Options of a `command` build."""

    command: tuple[str, ...] = attrs.field(converter=_argv)


class CommandBuilder:
    """Runs the build's `command` in its `cwd` with its `env`."""

    name = "command"
    options = CommandOptions

    def build(self, spec: BuildSpec, ctx: BuildContext) -> None:
        options: CommandOptions = spec.options
        ctx.run([*options.command, *spec.args])

    def fingerprint(self, host: Host, spec: BuildSpec | None = None) -> Fingerprint:
        """The program, as the build's PATH resolves it: its path, and its content
        (the digest of the file its symlinks end at, through the run's stat memo)."""
        if spec is None:
            return Fingerprint("")  # each build names its own program
        options: CommandOptions = spec.options
        found = find_tool(options.command[0], _build_env(host, spec), cwd=spec.cwd)
        # One fingerprint per program found: a thousand builds of `sh` share it.
        return memoised(("command-fingerprint", found), lambda: _program_fingerprint(found))

    def check_build(self, spec: BuildSpec, host: Host) -> list[BuildError]:
        """The command's program is its toolchain: it must be found, as it would run."""
        options: CommandOptions = spec.options
        program = options.command[0]
        if find_tool(program, _build_env(host, spec), cwd=spec.cwd).found:
            return []
        where = "" if "/" in program else " on PATH"
        return [
            BuildError(
                f"command not found: {program!r}{where}",
                code="COMMAND_NOT_FOUND",
                suggestions=(
                    f"install {os.path.basename(program)!r} or put it on PATH",  # noqa: PTH119
                    "check the command in builds.toml for a typo",
                ),
                context={"program": program, "cwd": spec.cwd},
            )
        ]


def _program_fingerprint(found: Program) -> Fingerprint:
    if found.path is None:
        return found.fingerprint(f"{found.name}: not found")
    real = os.path.realpath(found.path)  # its content is the file its symlinks end at
    return Fingerprint(found.path, files=found.witnesses, env=found.env, contents=(real,))


def _build_env(host: Host, spec: BuildSpec) -> Mapping[str, str]:
    # The engine's host for a fingerprint has the build's env applied already.
    return {**host.env, **spec.env} if spec.env else host.env


@hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(CommandBuilder())
