"""The command line: parsing, the commands, exit codes and signal handling.

Exit codes, the first that applies: 130 interrupted (SIGINT), 143 terminated
(SIGTERM), 2 usage or config error (nothing ran), 1 a build failed, timed out
or was cancelled, or a build named on the command line was skipped, 0
otherwise. Only this module installs signal handlers: the first SIGINT or
SIGTERM cancels the run (reports are still written), a second kills every
build's processes at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NoReturn

from ..errors import ConfigError, UsageError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


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


# name: (help, description or None, what declares its arguments)
_COMMANDS: dict[str, tuple[str, str | None, Callable[[argparse.ArgumentParser], None] | None]] = {
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


def _parser(only: str | None = None) -> argparse.ArgumentParser:
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
    for name in _COMMANDS if only is None else [only]:
        help_text, description, declare = _COMMANDS[name]
        command = sub.add_parser(name, parents=[common], help=help_text, description=description)
        if declare is not None:
            declare(command)
    return parser


def _split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, *, standalone: bool = False) -> int:
    """Run one command; `standalone` when this process ends with it (the `buildsys` program)."""
    own, extra = _split_args(sys.argv[1:] if argv is None else argv)
    from .._argv import read_argv

    parser = _parser(read_argv(own, _COMMANDS)[1])
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
    try:
        command = {
            "build": _cmd_build,
            "list": _cmd_list,
            "plugins": _cmd_plugins,
            "check": _cmd_check,
            "graph": _cmd_graph,
            "init": _cmd_init,
            "cache": _cmd_cache,
        }[args.command]
        return command(args)
    except ConfigError as exc:  # its messages are masked already (config._masker_for)
        for problem in exc.problems:
            _err(f"error: {problem}")
        count = len(exc.problems)
        _err(
            f"buildsys: {count} problem{'s' if count != 1 else ''} in {args.file}; nothing was run"
        )
        return EXIT_USAGE
    except UsageError as exc:
        from ..masking import Masker

        # It may quote the command line, and with it a secret's value.
        _err(Masker.from_environment(os.environ).text(f"buildsys: error: {exc}"))
        return EXIT_USAGE


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from ..config.loader import load_config
    from ..plugin.manager import PluginHost

    plugins = PluginHost().load()
    return load_config(args.file, plugins), plugins


# -- build -------------------------------------------------------------------


def _cmd_build(args: argparse.Namespace) -> int:
    from ..engine.options import RunOptions
    from ..engine.runner import Runner

    if args.keep_going and args.fail_fast:
        raise UsageError("-k/--keep-going and --fail-fast contradict each other; pick one")
    strategy = "parallel" if args.keep_going else ("stop-on-failure" if args.fail_fast else None)
    progress = args.progress
    if progress == "auto":
        progress = "rich" if sys.stdout.isatty() and os.environ.get("TERM") != "dumb" else "plain"
    from ..engine import replay

    replay_key = replay.invocation_key(args.argv, args.file, os.environ)
    config, plugins = _load(args)
    options = RunOptions(
        max_concurrency=args.max_concurrency,
        strategy=strategy,
        timeout=args.timeout,
        profile=args.profile,
        tags=tuple(args.tag),
        args=tuple(args.extra),
        cache=False if args.no_cache else None,
        report_json=args.report_json,
        junit_xml=args.junit_xml,
        progress=progress,
        verbose=args.verbose,
        replay_key=None if args.dry_run else replay_key,
    )
    run = Runner(config, args.names, options, plugins)
    plan = run.plan()
    if args.dry_run:
        forecast = run.cache_forecast(plan)
        warnings = {s.name: run.input_warnings(s, planned=True) for s in plan.specs}
        _print_plan(plan, forecast, warnings)
        return EXIT_OK
    return _execute_with_signals(run, plan, standalone=args.standalone)


def _print_plan(plan: Any, forecast: dict[str, str], warnings: dict[str, list[str]]) -> None:
    print(
        f"plan: {len(plan.specs)} builds, up to {plan.max_concurrency} at a time, "
        f"strategy {plan.strategy}"
    )
    blocked = _blocked_by_presets(plan)
    for spec in plan.specs:
        preset = plan.presets.get(spec.name)
        if preset is None and spec.name in blocked:
            what = f"would be skipped: dependency {blocked[spec.name]!r} would not succeed"
        elif preset is None:
            what = forecast.get(spec.name, "would run")
        elif preset.reason:
            what = f"would be {preset.status.value}: {preset.reason}"
        else:
            what = f"would fail: {preset.errors[0].message if preset.errors else ''}"
        deps = f" after {', '.join(spec.depends_on)}" if spec.depends_on else ""
        print(f"  {spec.name} ({spec.platform}){deps}: {what}")
        for warning in warnings.get(spec.name, ()):
            print(f"    warning: {warning}")


def _blocked_by_presets(plan: Any) -> dict[str, str]:
    """Builds that depend, directly or not, on one decided before running (skipped
    for its host, a missing toolchain): each with the decided build it waits for."""
    by_name = {spec.name: spec for spec in plan.specs}
    blocked: dict[str, str] = {}
    settled: set[str] = set()

    def visit(name: str) -> str | None:
        if name in settled:
            return blocked.get(name)
        settled.add(name)  # a cycle was refused when the config was read
        for dep in by_name[name].depends_on if name in by_name else ():
            cause = dep if dep in plan.presets else visit(dep)
            if cause is not None:
                blocked[name] = cause
                return cause
        return None

    for spec in plan.specs:
        visit(spec.name)
    return blocked


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
            _err(
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
            _err(f"buildsys: warning: {warning}")
    for problem in run.plugins.hook_errors:
        _err(f"buildsys: warning: {problem}")
    for problem in run.report_errors:
        _err(f"buildsys: error: {problem}")
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
            _err(f"buildsys: error: {build.name} {build.status.value}: {why}{log}")


# -- list, graph ---------------------------------------------------------------


def _masker_for(config: Any) -> Any:
    from ..masking import Masker

    return Masker.for_run(os.environ, config.builds)


def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from ..plugin.options import unstructure

    config, _ = _load(args)
    masker = _masker_for(config)
    if args.profile is not None and args.profile not in config.profiles:
        raise UsageError(f"no build defines profile {args.profile!r}")
    builds = config.builds_for(args.profile)
    if args.json:
        data = [
            {
                "name": b.name,
                "platform": b.platform,
                "depends_on": list(b.depends_on),
                "tags": list(b.tags),
                "profiles": sorted(config.get(b.name).profiles),
                "cwd": b.cwd,
                "timeout": b.timeout if b.timeout is not None else config.run.timeout,
                "retries": b.retries if b.retries is not None else config.run.retries,
                "requires_os": list(b.requires_os) if b.requires_os is not None else None,
                "inputs": list(b.inputs) if b.inputs is not None else None,
                "outputs": list(b.outputs) if b.outputs is not None else None,
                "env": {k: masker.text(v) for k, v in b.env.items()},
                "key_env": list(b.key_env),
                "secret_env": list(b.secret_env),
                "skip_if_unavailable": b.skip_if_unavailable,
                "options": unstructure(b.options),
            }
            for b in builds
        ]
        print(masker.text(json.dumps(data, indent=2)))
        return EXIT_OK
    for b in builds:
        deps = f" <- {', '.join(b.depends_on)}" if b.depends_on else ""
        tags = f" [{', '.join(b.tags)}]" if b.tags else ""
        print(f"{b.name} ({b.platform}){deps}{tags}")
        for key, value in unstructure(b.options).items():
            print(masker.text(f"    {key} = {json.dumps(value)}"))
    return EXIT_OK


def _cmd_cache(args: argparse.Namespace) -> int:
    import time

    from ..cache.keys import cache_directory
    from ..cache.store import Cache
    from ..engine.lock import state_dir

    config, _ = _load(args)
    state_dir(config.root)  # the cache creates its directory, which is usually in there
    cache = Cache(cache_directory(config.root, config.run.cache_dir))
    if args.cache_command == "clean":
        before = cache.info()
        cache.clean()
        print(
            f"emptied {before.directory}: removed {before.entries} entries, "
            f"{_size_text(before.size)}"
        )
    else:
        info = cache.info()
        limit = config.run.cache_max_size
        print(f"cache: {info.directory}")
        print(
            f"entries: {info.entries}, size: {_size_text(info.size)}"
            + (f" (limit {_size_text(limit)})" if limit else "")
        )
        now = time.time()
        for entry in sorted(cache.entries(), key=lambda e: -e.last_used):
            age = format_age(now - entry.last_used)
            print(f"  {entry.key[:16]}  {_size_text(entry.size):>9}  used {age} ago")
    for warning in cache.take_warnings():
        _err(f"buildsys: warning: {warning}")
    return EXIT_OK


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_age(seconds: float) -> str:
    from .._durations import format_duration

    return format_duration(max(0.0, seconds))


def _cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .scaffold import write_starter

    path = Path(args.file)
    builds = write_starter(path, force=args.force)
    what = ", ".join(f"{b.name} ({b.platform})" for b in builds) or "an example command build"
    print(f"wrote {path}: {what}")
    print("next: review it, then run `buildsys check` and `buildsys build`")
    return EXIT_OK


def _cmd_graph(args: argparse.Namespace) -> int:
    from ..config.graph import to_dot

    config, _ = _load(args)
    sys.stdout.write(to_dot(config.builds))
    return EXIT_OK


# -- plugins, check --------------------------------------------------------------


def _toolchain(plugins: Any, platform: str, mask: Any) -> list[dict[str, Any]]:
    """The platform's toolchain problems (its builder's check()), masked, as JSON objects."""
    from ..host.facts import Host

    return [
        {
            "message": mask(e.message),
            "code": e.code,
            "suggestions": [mask(s) for s in e.suggestions],
        }
        for e in plugins.registry.get(platform).toolchain_problems(Host())
    ]


def _cmd_plugins(args: argparse.Namespace) -> int:
    import json

    from ..masking import Masker
    from ..plugin.manager import PluginHost

    plugins = PluginHost().load()
    mask = Masker.from_environment(os.environ).text
    rows: list[dict[str, Any]] = []
    for info in plugins.plugins:
        platforms = []
        for name in info.platforms:
            errors = _toolchain(plugins, name, mask)
            platforms.append(
                {
                    "name": name,
                    "toolchain_ok": not errors,
                    # As text, hints included (the first shape of this report), and
                    # as objects with each one's code and suggestions.
                    "toolchain_problems": [
                        e["message"] + "".join(f"\n      hint: {h}" for h in e["suggestions"])
                        for e in errors
                    ],
                    "toolchain_errors": errors,
                }
            )
        rows.append(
            {
                "name": info.name,
                "version": info.version,
                "distribution": info.distribution,
                "builtin": info.builtin,
                "disabled": info.disabled,
                "platforms": platforms,
                "error": mask(info.error) if info.error else None,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        origin = "built in" if row["builtin"] else (row["distribution"] or "?")
        print(f"{row['name']} {row['version']} ({origin})")
        if row["error"]:
            print(f"    {'disabled' if row['disabled'] else 'ERROR'}: {row['error']}")
        for platform in row["platforms"]:
            status = "toolchain ok" if platform["toolchain_ok"] else "toolchain missing"
            print(f"    platform {platform['name']}: {status}")
            for error in platform["toolchain_errors"]:
                print(f"      - {error['message']}")
                for hint in error["suggestions"]:
                    print(f"      hint: {hint}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from ..engine.options import RunOptions
    from ..engine.runner import Runner
    from ..results import Status

    config, plugins = _load(args)
    options = RunOptions(profile=args.profile, tags=tuple(args.tag), check_builds=True)
    run = Runner(config, args.names, options, plugins)
    plan = run.plan()
    bad = 0
    for spec in plan.specs:
        preset = plan.presets.get(spec.name)
        warnings = run.input_warnings(spec, planned=True)
        if preset is None:
            print(f"{spec.name} ({spec.platform}): ready")
        elif preset.status is Status.FAILED:
            bad += 1
            print(f"{spec.name} ({spec.platform}): toolchain problem")
            for error in preset.errors:
                print(f"    error[{error.code}]: {error.message}")
                for suggestion in error.suggestions:
                    print(f"      hint: {suggestion}")
        else:
            # A toolchain missing is what check reports, skip-if-unavailable or not.
            bad += spec.name in plan.unavailable
            print(f"{spec.name} ({spec.platform}): would be skipped: {preset.reason}")
        for warning in warnings:
            print(f"    warning: {warning}")
    print(
        f"{config.display_path}: valid; {len(plan.specs)} builds checked, "
        f"{bad} with toolchain problems"
    )
    return EXIT_FAILED if bad else EXIT_OK
