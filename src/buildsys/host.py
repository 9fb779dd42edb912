"""Facts about the machine a run happens on: OS name, architecture, usable CPUs."""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = ["KNOWN_OS", "Host", "os_name", "usable_cpus"]

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


def _cgroup_cpu_limit() -> float | None:
    """The CPU quota of this process's cgroup (v2 `cpu.max`, or v1), if one is set."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        candidates: list[tuple[str, str | None]] = []
        if controllers == "":
            candidates.append((f"/sys/fs/cgroup{path}/cpu.max", None))
            candidates.append(("/sys/fs/cgroup/cpu.max", None))
        elif "cpu" in controllers.split(","):
            for base in ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"):
                candidates.append(
                    (f"{base}{path}/cpu.cfs_quota_us", f"{base}{path}/cpu.cfs_period_us")
                )
                candidates.append((f"{base}/cpu.cfs_quota_us", f"{base}/cpu.cfs_period_us"))
        for quota_file, period_file in candidates:
            try:
                text = Path(quota_file).read_text().split()
                if period_file is None:
                    quota, period = text[0], text[1]
                else:
                    quota, period = text[0], Path(period_file).read_text().strip()
            except (OSError, IndexError):
                continue
            if quota in ("max", "-1"):
                return None
            try:
                return int(quota) / int(period)
            except (ValueError, ZeroDivisionError):
                return None
    return None


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


@attrs.frozen
class Host:
    """What builders' `check()` and `fingerprint()` receive about the machine."""

    os: str = attrs.field(factory=os_name)
    arch: str = attrs.field(factory=platform.machine)
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False, eq=False)
