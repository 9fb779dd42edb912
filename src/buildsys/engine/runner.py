"""From a validated `Config` to an `ExecutionResult`: plan, decide up front, execute, report.

The steps, in order: select builds (names, tags) with their dependencies;
turn each into a `BuildSpec` (profile, command-line overrides, `-- ARGS`);
decide what cannot run before anything does (wrong host OS, a plugin that
failed to load, a toolchain `check()` that fails, with `skip-if-unavailable`);
then hand plain `Job`s to the executor and call builders from its workers.
Observer hooks fire throughout, and reporters (console, JSON, JUnit) are
plugins registered for the run.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from .._converters import check_concurrency, check_timeout, strs

if TYPE_CHECKING:
    from ..cache.keys import BuildCache
    from ..config.patterns import FileTree

# Imported when first needed, not at start-up: the cache (only for builds with
# inputs), catalogues (only on failure, in diagnosis), and each reporter.

from ..cache.toolchains import Toolchains
from ..config.graph import leaves, select
from ..config.keys import did_you_mean
from ..config.model import Config
from ..errors import BuildFailed, UsageError
from ..host.facts import Host, usable_cpus
from ..masking import Masker
from ..plugin.manager import PluginHost
from ..plugin.registry import takes_spec
from ..results import BuildError, BuildResult, ExecutionResult, Status
from ..spec import BuildSpec
from .diagnosis import Diagnosis
from .executor import ParallelExecutor
from .job import Job
from .lock import project_lock, state_dir

__all__ = ["Plan", "Run", "RunOptions", "run"]


def _max_concurrency(value: int | None) -> int | None:
    return check_concurrency("max_concurrency", value)


def _timeout(value: float | str | None) -> float | None:
    return check_timeout("timeout", value)


@attrs.frozen
class RunOptions:
    """Command-line (or API) overrides of a run; `None` keeps what builds.toml says."""

    max_concurrency: int | None = attrs.field(default=None, converter=_max_concurrency)
    strategy: str | None = None  # "parallel" or "stop-on-failure"
    # Overrides every build's timeout; a duration string ("10s") is read as the CLI reads it.
    timeout: float | None = attrs.field(default=None, converter=_timeout)
    profile: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=strs)
    args: tuple[str, ...] = attrs.field(default=(), converter=strs)
    cache: bool | None = None
    report_json: str | None = None
    junit_xml: str | None = None
    progress: str = "none"  # "rich", "plain" or "none"; the CLI resolves "auto"
    verbose: bool = False
    stream: TextIO | None = None  # where console output goes (default: stdout)
    # Set by the command line: a run that can be replayed is recorded under it (replay.py).
    replay_key: bytes | None = None
    # `buildsys check`: also ask builders' check_build() of every build up front;
    # a run asks it only of builds about to run (not those served from the cache).
    check_builds: bool = False


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


def _result(
    spec: BuildSpec, status: Status, reason: str | None = None, errors: Sequence[BuildError] = ()
) -> BuildResult:
    return BuildResult(
        name=spec.name, platform=spec.platform, status=status, reason=reason, errors=tuple(errors)
    )


class Run:
    """One `buildsys build`: `plan()`, then `execute()`; `cancel()` and `kill()` from any thread."""

    def __init__(
        self,
        config: Config,
        names: Sequence[str] = (),
        options: RunOptions | None = None,
        plugins: PluginHost | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.names = tuple(names)
        self.options = options or RunOptions()
        self.plugins = plugins if plugins is not None else PluginHost().load()
        self.environ = dict(os.environ if environ is None else environ)
        self.host = Host(env=self.environ)
        self._executor: ParallelExecutor | None = None
        self._stop = threading.Event()
        self._stop_reason: str | None = None
        self._killed = False
        self.interrupted = False
        self.warnings: list[str] = []
        # Reports that could not be written: the CLI turns these into a failure.
        self.report_errors: list[str] = []
        self._cache: BuildCache | None = None
        self._pending_warnings: dict[str, list[str]] = {}
        self._dirs: set[str] = set()
        # Fingerprints in each build's environment, memoised for the run and kept between runs.
        self.toolchains = Toolchains(
            self.plugins, self.host, self.environ, config.root / ".buildsys" / "toolchains"
        )
        self._diagnosis = Diagnosis(config.root, self.plugins, self.toolchains)
        self._input_tree: FileTree | None = None

    # -- control from other threads ------------------------------------------

    def cancel(self, reason: str, *, interrupted: bool = False) -> None:
        self.interrupted = self.interrupted or interrupted
        self._stop_reason = self._stop_reason or reason
        self._stop.set()
        if self._executor is not None:
            self._executor.cancel(reason)

    def kill(self) -> None:
        self._killed = True
        self._stop.set()
        if self._executor is not None:
            self._executor.kill()

    # -- planning ------------------------------------------------------------

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

    def _decide(self, specs: Sequence[BuildSpec], unavailable: set[str]) -> dict[str, BuildResult]:
        """Results known before running: wrong OS, broken plugin, missing toolchain
        (the names of builds skipped for the last go into `unavailable`)."""
        presets: dict[str, BuildResult] = {}
        checks: dict[str, list[BuildError]] = {}
        for spec in specs:
            build = self.config.get(spec.name).for_profile(self.options.profile)
            if spec.requires_os is not None and self.host.os not in spec.requires_os:
                presets[spec.name] = _result(
                    spec,
                    Status.SKIPPED,
                    f"requires {' or '.join(spec.requires_os)}; this host is {self.host.os}",
                )
                continue
            if build.broken is not None:
                presets[spec.name] = _result(
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
                problems = self._prerequisites(spec)
            if problems:
                presets[spec.name] = self._unavailable(spec, problems)
                if spec.skip_if_unavailable:
                    unavailable.add(spec.name)
        return presets

    def _prerequisites(self, spec: BuildSpec) -> list[BuildError]:
        registered = self.plugins.registry.get(spec.platform)
        if registered is None:
            return []
        return self.toolchains.call(lambda: registered.build_problems(spec, self.host))

    def _unavailable(self, spec: BuildSpec, problems: Sequence[BuildError]) -> BuildResult:
        """A build whose toolchain is missing: skipped if it allows that, else failed."""
        if not spec.skip_if_unavailable:
            return _result(spec, Status.FAILED, errors=problems)
        # The first suggestion says what to install: it belongs in the reason.
        reason = "; ".join(
            p.message + (f" ({p.suggestions[0]})" if p.suggestions else "") for p in problems
        )
        return _result(spec, Status.SKIPPED, f"toolchain unavailable: {reason}")

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

    # -- masking -------------------------------------------------------------

    def _masker(self, specs: Sequence[BuildSpec]) -> Masker:
        masker = Masker.for_builds(
            self.environ,
            {n for s in specs for n in s.secret_env},
            [(s.name, s.env) for s in specs],
        )
        for name in masker.short_names:
            self.warnings.append(
                f"secret {name} is shorter than 8 characters and is not masked in logs and reports"
            )
        return masker

    # -- running -------------------------------------------------------------

    def execute(self, plan: Plan | None = None) -> ExecutionResult:
        plan = plan if plan is not None else self.plan()
        self._check_report_paths()
        started = time.monotonic()
        root = self.config.root
        masker = self._masker(plan.specs)
        reporters = self._register_reporters(plan, masker)
        try:
            return self._execute(plan, masker, root, started)
        finally:
            for name in reporters:
                plugin = self.plugins.pm.get_plugin(name)
                if plugin is not None:
                    self.plugins.pm.unregister(plugin)

    def _check_report_paths(self) -> None:
        """A report that cannot be written is a usage error, found before anything runs."""
        for option, value in (
            ("--report-json", self.options.report_json),
            ("--junit-xml", self.options.junit_xml),
        ):
            if value is None:
                continue
            from .._files import check_writable

            try:
                check_writable(Path(value))
            except OSError as exc:
                raise UsageError(f"{option} {value}: cannot write there: {exc}") from None

    def _register_reporters(self, plan: Plan, masker: Masker) -> list[str]:

        names: list[str] = []
        opts = self.options
        if opts.progress != "none" or opts.verbose:
            from ..report import console

            cls = console.ConsoleReporter
            if opts.progress == "rich":
                from ..report.live import LiveReporter

                cls = LiveReporter
            reporter = cls(
                stream=opts.stream,
                verbose=opts.verbose,
                progress=opts.progress != "none",
                root=self.config.root,
                named=plan.named,
                masker=masker,
            )
            reporter.warnings.extend(self.warnings)
            self.plugins.register_reporter(reporter, "buildsys.console")
            names.append("buildsys.console")
            if opts.verbose:
                self.plugins.register_reporter(console.OutputPrinter(reporter), "buildsys.output")
                names.append("buildsys.output")
        if opts.report_json:
            from ..report import json_report

            self.plugins.register_reporter(
                json_report.JsonReporter(Path(opts.report_json), masker, self.report_errors),
                "buildsys.json",
            )
            names.append("buildsys.json")
        if opts.junit_xml:
            from ..report import junit

            self.plugins.register_reporter(
                junit.JUnitReporter(Path(opts.junit_xml), masker, self.report_errors),
                "buildsys.junit",
            )
            names.append("buildsys.junit")
        return names

    def _execute(self, plan: Plan, masker: Masker, root: Path, started: float) -> ExecutionResult:
        specs = {s.name: s for s in plan.specs}
        observer = _HookObserver(self.plugins, specs)
        executor = ParallelExecutor(
            max_concurrency=plan.max_concurrency,
            continue_on_failure=plan.strategy == "parallel",
            kill_grace=self.config.run.kill_grace,
            log_dir=state_dir(root) / "logs",
            masker=masker,
            observer=observer,
            environ=self.environ,
        )
        self._executor = executor
        if self._killed:
            executor.kill()
        elif self._stop.is_set():
            executor.cancel(self._stop_reason)
        self._cache = self._open_cache(plan.specs)
        self.plugins.call(
            "buildsys_run_started", builds=plan.specs, max_concurrency=plan.max_concurrency
        )
        result = ExecutionResult(results=(), interrupted=self.interrupted)
        try:
            with project_lock(root, on_wait=observer.say, stop=self._stop) as locked:
                if not locked:
                    result = self._all_cancelled(plan, started)
                else:
                    presets = dict(plan.presets)
                    if self._cache is not None:
                        served, self._pending_warnings = self._cache.serve_unchanged(
                            plan.specs,
                            plan.presets,
                            self._version,
                            self.toolchains.of,
                            state_dir(root) / "logs",
                        )
                        for name, done in served.items():
                            extra = self.input_warnings(specs[name])
                            if extra:
                                done = attrs.evolve(done, warnings=(*done.warnings, *extra))
                            presets[name] = done
                    jobs = [self._job(spec) for spec in plan.specs]
                    result = executor.execute_jobs(jobs, self._build_fn(specs), presets=presets)
                    result = attrs.evolve(
                        result,
                        total_duration=time.monotonic() - started,
                        interrupted=self.interrupted,
                    )
                    if self.options.replay_key is not None:
                        from . import replay

                        replay.record(self, plan, result, masker, self._cache)
        finally:
            if self._cache is not None:
                for warning in self._cache.finish():
                    observer.say(f"warning: {warning}")
            self.toolchains.save()
            self.plugins.call("buildsys_run_finished", result=result)
        return result

    @property
    def input_tree(self) -> FileTree:
        """Where this run walks `inputs`: one tree for every build, with git's rules
        unless `[run] inputs-respect-gitignore = false`."""
        if self._input_tree is None:
            from ..config.patterns import FileTree

            self._input_tree = FileTree.for_inputs(
                self.config.root, self.config.run.inputs_respect_gitignore
            )
        return self._input_tree

    def input_warnings(
        self, spec: BuildSpec, *, walked: bool = True, planned: bool = False
    ) -> list[str]:
        """A warning for each `inputs` pattern of `spec` that matches no file.

        What the last walk of these patterns found (hashing them for the cache
        key walks them), unless `walked` is false or none happened: then a walk now.
        `planned`: nothing has run yet (check, --dry-run), so a pattern that may
        match what a build it depends on writes is not warned about.
        """
        if not spec.inputs:
            return []
        from ..config.patterns import PatternSet, may_overlap

        tree = self.input_tree
        unmatched = tree.unmatched.get(spec.inputs) if walked else None
        if unmatched is None:
            PatternSet(spec.inputs).files(self.config.root, tree)
            unmatched = tree.unmatched[spec.inputs]
        if planned and unmatched:
            upstream = self._upstream_outputs(spec)
            unmatched = tuple(
                p for p in unmatched if not any(may_overlap(p, out) for out in upstream)
            )
        why = " (files git ignores are left out)" if tree.ignore is not None else ""
        return [f"inputs pattern {pattern!r} matches no file{why}" for pattern in unmatched]

    def _upstream_outputs(self, spec: BuildSpec) -> list[str]:
        """The positive `outputs` patterns of every build `spec` depends on, at any depth."""
        outputs: list[str] = []
        seen: set[str] = set()
        pending = list(self.config.get(spec.name).for_profile(self.options.profile).depends_on)
        while pending:
            name = pending.pop()
            if name in seen or name not in self.config.names:
                continue
            seen.add(name)
            build = self.config.get(name).for_profile(self.options.profile)
            outputs.extend(p for p in build.outputs or () if not p.startswith("!"))
            pending.extend(build.depends_on)
        return outputs

    def cache_enabled(self) -> bool:
        if self.options.cache is not None:
            return self.options.cache
        return self.config.run.cache

    def _open_cache(self, specs: Sequence[BuildSpec] = ()) -> BuildCache | None:
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
            tree=self.input_tree,
        )

    def cache_forecast(self, plan: Plan) -> dict[str, str]:
        """For --dry-run: per build, whether it would come from the cache, or why not."""
        if not self.cache_enabled():
            return {s.name: "cache off" for s in plan.specs}
        cache = self._open_cache()
        assert cache is not None
        return cache.forecast(plan.specs, plan.presets, self._version, self.toolchains.of)

    def _version(self, platform: str) -> str | None:
        registered = self.plugins.registry.get(platform)
        return registered.version if registered is not None else None

    def _all_cancelled(self, plan: Plan, started: float) -> ExecutionResult:
        reason = self._stop_reason or "cancelled while waiting for the project lock"
        results = tuple(
            plan.presets.get(s.name) or _result(s, Status.CANCELLED, reason) for s in plan.specs
        )
        return ExecutionResult(results, time.monotonic() - started, interrupted=self.interrupted)

    def _job(self, spec: BuildSpec) -> Job:
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

    def _build_fn(self, specs: Mapping[str, BuildSpec]) -> Any:
        from ..host.context import current_context

        plugins = self.plugins

        def build(name: str) -> BuildResult | None:
            spec = specs[name]
            ctx = current_context()
            registered = plugins.registry.get(spec.platform)
            if registered is None:  # pragma: no cover - planning rejects these
                raise BuildFailed(
                    f"no builder for platform {spec.platform!r}", code="UNKNOWN_PLATFORM"
                )
            if spec.cwd not in self._dirs and not Path(spec.cwd).is_dir():
                what = "is not a directory" if Path(spec.cwd).exists() else "does not exist"
                raise BuildFailed(
                    f"the build's directory {spec.cwd} {what}",
                    suggestions=["create it, or fix `cwd` in builds.toml"],
                    code="CWD_NOT_FOUND",
                )
            self._dirs.add(spec.cwd)  # builds share directories: look each up once
            started_at = datetime.now(UTC)
            for warning in self._pending_warnings.pop(name, ()):
                ctx.warn(warning)
            cache = self._cache
            parts = None
            if cache is not None:
                parts = cache.key_parts(spec, registered.version, self.toolchains.of)
            # Hashing the inputs for the key walked them; without a key, walk now.
            for warning in self.input_warnings(spec, walked=parts is not None):
                ctx.warn(warning)
            if cache is not None and parts is not None:
                hit = cache.serve(spec, parts, started_at, ctx.log_path, ctx.log_note, ctx.attempt)
                for warning in cache.cache.take_warnings():
                    ctx.warn(warning)
                if hit is not None:
                    return attrs.evolve(hit, warnings=ctx.warnings)
            missing = self._prerequisites(spec)
            if missing and spec.skip_if_unavailable:
                return attrs.evolve(self._unavailable(spec, missing), warnings=ctx.warnings)
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
                self._diagnosis.explain(spec, exc, ctx.log_path)
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
            self._collect_outputs(spec, ctx)
            _check_artifacts(spec, ctx.artifacts, registered.plugin)
            if cache is not None and parts is not None:
                advice = cache.store_after(spec, parts, ctx.artifacts, ctx.log_path)
                for text in [*cache.cache.take_warnings(), *([advice] if advice else [])]:
                    ctx.warn(text)
            return None

        return build

    def _collect_outputs(self, spec: BuildSpec, ctx: Any) -> None:
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


class _HookObserver:
    """Turns executor callbacks into hook calls."""

    def __init__(self, plugins: PluginHost, specs: Mapping[str, BuildSpec]) -> None:
        self.plugins = plugins
        self.specs = specs
        self.wants_output = plugins.has_impl("buildsys_build_output")
        self._lock = threading.Lock()
        # Called per build, and per output line: bound once.
        self._started = plugins.caller("buildsys_build_started")
        self._finished = plugins.caller("buildsys_build_finished")
        self._output = plugins.caller("buildsys_build_output")

    def started(self, job: Job, attempt: int, ctx: Any) -> None:
        self._started(build=self.specs[job.name], attempt=attempt)

    def finished(self, result: BuildResult) -> None:
        self._finished(build=self.specs[result.name], result=result)

    def output(self, name: str, line: str) -> None:
        self._output(build=self.specs[name], line=line)

    def say(self, message: str) -> None:
        import sys

        print(f"buildsys: {message}", file=sys.stderr, flush=True)


def _accept_cli_spellings(overrides: dict[str, Any]) -> None:
    """The command line's names for options, as `run()` keywords: keep_going, fail_fast,
    continue_on_failure, no_cache and tag (`RunOptions` reads a duration string
    for timeout, as the command line does)."""
    if overrides.pop("keep_going", False):
        overrides.setdefault("strategy", "parallel")
    if overrides.pop("fail_fast", False):
        if overrides.get("strategy") == "parallel":
            raise UsageError("keep_going and fail_fast contradict each other; pick one")
        overrides["strategy"] = "stop-on-failure"
    if "continue_on_failure" in overrides:
        keep = overrides.pop("continue_on_failure")
        overrides.setdefault("strategy", "parallel" if keep else "stop-on-failure")
    if overrides.pop("no_cache", False):
        overrides["cache"] = False
    if "tag" in overrides:
        tag = overrides.pop("tag")
        overrides["tags"] = (*overrides.get("tags", ()), *([tag] if isinstance(tag, str) else tag))


def run(config: Config, names: Sequence[str] | None = None, **overrides: Any) -> ExecutionResult:
    """Build `names` (default: every build) of `config` and what they depend on.

    `overrides` are the fields of `RunOptions` (max_concurrency, strategy,
    timeout, profile, tags, args, cache, report_json, junit_xml, progress,
    verbose, stream), the command line's spellings (keep_going, fail_fast,
    continue_on_failure, no_cache, tag), plus `plugins` (a loaded
    `PluginHost`) and `environ`.
    """
    plugins = overrides.pop("plugins", None)
    environ = overrides.pop("environ", None)
    _accept_cli_spellings(overrides)
    if isinstance(names, str):
        names = [names]
    fields = [f.name for f in attrs.fields(RunOptions)]
    for key in overrides:
        if key not in fields:
            raise TypeError(f"run() got an unknown option {key!r}{did_you_mean(key, fields)}")
    return Run(config, names or (), RunOptions(**overrides), plugins, environ).execute()
