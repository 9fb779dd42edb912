"""Planning a run: select builds, turn them into `BuildSpec`s, decide what cannot run.

Decided up front, before anything runs: a build for another host OS is
skipped, a build whose plugin failed to load fails, and a build whose
toolchain `check()` fails is skipped (`skip-if-unavailable`) or fails. Also
here: each spec as the scheduler's `Job`, the run's cache, and the
`--dry-run` forecast of what would come from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from ..config.graph import leaves, select
from ..config.keys import did_you_mean
from ..config.model import Config
from ..errors import UsageError
from ..host.facts import Host, usable_cpus
from ..plugin.manager import PluginHost
from ..plugin.registry import takes_spec
from ..results import BuildError, BuildResult, Status
from ..spec import BuildSpec
from .inputs import Inputs
from .job import Job
from .lock import state_dir
from .run_options import RunOptions
from .stale import stale_reason

if TYPE_CHECKING:
    from ..cache.keys import BuildCache
    from ..cache.toolchains import Toolchains

__all__ = ["Plan", "Planner", "build_result"]


@attrs.frozen
class Plan:
    """What a run will do, decided before anything runs."""

    specs: tuple[BuildSpec, ...]
    named: tuple[str, ...]
    # Builds that will not run, with their result already decided.
    presets: Mapping[str, BuildResult]
    max_concurrency: int
    strategy: str
    # Presets skipped for a missing toolchain (`skip-if-unavailable`): `check` counts them.
    unavailable: frozenset[str] = frozenset()


def build_result(
    spec: BuildSpec, status: Status, reason: str | None = None, errors: Sequence[BuildError] = ()
) -> BuildResult:
    return BuildResult(
        name=spec.name, platform=spec.platform, status=status, reason=reason, errors=tuple(errors)
    )


class Planner:
    """Plans one run of `names` of `config`, and answers what planning knows later on
    (a build's prerequisites, its `Job`, the cache it would use)."""

    def __init__(
        self,
        config: Config,
        names: tuple[str, ...],
        options: RunOptions,
        plugins: PluginHost,
        host: Host,
        environ: Mapping[str, str],
        toolchains: Toolchains,
        inputs: Inputs,
    ) -> None:
        self.config = config
        self.names = names
        self.options = options
        self.plugins = plugins
        self.host = host
        self.environ = environ
        self.toolchains = toolchains
        self.inputs = inputs

    def plan(self) -> Plan:
        config = self.config
        opts = self.options
        if opts.profile is not None and opts.profile not in config.profiles:
            known = config.profiles
            raise UsageError(
                f"no build defines profile {opts.profile!r}{did_you_mean(opts.profile, known)}; "
                f"profiles: {', '.join(known) or 'none'}"
            )
        if opts.strategy is not None and opts.strategy not in ("parallel", "stop-on-failure"):
            raise UsageError(f"unknown strategy {opts.strategy!r}")
        builds = select(config.builds_for(opts.profile), self.names, opts.tags)
        named = self.names or tuple(leaves(builds))
        selected = {b.name for b in builds}
        cwds: dict[str, str] = {}
        specs: list[BuildSpec] = []
        for build in builds:
            timeout = (
                opts.timeout
                if opts.timeout is not None
                else (build.timeout if build.timeout is not None else config.run.timeout)
            )
            specs.append(
                BuildSpec(
                    name=build.name,
                    platform=build.platform,
                    root=str(config.root),
                    cwd=cwds.get(build.cwd)
                    or cwds.setdefault(build.cwd, str((config.root / build.cwd).resolve())),
                    options=build.options,
                    profile=opts.profile if build.profile else None,
                    env=dict(build.env),
                    inputs=build.inputs,
                    outputs=build.outputs,
                    args=opts.args if build.name in named else (),
                    depends_on=tuple(d for d in build.depends_on if d in selected),
                    tags=build.tags,
                    timeout=timeout,
                    retries=build.retries if build.retries is not None else config.run.retries,
                    requires_os=build.requires_os,
                    skip_if_unavailable=build.skip_if_unavailable,
                    key_env=build.key_env,
                    secret_env=build.secret_env,
                )
            )
        unavailable: set[str] = set()
        return Plan(
            specs=tuple(specs),
            named=tuple(self.names),
            presets=self._decide(specs, unavailable),
            max_concurrency=opts.max_concurrency or config.run.max_concurrency or usable_cpus(),
            strategy=opts.strategy or config.run.strategy,
            unavailable=frozenset(unavailable),
        )

    # -- decisions -----------------------------------------------------------

    def _decide(self, specs: Sequence[BuildSpec], unavailable: set[str]) -> dict[str, BuildResult]:
        """Results known before running: wrong OS, broken plugin, missing toolchain
        (the names of builds skipped for the last go into `unavailable`)."""
        presets: dict[str, BuildResult] = {}
        checks: dict[str, list[BuildError]] = {}
        for spec in specs:
            build = self.config.get(spec.name).for_profile(self.options.profile)
            if spec.requires_os is not None and self.host.os not in spec.requires_os:
                presets[spec.name] = build_result(
                    spec,
                    Status.SKIPPED,
                    f"requires {' or '.join(spec.requires_os)}; this host is {self.host.os}",
                )
                continue
            if build.broken is not None:
                presets[spec.name] = build_result(
                    spec,
                    Status.FAILED,
                    errors=[
                        BuildError(
                            build.broken,
                            code="PLUGIN_LOAD_FAILED",
                            suggestions=(
                                "run `buildsys plugins` to see the error; "
                                "reinstall or upgrade the plugin",
                            ),
                        )
                    ],
                )
                continue
            problems = self._check(spec, checks)
            if not problems and self.options.check_builds:
                problems = self.prerequisites(spec)
            if problems:
                presets[spec.name] = self.unavailable(spec, problems)
                if spec.skip_if_unavailable:
                    unavailable.add(spec.name)
        return presets

    def prerequisites(self, spec: BuildSpec) -> list[BuildError]:
        """What the builder's `check_build()` says this build lacks."""
        registered = self.plugins.registry.get(spec.platform)
        if registered is None:
            return []
        return self.toolchains.call(lambda: registered.build_problems(spec, self.host))

    def unavailable(self, spec: BuildSpec, problems: Sequence[BuildError]) -> BuildResult:
        """A build whose toolchain is missing: skipped if it allows that, else failed."""
        if not spec.skip_if_unavailable:
            return build_result(spec, Status.FAILED, errors=problems)
        # The first suggestion says what to install: it belongs in the reason.
        reason = "; ".join(
            p.message + (f" ({p.suggestions[0]})" if p.suggestions else "") for p in problems
        )
        return build_result(spec, Status.SKIPPED, f"toolchain unavailable: {reason}")

    def _check(self, spec: BuildSpec, memo: dict[str, list[BuildError]]) -> list[BuildError]:
        """The toolchain problems of a build's platform.

        `check(host)` runs once per platform; a builder whose check also takes
        `spec` (``check(host, spec)``) is asked once per build, since what it
        needs may depend on the build (e.g. the package manager a web build uses).
        """
        registered = self.plugins.registry.get(spec.platform)
        if registered is None:
            return []
        check = getattr(registered.builder, "check", None)
        memo_key = f"{spec.platform}\0{spec.name}" if takes_spec(check) else spec.platform
        if memo_key not in memo:
            memo[memo_key] = self.toolchains.call(
                lambda: registered.toolchain_problems(self.host, spec)
            )
        return memo[memo_key]

    # -- what the run hands on -------------------------------------------------

    def job(self, spec: BuildSpec) -> Job:
        build = self.config.get(spec.name).for_profile(self.options.profile)
        if self.options.timeout is not None:
            source = "--timeout on the command line"
        elif build.timeout_source is not None:
            source = build.timeout_source
        elif self.config.run.timeout is not None:
            source = f"timeout in [run] of {self.config.display_path}"
        else:
            source = None
        return Job(
            name=spec.name,
            platform=spec.platform,
            depends_on=spec.depends_on,
            timeout=spec.timeout,
            retries=spec.retries,
            timeout_source=source,
            env=spec.env,
            cwd=spec.cwd,
        )

    # -- the cache -------------------------------------------------------------

    def cache_enabled(self) -> bool:
        if self.options.cache is not None:
            return self.options.cache
        return self.config.run.cache

    def open_cache(self, specs: Sequence[BuildSpec] = ()) -> BuildCache | None:
        """The run's cache: None when it is off, or no build of `specs` has inputs."""
        if not self.cache_enabled() or (specs and not any(s.inputs for s in specs)):
            return None
        from ..cache.keys import BuildCache, cache_directory

        root = self.config.root
        return BuildCache(
            root=root,
            state_dir=state_dir(root),
            directory=cache_directory(root, self.config.run.cache_dir),
            max_size=self.config.run.cache_max_size,
            host=f"{self.host.os}/{self.host.arch}",
            environ=self.environ,
            tree=self.inputs.tree,
        )

    def cache_forecast(self, plan: Plan) -> dict[str, str]:
        """For --dry-run: per build, whether it would come from the cache, or why not."""
        if not self.cache_enabled():
            return {s.name: "cache off" for s in plan.specs}
        cache = self.open_cache()
        assert cache is not None
        forecast = cache.forecast(plan.specs, plan.presets, self.version, self.toolchains.of)
        for spec in plan.specs:
            reason = stale_reason(self.plugins, spec) if spec.name in forecast else None
            if reason is not None and forecast[spec.name] == "from the cache":
                forecast[spec.name] = f"will run: {reason}"
        return forecast

    def version(self, platform: str) -> str | None:
        """The version of the plugin that builds `platform` (part of each cache key)."""
        registered = self.plugins.registry.get(platform)
        return registered.version if registered is not None else None
