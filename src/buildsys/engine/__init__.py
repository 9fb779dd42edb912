"""Running a planned set of builds: plan, decide, execute, and answer a no-op from its journal.

Owns the run's life cycle (`runner`), planning (`plan`: select and plan the
builds, decide which need not run: host skips, toolchain problems; `run_options`,
`inputs`), the per-build step (`step`: cache lookup, the builder's `build`,
outputs checked and stored), the scheduler and its `Executor` seam (the
thread pool, `ParallelExecutor`; a cluster executor lives beside it), failure
diagnosis through the catalogues and hooks, the project lock, and the replay
journal (`record`, `journal`, `lognotes`, `replay`). It is named `engine`, not `run`, because
`buildsys.run` is the public function. It may import `cache/`, `report/`,
`config/`, `plugin/`, `host/` and the top-level value modules; only `cli/`
and the `buildsys` facade import it.
"""
