"""From a validated `Config` to an `ExecutionResult`: one run's life cycle.

A `Runner` plans (`plan.py`: select builds, turn each into a `BuildSpec`,
decide what cannot run), then executes: it registers the run's reporters
(`report/wiring.py`), opens the cache and serves what is unchanged, hands
plain `Job`s to the executor, whose workers call the per-build step
(`step.py`), records the run for replay (`journal.py`) and saves what the run
learnt. `cancel()` and `kill()` may come from any thread (signal handlers).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..cache.toolchains import Toolchains
from ..config.keys import did_you_mean
from ..config.model import Config
from ..errors import UsageError
from ..host.facts import Host
from ..masking import Masker
from ..plugin.manager import PluginHost
from ..report.wiring import HookObserver, check_report_paths, reporters
from ..results import ExecutionResult, Status
from ..spec import BuildSpec
from .diagnosis import Diagnosis
from .executor import ParallelExecutor
from .inputs import Inputs
from .lock import project_lock, state_dir
from .plan import Plan, Planner, build_result
from .run_options import RunOptions
from .stale import stale_reason
from .step import BuildStep

if TYPE_CHECKING:
    from pathlib import Path

    from ..cache.keys import BuildCache
    from .record import RunRecord

__all__ = ["Runner", "run"]


class Runner:
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
        self._dirs: set[str] = set()
        # Fingerprints in each build's environment, memoised for the run and kept between runs.
        self.toolchains = Toolchains(
            self.plugins, self.host, self.environ, config.root / ".buildsys" / "toolchains"
        )
        self._diagnosis = Diagnosis(config.root, self.plugins, self.toolchains)
        self.inputs = Inputs(config, self.options.profile)
        self.planner = Planner(
            config,
            self.names,
            self.options,
            self.plugins,
            self.host,
            self.environ,
            self.toolchains,
            self.inputs,
        )

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
        return self.planner.plan()

    def cache_forecast(self, plan: Plan) -> dict[str, str]:
        """For --dry-run: per build, whether it would come from the cache, or why not."""
        return self.planner.cache_forecast(plan)

    def input_warnings(
        self, spec: BuildSpec, *, walked: bool = True, planned: bool = False
    ) -> list[str]:
        """A warning for each `inputs` pattern of `spec` that matches no file."""
        return self.inputs.warnings(spec, walked=walked, planned=planned)

    def _masker(self, specs: Sequence[BuildSpec]) -> Masker:
        masker = Masker.for_run(self.environ, specs)
        for name in masker.short_names:
            self.warnings.append(
                f"secret {name} is shorter than 8 characters and is not masked in logs and reports"
            )
        return masker

    # -- running -------------------------------------------------------------

    def execute(self, plan: Plan | None = None) -> ExecutionResult:
        plan = plan if plan is not None else self.plan()
        check_report_paths(self.options)
        started = time.monotonic()
        masker = self._masker(plan.specs)
        with reporters(
            self.plugins,
            self.options,
            root=self.config.root,
            named=plan.named,
            masker=masker,
            warnings=self.warnings,
            errors=self.report_errors,
        ):
            return self._execute(plan, masker, self.config.root, started)

    def _execute(self, plan: Plan, masker: Masker, root: Path, started: float) -> ExecutionResult:
        specs = {s.name: s for s in plan.specs}
        observer = HookObserver(self.plugins, specs)
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
        self._cache = self.planner.open_cache(plan.specs)
        self.plugins.call(
            "buildsys_run_started", builds=plan.specs, max_concurrency=plan.max_concurrency
        )
        result = ExecutionResult(results=(), interrupted=self.interrupted)
        try:
            with project_lock(root, on_wait=observer.say, stop=self._stop) as locked:
                if not locked:
                    result = self._all_cancelled(plan, started)
                else:
                    result = self._run_jobs(plan, specs, executor, started)
                    if self.options.replay_key is not None:
                        from . import journal

                        journal.record(self._record(plan, result, masker))
        finally:
            if self._cache is not None:
                for warning in self._cache.finish():
                    observer.say(f"warning: {warning}")
            self.toolchains.save()
            self.plugins.call("buildsys_run_finished", result=result)
        return result

    def _run_jobs(
        self,
        plan: Plan,
        specs: Mapping[str, BuildSpec],
        executor: ParallelExecutor,
        started: float,
    ) -> ExecutionResult:
        """Serve what is unchanged from the cache, then run the rest (the project lock held)."""
        presets = dict(plan.presets)
        pending: dict[str, list[str]] = {}
        if self._cache is not None:
            served, pending = self._cache.serve_unchanged(
                [s for s in plan.specs if stale_reason(self.plugins, s) is None],
                plan.presets,
                self.planner.version,
                self.toolchains.of,
                state_dir(self.config.root) / "logs",
            )
            for name, done in served.items():
                extra = self.inputs.warnings(specs[name])
                if extra:
                    done = attrs.evolve(done, warnings=(*done.warnings, *extra))
                presets[name] = done
        jobs = [self.planner.job(spec) for spec in plan.specs]
        step = BuildStep(
            specs,
            plugins=self.plugins,
            planner=self.planner,
            toolchains=self.toolchains,
            diagnosis=self._diagnosis,
            inputs=self.inputs,
            cache=self._cache,
            pending_warnings=pending,
            dirs=self._dirs,
        )
        result = executor.execute_jobs(jobs, step, presets=presets)
        return attrs.evolve(
            result, total_duration=time.monotonic() - started, interrupted=self.interrupted
        )

    def _record(self, plan: Plan, result: ExecutionResult, masker: Masker) -> RunRecord:
        """The finished run, for the replay journal: values, never the runner itself."""
        from .record import RunRecord, builder_checks, observing_plugins

        opts = self.options
        assert opts.replay_key is not None
        done = self._cache.done if self._cache is not None else {}
        return RunRecord(
            key=opts.replay_key,
            root=self.config.root,
            specs=plan.specs,
            result=result,
            masker=masker,
            cache=self._cache,
            environ=self.environ,
            max_concurrency=plan.max_concurrency,
            decided_early=bool(plan.presets),
            warnings=tuple(self.warnings),
            progress=opts.progress,
            verbose=opts.verbose,
            report_json=opts.report_json,
            junit_xml=opts.junit_xml,
            inputs_respect_gitignore=self.config.run.inputs_respect_gitignore,
            checks=builder_checks(
                self.plugins, list(dict.fromkeys(s.platform for s in plan.specs))
            ),
            # Each was taken for its build's key: asking again runs nothing.
            toolchains={s.name: self.toolchains.of(s) for s in plan.specs if s.name in done},
            observers=observing_plugins(self.plugins),
        )

    def _all_cancelled(self, plan: Plan, started: float) -> ExecutionResult:
        reason = self._stop_reason or "cancelled while waiting for the project lock"
        results = tuple(
            plan.presets.get(s.name) or build_result(s, Status.CANCELLED, reason)
            for s in plan.specs
        )
        return ExecutionResult(results, time.monotonic() - started, interrupted=self.interrupted)


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
    return Runner(config, names or (), RunOptions(**overrides), plugins, environ).execute()
