"""The command line: running a command, exit codes and signal handling.

Exit codes, the first that applies: 130 interrupted (SIGINT), 143 terminated
(SIGTERM), 2 usage or config error (nothing ran), 1 a build failed, timed out
or was cancelled, or a build named on the command line was skipped, 0
otherwise. Only this module installs signal handlers: the first SIGINT or
SIGTERM cancels the run (reports are still written), a second kills every
build's processes at once.

The parser is `parser.py`; the commands are `build.py`, `inspect.py` (`list`,
`graph`, `plugins`, `check`), `cache_commands.py`, `scaffold.py` (`init`) and
`schema.py`, each imported only when its command runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ._shared import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, err
from .parser import COMMANDS, make_parser

# Not `from typing import TYPE_CHECKING`: `--help` would import typing for
# annotations alone.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType
    from typing import Any

__all__ = ["main"]


def _split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None, *, standalone: bool = False) -> int:
    """Run one command; `standalone` when this process ends with it (the `buildsys` program)."""
    own, extra = _split_args(sys.argv[1:] if argv is None else argv)
    from .._argv import read_argv

    parser = make_parser(read_argv(own, COMMANDS)[1])
    args = parser.parse_args(own)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if extra and args.command != "build":
        parser.error(f"`--` arguments are only for `build`, not `{args.command}`")
    args.extra = extra
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.file = getattr(args, "file", "builds.toml")
    args.standalone = standalone
    # Imported once the arguments parsed: `--help` needs neither it nor attrs.
    from ..errors import ConfigError, UsageError

    try:
        return _run(args)
    except ConfigError as exc:  # its messages are masked already (config._masker_for)
        for problem in exc.problems:
            err(f"error: {problem}")
        count = len(exc.problems)
        err(f"buildsys: {count} problem{'s' if count != 1 else ''} in {args.file}; nothing was run")
        return EXIT_USAGE
    except UsageError as exc:
        from ..masking import Masker

        # It may quote the command line, and with it a secret's value.
        err(Masker.from_environment(os.environ).text(f"buildsys: error: {exc}"))
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    """The command's exit code (its module imported now, for its command alone)."""
    if args.command == "build":
        from .build import prepare

        prepared = prepare(args)
        if prepared is None:  # --dry-run: the plan is printed
            return EXIT_OK
        run, plan = prepared
        return _execute_with_signals(run, plan, standalone=args.standalone)
    if args.command == "cache":
        from .cache_commands import cache_command

        return cache_command(args)
    if args.command == "init":
        from .scaffold import init

        return init(args)
    if args.command == "schema":
        from .schema import schema

        return schema(args)
    from . import inspect

    command = {
        "list": inspect.list_builds,
        "plugins": inspect.plugins,
        "check": inspect.check,
        "graph": inspect.graph,
    }[args.command]
    return command(args)


def _execute_with_signals(run: Any, plan: Any, *, standalone: bool) -> int:
    outcome: dict[str, Any] = {}
    received: list[int] = []

    def target() -> None:
        try:
            outcome["result"] = run.execute(plan)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = exc

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            name = signal.Signals(signum).name
            err(
                f"buildsys: {name} received: stopping every build "
                "(send it again to kill them at once)"
            )
            run.cancel(f"interrupted by {name}", interrupted=True)
        else:
            run.kill()

    from ..host._proctree import kill_adopted
    from ..host._subreaper import subreaper

    if standalone:
        # Daemons a build leaves (Gradle's) outlive the program, as they would make's.
        subreaper.hold_for_life()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=target, name="buildsys-run", daemon=True)
    # Held past the run: what kill_adopted() kills hands its children to this
    # process only while it is a subreaper.
    with subreaper.held():
        try:
            worker.start()
            while worker.is_alive():
                worker.join(0.25)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if received:
            # Daemons a build left behind with no trace of it (environment cleared)
            # were adopted by this process: nothing else of ours could have made them.
            kill_adopted()
    if run.options.progress == "none" and not run.options.verbose:
        for warning in run.warnings:
            err(f"buildsys: warning: {warning}")
    for problem in run.plugins.hook_errors:
        err(f"buildsys: warning: {problem}")
    for problem in run.report_errors:
        err(f"buildsys: error: {problem}")
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    if run.options.progress == "none" and not run.options.verbose:
        _failures_in_brief(result)
    if received:
        return EXIT_SIGINT if received[0] == signal.SIGINT else EXIT_SIGTERM
    if not result.ok or run.report_errors:
        return EXIT_FAILED
    from ..results import Status

    named = set(plan.named)
    if any(r.status is Status.SKIPPED and r.name in named for r in result.results):
        return EXIT_FAILED
    return EXIT_OK


def _failures_in_brief(result: Any) -> None:
    """With no progress shown, still say what failed, why, and where its log is."""
    from ..results import Status

    for build in result.results:
        if build.status in (Status.FAILED, Status.TIMED_OUT):
            why = build.errors[0].message.splitlines()[0] if build.errors else "no error given"
            log = f" (log: {build.log_path})" if build.log_path else ""
            err(f"buildsys: error: {build.name} {build.status.value}: {why}{log}")
