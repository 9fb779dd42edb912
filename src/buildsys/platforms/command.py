"""The built-in `command` platform: runs one argv list, no shell.

    [builds.tools]
    platform = "command"
    command = ["make", "-C", "tools", "all"]

Arguments after `buildsys build NAME -- ARGS` are appended to the command.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from ..hooks import hookimpl
from ..process import find_program
from ..results import BuildError

if TYPE_CHECKING:
    from ..context import BuildContext
    from ..host import Host
    from ..registry import PlatformRegistry
    from ..spec import BuildSpec

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

    def check_build(self, spec: BuildSpec, host: Host) -> list[BuildError]:
        """The command's program is its toolchain: it must be found, as it would run."""
        options: CommandOptions = spec.options
        program = options.command[0]
        search = spec.env.get("PATH", host.env.get("PATH", os.defpath))
        if _findable(program, search, spec.cwd):
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


# Programs found, by (program, PATH, cwd): a thousand builds of one tool look once.
# Only hits are kept, so a tool installed later is still found.
_FOUND: set[tuple[str, str, str]] = set()


def _findable(program: str, search: str, cwd: str) -> bool:
    """Whether `program` resolves to an executable file, as exec would find it."""
    key = (program, search, cwd)
    if key in _FOUND:
        return True
    if find_program(program, search, cwd) is not None:
        _FOUND.add(key)
        return True
    return False


@hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(CommandBuilder())
