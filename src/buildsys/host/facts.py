"""Facts about the machine a run happens on: OS name, architecture, usable CPUs."""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = [
    "CGROUP_ROOT",
    "KNOWN_OS",
    "SELF_CGROUP",
    "Host",
    "cgroup_cpu_limit",
    "os_name",
    "usable_cpus",
]

KNOWN_OS = ("linux", "darwin", "windows")


def os_name() -> str:
    """`linux`, `darwin` or `windows`, the values `requires-os` takes."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


# Where Linux says which cgroups this process is in, and where their files are.
SELF_CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"
# cgroup v1 mounts the cpu controller on its own or with cpuacct, under either name.
_V1_CPU_MOUNTS = ("cpu,cpuacct", "cpuacct,cpu", "cpu")


def cgroup_cpu_limit(
    self_cgroup: str | os.PathLike[str] | None = None,
    cgroup_root: str | os.PathLike[str] | None = None,
) -> float | None:
    """CPUs' worth of time this process's cgroups allow (quota / period), or None if unlimited.

    Any cgroup from the process's own up to the root may set a quota, and the
    smallest one applies: a leaf at `max` under a parent at 2 CPUs gets 2.
    cgroup v2 reads `cpu.max`, v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`;
    a level whose files are missing or malformed sets no limit. The paths
    default to `SELF_CGROUP` and `CGROUP_ROOT`, read when called.
    """
    try:
        text = Path(SELF_CGROUP if self_cgroup is None else self_cgroup).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    root = Path(CGROUP_ROOT if cgroup_root is None else cgroup_root)
    limits: list[float] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            base: Path | None = root
            read = _v2_limit
        elif "cpu" in controllers.split(","):
            base = _v1_mount(root, controllers)
            read = _v1_limit
        else:
            continue
        if base is None:
            continue
        for directory in _up_to_root(base, path):
            limit = read(directory)
            if limit is not None:
                limits.append(limit)
    return min(limits, default=None)


def _v1_mount(root: Path, controllers: str) -> Path | None:
    for name in dict.fromkeys((controllers, *_V1_CPU_MOUNTS)):
        if (root / name).is_dir():
            return root / name
    return None


def _up_to_root(base: Path, path: str) -> list[Path]:
    """`base/path`, each of its parents, and `base` itself (a container sees its own
    cgroup at the root, whatever path /proc/self/cgroup gives)."""
    parts = [p for p in path.split("/") if p]
    if ".." in parts:  # not from the kernel: read no directory outside `base`
        return [base]
    return [base.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_limit(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if quota == "max":
        return None
    return _ratio(quota, period)


def _v1_limit(directory: Path) -> float | None:
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text(encoding="utf-8").strip()
        period = (directory / "cpu.cfs_period_us").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return _ratio(quota, period)  # -1 is unlimited, like any quota not above zero


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def usable_cpus(
    *,
    self_cgroup: str | os.PathLike[str] | None = None,
    cgroup_root: str | os.PathLike[str] | None = None,
) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit(self_cgroup, cgroup_root)
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


@attrs.frozen
class Host:
    """What builders' `check()` and `fingerprint()` receive about the machine."""

    os: str = attrs.field(factory=os_name)
    arch: str = attrs.field(factory=platform.machine)
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False, eq=False)
