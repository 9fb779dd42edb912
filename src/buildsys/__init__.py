"""buildsys: build one project for several platforms from one builds.toml.

The public API is listed in `__all__` (plus `buildsys.testing` and, to read,
`buildsys.plugin.hookspecs`). Names are imported on first use, so that
`buildsys --version` and plugins that only need `hookimpl` start fast.

One package per stage, imports pointing one way, highest first:

    cli -> engine -> (cache, report) -> config -> plugin -> host -> values

`cli/` parses the command line and calls the `engine/`, which plans, decides
and runs builds, using the `cache/` (keys, store) and the `report/`ers
(siblings: neither imports the other). Both read the `config/` model, whose
loader validates options against the `plugin/` registry, whose builders are
handed the `host/` facts and build context. The values at the top level
(`errors`, `results`, `spec`, `artifacts`, `masking`, and private helpers
such as `_durations`) import no stage. A lower stage never imports a higher
one, not even lazily inside a function; this module and `__main__` stand
above all of them, and no stage imports them (tests/test_layout.py checks).
"""

from __future__ import annotations

import importlib

# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds on
# every start, and `buildsys --version` and a replayed no-op need none of it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .config.loader import load_config
    from .config.model import BuildConfig, Config, RunSettings
    from .engine.executor import ParallelExecutor
    from .engine.job import Job
    from .engine.runner import run
    from .errors import BuildFailed, ConfigError, UsageError
    from .host.context import BuildContext, CommandResult, current_context
    from .host.facts import Host
    from .host.fingerprint import Fingerprint, Program, find_tool
    from .host.probe import Probe, probe
    from .plugin.catalogue import Catalogue
    from .plugin.marker import hookimpl, hookspec
    from .plugin.registry import PlatformRegistry
    from .plugin.workspace import (
        Workspace,
        WorkspaceError,
        WorkspaceMember,
        WorkspaceOptions,
        WorkspacePackage,
        WorkspaceProblem,
    )
    from .plugin.workspace_globs import find_workspace_packages
    from .plugin.workspace_graph import assemble_members
    from .results import BuildError, BuildResult, ExecutionResult, Status
    from .spec import BuildSpec

__all__ = [
    "BuildConfig",
    "BuildContext",
    "BuildError",
    "BuildFailed",
    "BuildResult",
    "BuildSpec",
    "Catalogue",
    "CommandResult",
    "Config",
    "ConfigError",
    "ExecutionResult",
    "Fingerprint",
    "Host",
    "Job",
    "ParallelExecutor",
    "PlatformRegistry",
    "Probe",
    "Program",
    "RunSettings",
    "Status",
    "UsageError",
    "Workspace",
    "WorkspaceError",
    "WorkspaceMember",
    "WorkspaceOptions",
    "WorkspacePackage",
    "WorkspaceProblem",
    "__version__",
    "assemble_members",
    "current_context",
    "find_tool",
    "find_workspace_packages",
    "hookimpl",
    "hookspec",
    "load_config",
    "probe",
    "run",
]

_WHERE = {
    "BuildConfig": "config.model",
    "BuildContext": "host.context",
    "BuildError": "results",
    "BuildFailed": "errors",
    "BuildResult": "results",
    "BuildSpec": "spec",
    "Catalogue": "plugin.catalogue",
    "CommandResult": "host.context",
    "Config": "config.model",
    "ConfigError": "errors",
    "ExecutionResult": "results",
    "Fingerprint": "host.fingerprint",
    "Host": "host.facts",
    "Job": "engine.job",
    "ParallelExecutor": "engine.executor",
    "PlatformRegistry": "plugin.registry",
    "Probe": "host.probe",
    "Program": "host.fingerprint",
    "RunSettings": "config.model",
    "Status": "results",
    "UsageError": "errors",
    "Workspace": "plugin.workspace",
    "WorkspaceError": "plugin.workspace",
    "WorkspaceMember": "plugin.workspace",
    "WorkspaceOptions": "plugin.workspace",
    "WorkspacePackage": "plugin.workspace",
    "WorkspaceProblem": "plugin.workspace",
    "assemble_members": "plugin.workspace_graph",
    "current_context": "host.context",
    "find_tool": "host.fingerprint",
    "find_workspace_packages": "plugin.workspace_globs",
    "hookimpl": "plugin.marker",
    "hookspec": "plugin.marker",
    "load_config": "config.loader",
    "probe": "host.probe",
    "run": "engine.runner",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._about import version_text

        return version_text()
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'buildsys' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
