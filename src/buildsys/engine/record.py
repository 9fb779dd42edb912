"""What a finished run hands the replay journal: one frozen value, built by the engine.

The journal (`journal.py`) decides from it whether the run can be replayed
and writes what a replay needs; it never sees the engine's own objects (the
runner, the plugin manager), only these values, the run's cache (what it
served and stored, and the stat memo that hashed them) and its masker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ..cache.keys import BuildCache
    from ..cache.toolchains import Toolchain
    from ..masking import Masker
    from ..plugin.manager import PluginHost
    from ..results import ExecutionResult
    from ..spec import BuildSpec

__all__ = ["RunRecord", "builder_checks", "observing_plugins"]

# Hooks a third-party plugin may implement without making a run unreplayable:
# neither is called when every build comes from the cache.
_SILENT_HOOKS = {"buildsys_register_platforms", "buildsys_error_suggestions"}


@attrs.frozen
class RunRecord:
    """One finished run: what ran, with what keys and options, and how it ended."""

    key: bytes  # the invocation key the command line computed (`journal.invocation_key`)
    root: Path
    specs: tuple[BuildSpec, ...]
    result: ExecutionResult
    masker: Masker
    # The run's cache, None when it was off: its entries, stat memo and input tree.
    cache: BuildCache | None
    environ: Mapping[str, str]
    max_concurrency: int
    # Some build's result was decided before running (a host skip, a toolchain check).
    decided_early: bool
    warnings: tuple[str, ...]  # the run's own, printed before the first build
    progress: str
    verbose: bool
    report_json: str | None
    junit_xml: str | None
    inputs_respect_gitignore: bool
    # Per platform, which of check() and fingerprint() its builder has
    # (a platform without a builder is absent).
    checks: Mapping[str, frozenset[str]]
    # Per build that got a cache key, the toolchain that key was taken with.
    toolchains: Mapping[str, Toolchain]
    # Third-party plugins with hooks a run calls even when nothing builds.
    observers: tuple[str, ...]


def builder_checks(plugins: PluginHost, platforms: Sequence[str]) -> dict[str, frozenset[str]]:
    """For `RunRecord.checks`: which of check() and fingerprint() each platform's builder has."""
    checks: dict[str, frozenset[str]] = {}
    for platform in platforms:
        registered = plugins.registry.get(platform)
        builder = registered.builder if registered is not None else None
        if builder is not None:
            checks[platform] = frozenset(m for m in ("check", "fingerprint") if hasattr(builder, m))
    return checks


def observing_plugins(plugins: PluginHost) -> tuple[str, ...]:
    """For `RunRecord.observers`: third-party plugins implementing any hook but the silent ones."""
    builtin = {info.name for info in plugins.plugins if info.builtin}
    found = []
    for name, plugin in plugins.pm.list_name_plugin():
        if name in builtin or name.startswith("buildsys."):
            continue
        hooks = {caller.name for caller in plugins.pm.get_hookcallers(plugin) or []}
        if hooks - _SILENT_HOOKS:
            found.append(name)
    return tuple(found)
