"""One build, as the executor's workers call it: cache lookup, the builder, outputs, store.

Per build: its directory must exist; a cache hit is served and ends it; else
the builder's `check_build()` prerequisites are asked, its `build(spec, ctx)`
runs (a `BuildFailed` is diagnosed, any other exception is the plugin's bug),
its `outputs` patterns become artifacts, every artifact is checked to lie in
the project, and the result is stored in the cache.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import BuildFailed
from ..host.context import current_context
from ..results import BuildResult
from ..spec import BuildSpec
from .stale import stale_reason

if TYPE_CHECKING:
    from ..cache.keys import BuildCache
    from ..cache.toolchains import Toolchains
    from ..plugin.manager import PluginHost
    from .diagnosis import Diagnosis
    from .inputs import Inputs
    from .plan import Planner

__all__ = ["BuildStep"]


class BuildStep:
    """Builds one of `specs` by name; called from the executor's worker threads."""

    def __init__(
        self,
        specs: Mapping[str, BuildSpec],
        *,
        plugins: PluginHost,
        planner: Planner,
        toolchains: Toolchains,
        diagnosis: Diagnosis,
        inputs: Inputs,
        cache: BuildCache | None,
        pending_warnings: dict[str, list[str]],
        dirs: set[str],
    ) -> None:
        self.specs = specs
        self.plugins = plugins
        self.planner = planner
        self.toolchains = toolchains
        self.diagnosis = diagnosis
        self.inputs = inputs
        self.cache = cache
        # Warnings found while serving unchanged builds, for the build that runs after all.
        self.pending_warnings = pending_warnings
        self.dirs = dirs  # builds share directories: each is looked up once

    def __call__(self, name: str) -> BuildResult | None:
        spec = self.specs[name]
        ctx = current_context()
        registered = self.plugins.registry.get(spec.platform)
        if registered is None:  # pragma: no cover - planning rejects these
            raise BuildFailed(f"no builder for platform {spec.platform!r}", code="UNKNOWN_PLATFORM")
        if spec.cwd not in self.dirs and not Path(spec.cwd).is_dir():
            what = "is not a directory" if Path(spec.cwd).exists() else "does not exist"
            raise BuildFailed(
                f"the build's directory {spec.cwd} {what}",
                suggestions=["create it, or fix `cwd` in builds.toml"],
                code="CWD_NOT_FOUND",
            )
        self.dirs.add(spec.cwd)
        started_at = datetime.now(UTC)
        for warning in self.pending_warnings.pop(name, ()):
            ctx.warn(warning)
        cache = self.cache
        parts = None
        if cache is not None:
            parts = cache.key_parts(spec, registered.version, self.toolchains.of)
        # Hashing the inputs for the key walked them; without a key, walk now.
        for warning in self.inputs.warnings(spec, walked=parts is not None):
            ctx.warn(warning)
        stale = None if parts is None else stale_reason(self.plugins, spec)
        if stale is not None:
            ctx.log_note(f"buildsys: not served from the cache: {stale}\n")
        if cache is not None and parts is not None and stale is None:
            hit = cache.serve(spec, parts, started_at, ctx.log_path, ctx.log_note, ctx.attempt)
            for warning in cache.cache.take_warnings():
                ctx.warn(warning)
            if hit is not None:
                return attrs.evolve(hit, warnings=ctx.warnings)
        missing = self.planner.prerequisites(spec)
        if missing and spec.skip_if_unavailable:
            return attrs.evolve(self.planner.unavailable(spec, missing), warnings=ctx.warnings)
        if missing:  # failed as any build is, with its times, attempt and log
            first = missing[0]
            raise BuildFailed(
                "; ".join(p.message for p in missing),
                suggestions=[s for p in missing for s in p.suggestions],
                code=first.code,
                context=dict(first.context),
            )
        try:
            registered.builder.build(spec, ctx)
        except BuildFailed as exc:
            self.diagnosis.explain(spec, exc, ctx.log_path)
            raise
        except Exception as exc:
            import traceback  # only for a plugin's bug: 1 ms of every start otherwise

            ctx.log_note("".join(traceback.format_exception(exc)))
            raise BuildFailed(
                f"plugin {registered.plugin!r} raised {type(exc).__name__}: {exc}",
                suggestions=[
                    f"this is a bug in plugin {registered.plugin!r} "
                    f"(version {registered.version}); report it to its authors "
                    "with the traceback from the build's log",
                ],
                code="PLUGIN_ERROR",
                context={"plugin": registered.plugin},
            ) from exc
        _collect_outputs(spec, ctx)
        _check_artifacts(spec, ctx.artifacts, registered.plugin)
        if cache is not None and parts is not None:
            advice = cache.store_after(spec, parts, ctx.artifacts, ctx.log_path)
            for text in [*cache.cache.take_warnings(), *([advice] if advice else [])]:
                ctx.warn(text)
        return None


def _collect_outputs(spec: BuildSpec, ctx: Any) -> None:
    if not spec.outputs:
        return
    from ..config.patterns import PatternSet

    root = Path(spec.root)
    matched = list(PatternSet(spec.outputs).files(root))
    for rel in matched:
        ctx.add_artifact(root / rel)
    if not matched:
        ctx.warn(f"outputs {list(spec.outputs)} matched no files after the build")


@functools.cache
def _resolved(root: str) -> Path:
    return Path(root).resolve()


def _check_artifacts(spec: BuildSpec, artifacts: Sequence[str], plugin: str) -> None:
    """SPEC: an artifact that resolves outside the project is an error, and so is
    one no file system can hold. Only the builder knows its artifacts, so this
    fails the build once it has run."""
    if not artifacts:
        return
    root = _resolved(spec.root)
    reported = (
        f"the builder of platform {spec.platform!r} (plugin {plugin!r}) reported it with "
        "ctx.add_artifact"
    )
    for artifact in artifacts:
        path = Path(artifact)
        try:
            if "\x00" in artifact:
                raise ValueError("it contains a NUL character, which no file system allows")
            # The directory is resolved, not the file: a symlink is an artifact as a link.
            where = path.parent.resolve() / path.name
        except (OSError, RuntimeError, ValueError) as exc:
            raise BuildFailed(
                f"artifact {artifact!r} is not a usable path: {exc}",
                suggestions=[f"{reported}: this is a bug in plugin {plugin!r}"],
                code="ARTIFACT_INVALID",
                context={"artifact": artifact, "plugin": plugin},
            ) from None
        if where == root or not where.is_relative_to(root):
            raise BuildFailed(
                f"artifact {artifact} lies outside the project ({root})",
                suggestions=[
                    "artifacts must be files the build wrote inside the directory that "
                    "holds builds.toml: write it there, or do not report it",
                    reported,
                ],
                code="ARTIFACT_OUTSIDE_PROJECT",
                context={"artifact": artifact, "project": str(root)},
            )
