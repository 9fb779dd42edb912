"""The machine builds run on: what it is, what is on it, and the processes started on it.

Owns the host facts a builder's `check` and `fingerprint` read (`Host`, CPU and
cgroup limits), finding programs on PATH and probing their versions
(`find_tool`, `Fingerprint`, `probe`, and the per-run memo behind them),
supervising subprocesses (process groups, the child subreaper, process-tree
walks, streamed logs) and the `BuildContext` through which a build starts them.
It sits below `plugin/` because builders receive these objects, and it may
import only the top-level value modules (`errors`, `masking`, `_converters`, ...).
Plugin authors reach it through `buildsys`'s own names, not these modules.
"""
