"""The commands that look and change nothing: `list`, `graph`, `plugins` and `check`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..errors import UsageError
from ._shared import EXIT_FAILED, EXIT_OK, load

__all__ = ["check", "graph", "list_builds", "plugins"]


def _masker_for(config: Any) -> Any:
    from ..masking import Masker

    return Masker.for_run(os.environ, config.builds)


def list_builds(args: argparse.Namespace) -> int:
    import json

    from ..plugin.options import unstructure

    config, _ = load(args)
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
                "workspace": b.workspace,
                "package": b.package,
            }
            for b in builds
        ]
        print(masker.text(json.dumps(data, indent=2)))
        return EXIT_OK
    for b in builds:
        deps = f" <- {', '.join(b.depends_on)}" if b.depends_on else ""
        tags = f" [{', '.join(b.tags)}]" if b.tags else ""
        print(f"{b.name} ({b.platform}){deps}{tags}")
        if b.workspace is not None:
            package = f"package {b.package}, " if b.package else ""
            print(f"    # workspace {b.workspace}: {package}directory {b.cwd}")
        for key, value in unstructure(b.options).items():
            print(masker.text(f"    {key} = {json.dumps(value)}"))
    return EXIT_OK


def graph(args: argparse.Namespace) -> int:
    from ..config.graph import to_dot

    config, _ = load(args)
    sys.stdout.write(to_dot(config.builds))
    return EXIT_OK


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


def plugins(args: argparse.Namespace) -> int:
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


def check(args: argparse.Namespace) -> int:
    from ..engine.run_options import RunOptions
    from ..engine.runner import Runner
    from ..results import Status

    config, plugins = load(args)
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
