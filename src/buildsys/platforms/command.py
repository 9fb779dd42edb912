"""The built-in `command` platform: runs one argv list, no shell.

    [builds.tools]
    platform = "command"
    command = ["make", "-C", "tools", "all"]

Arguments after `buildsys build NAME -- ARGS` are appended to the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ..hooks import hookimpl

if TYPE_CHECKING:
    from ..context import BuildContext
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


@hookimpl
def buildsys_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(CommandBuilder())
