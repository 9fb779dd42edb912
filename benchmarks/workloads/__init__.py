"""The workloads, one module each, in the order a full run takes them.

Each module's docstring says what it runs, what it measures and the targets;
its ``run(bench)`` returns the figures. ``default`` workloads run when
``--only`` is not given; the others take minutes, or tools fetched from a
registry, and run only when named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness import Bench, Figure

from . import board, chain16, loaded, mixed, noop, scale, sleep, startup, true, web, workspace


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Bench], list[Figure]]
    default: bool = True


WORKLOADS = (
    Workload("sleep", sleep.run),
    Workload("true", true.run),
    Workload("noop", noop.run),
    Workload("web", web.run),
    Workload("startup", startup.run),
    Workload("mixed", mixed.run),
    Workload("loaded", loaded.run),
    Workload("board", board.run),
    Workload("chain16", chain16.run, default=False),
    Workload("workspace", workspace.run, default=False),
    Workload("scale", scale.run, default=False),
)
BY_NAME = {workload.name: workload for workload in WORKLOADS}
DEFAULT = tuple(workload.name for workload in WORKLOADS if workload.default)
