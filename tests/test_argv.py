"""Reading the command line ahead of argparse (for replay and the CLI's parser)."""

from __future__ import annotations

import pytest

from buildsys._argv import read_argv

COMMANDS = ("build", "list")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("builds.toml", None)),
        (["build"], ("builds.toml", "build")),
        (["-f", "a.toml", "build", "x"], ("a.toml", "build")),
        (["--file=a.toml", "list"], ("a.toml", "list")),
        (["-fa.toml", "list"], ("a.toml", "list")),
        (["build", "-f", "a.toml"], ("a.toml", "build")),  # -f after the command
        (["-f", "a.toml", "-f", "b.toml", "list"], ("b.toml", "list")),  # the last wins
        (["build", "--", "-f", "a.toml"], ("builds.toml", "build")),  # -- args are the build's
        # Not sure: argparse decides (an abbreviation, another option, a typo).
        (["--fi", "a.toml", "list"], ("builds.toml", None)),
        (["-V", "build"], ("builds.toml", None)),
        (["biuld"], ("builds.toml", None)),
    ],
)
def test_read_argv(argv, expected):
    assert read_argv(argv, COMMANDS) == expected
