"""The command line read ahead of argparse: which builds.toml, which command.

`replay` needs the file before anything is imported, and the CLI the command
to declare only its parser. Both read `-f` as argparse does; spellings this
does not know (an abbreviated `--fi`) make the answer cautious, never wrong:
no command (the full parser decides), or a file the replay key will not match.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

__all__ = ["read_argv"]


def read_argv(argv: Sequence[str], commands: Collection[str]) -> tuple[str, str | None]:
    """The builds.toml `argv` names (default `builds.toml`), and its command: the
    first argument if only `-f` options stand before it, else None."""
    found = "builds.toml"
    command: str | None = None
    settled = False  # the command is known, or cannot be known from here
    args = iter(argv)
    for arg in args:
        if arg == "--":
            break
        if arg in ("-f", "--file"):
            found = next(args, found)
        elif arg.startswith("--file="):
            found = arg[len("--file=") :]
        elif arg.startswith("-f") and len(arg) > 2 and not arg.startswith("--"):
            found = arg[2:]
        elif not settled:
            settled = True
            command = arg if arg in commands else None
    return found, command
