"""`buildsys build`: the run the command line asks for, and the plan `--dry-run` prints.

Running it, under the signal handlers, is `main.py`'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..errors import UsageError
from ._shared import load

__all__ = ["prepare"]


def prepare(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """The run and plan `buildsys build` asks for; None once a `--dry-run` printed its plan."""
    from ..engine.run_options import RunOptions
    from ..engine.runner import Runner

    if args.keep_going and args.fail_fast:
        raise UsageError("-k/--keep-going and --fail-fast contradict each other; pick one")
    strategy = "parallel" if args.keep_going else ("stop-on-failure" if args.fail_fast else None)
    progress = args.progress
    if progress == "auto":
        progress = "rich" if sys.stdout.isatty() and os.environ.get("TERM") != "dumb" else "plain"
    from ..engine import replay

    replay_key = replay.invocation_key(args.argv, args.file, os.environ)
    config, plugins = load(args)
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
        return None
    return run, plan


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
