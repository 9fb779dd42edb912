"""The command line's grammar: every command, its options and its help.

Declaring is what costs here, not parsing: `make_parser` declares only the
command being run when it is known from the arguments (`_argv.read_argv`),
and argparse is told the terminal's width rather than finding it.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._shared import EXIT_USAGE

# Not `from typing import TYPE_CHECKING`: `--help` would import typing for
# annotations alone.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

__all__ = ["COMMANDS", "make_parser"]


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal's width rather than finding it.

    Without a width, HelpFormatter imports shutil for get_terminal_size (and
    shutil imports bz2, lzma and zlib): 2 ms of every start, since argparse
    makes a formatter for each argument declared, help or not.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size finds it: $COLUMNS, then stdout."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _duration(text: str) -> float:
    from .._converters import check_timeout

    try:
        seconds = check_timeout("the timeout", text)  # 0 would time every build out at once
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert seconds is not None  # text is a str
    return seconds


def _build_arguments(build: argparse.ArgumentParser) -> None:
    build.add_argument("names", nargs="*", metavar="NAME", help="builds to run (default: all)")
    build.add_argument(
        "-j",
        "--max-concurrency",
        type=_positive_int,
        metavar="N",
        help="builds at once (default: [run] max-concurrency, else usable CPUs)",
    )
    build.add_argument(
        "-k",
        "--keep-going",
        action="store_true",
        help="keep going after a failure (strategy parallel)",
    )
    build.add_argument(
        "--fail-fast",
        action="store_true",
        help="the first failure cancels the rest (strategy stop-on-failure)",
    )
    build.add_argument(
        "--timeout",
        type=_duration,
        metavar="DURATION",
        help="per-build timeout for this run, overriding builds.toml",
    )
    build.add_argument("--profile", metavar="NAME", help="apply [builds.<name>.profiles.NAME]")
    build.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="select builds with this tag (repeatable)",
    )
    build.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    build.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    build.add_argument("--report-json", metavar="PATH", help="write a JSON report")
    build.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
    build.add_argument(
        "--progress",
        choices=("auto", "rich", "plain", "none"),
        default="auto",
        help="how to show progress (default: auto)",
    )
    build.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream build output, each line prefixed with its build's name",
    )


def _list_arguments(listing: argparse.ArgumentParser) -> None:
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--profile", metavar="NAME", help="show options with this profile applied")


def _plugins_arguments(plugins: argparse.ArgumentParser) -> None:
    plugins.add_argument("--json", action="store_true", help="machine-readable output")


def _check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("names", nargs="*", metavar="NAME", help="builds to check (default: all)")
    check.add_argument("--profile", metavar="NAME")
    check.add_argument("--tag", action="append", default=[], metavar="TAG")


def _cache_arguments(cache: argparse.ArgumentParser) -> None:
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", parser_class=_Parser)
    cache_sub.required = True
    cache_sub.add_parser("info", parents=[_common()], help="the cache's size and entries")
    cache_sub.add_parser("clean", parents=[_common()], help="empty the cache")


def _init_arguments(init: argparse.ArgumentParser) -> None:
    init.add_argument("--force", action="store_true", help="replace an existing builds.toml")


def _schema_arguments(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("-o", "--output", metavar="FILE", help="write it to FILE, not stdout")


# name: (help, description or None, what declares its arguments)
COMMANDS: dict[str, tuple[str, str | None, Callable[[argparse.ArgumentParser], None] | None]] = {
    "build": (
        "run builds (default: all)",
        "Build the named builds and what they depend on. "
        "Arguments after `--` go to the named builds.",
        _build_arguments,
    ),
    "list": ("list builds and their options", None, _list_arguments),
    "plugins": (
        "installed plugins, their platforms and toolchain status",
        None,
        _plugins_arguments,
    ),
    "check": (
        "validate builds.toml and the toolchains; build nothing",
        None,
        _check_arguments,
    ),
    "graph": ("the dependency graph, in DOT", None, None),
    "cache": ("the build cache: info, clean", None, _cache_arguments),
    "init": ("write a commented starter builds.toml for this directory", None, _init_arguments),
    "schema": (
        "print a JSON Schema of builds.toml, for editors",
        "Print a JSON Schema (draft-07) of builds.toml: the core keys and the options of "
        "the installed platforms, with descriptions, for editors that complete and check "
        "TOML from one (taplo, VS Code's Even Better TOML, JetBrains).",
        _schema_arguments,
    ),
}


def _common() -> _Parser:
    """The options every command accepts, before or after its name."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-f",
        "--file",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the builds.toml to use (default: ./builds.toml)",
    )
    return common


def make_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or with `only` for that one alone.

    Declaring every command costs about 5 ms of each start (argparse looks up
    translations for each parser and builds a formatter per argument); the
    full parser is needed only for top-level help and errors.
    """
    from .._about import version_text

    common = _common()
    parser = _Parser(
        prog="buildsys",
        description="Build one project for several platforms from one builds.toml.",
        parents=[common],
    )
    parser.add_argument("-V", "--version", action="version", version=f"buildsys {version_text()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS if only is None else [only]:
        help_text, description, declare = COMMANDS[name]
        command = sub.add_parser(name, parents=[common], help=help_text, description=description)
        if declare is not None:
            declare(command)
    return parser
