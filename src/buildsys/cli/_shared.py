"""What the commands share: their exit codes, reading the project, and stderr.

Which exit code applies, and when, is `main.py`'s to decide; the codes live
here because the parser and every command return them too.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "err",
    "load",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    """The config `args.file` names, and the installed plugins it was read with."""
    from ..config.loader import load_config
    from ..plugin.manager import PluginHost

    plugins = PluginHost().load()
    return load_config(args.file, plugins), plugins
