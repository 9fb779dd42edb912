"""The machine's facts: cgroup CPU quotas (v1 and v2, nested) and usable CPUs.

Each cgroup case is a fake tree in tmp_path (conftest's `fake_cgroups`): a
`/proc/self/cgroup` file and a cgroup mount with the files the kernel would
show, handed to `cgroup_cpu_limit(self_cgroup, cgroup_root)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildsys.host.facts import cgroup_cpu_limit, usable_cpus
from conftest import fake_cgroups


def limit(tmp_path: Path, membership: str | bytes, files: dict[str, str | bytes]) -> float | None:
    return cgroup_cpu_limit(*fake_cgroups(tmp_path, membership, files))


V2 = "0::/user.slice/app.slice/job.scope\n"
V2_LEAF = "user.slice/app.slice/job.scope"


# -- cgroup v2: cpu.max ----------------------------------------------------------------


def test_v2_leaf_quota(tmp_path):
    files = {
        f"{V2_LEAF}/cpu.max": "150000 100000\n",
        "user.slice/app.slice/cpu.max": "max 100000\n",
        "user.slice/cpu.max": "max 100000\n",
    }
    assert limit(tmp_path, V2, files) == 1.5


def test_v2_parent_quota_applies_to_a_leaf_at_max(tmp_path):
    files = {
        f"{V2_LEAF}/cpu.max": "max 100000\n",
        "user.slice/app.slice/cpu.max": "200000 100000\n",
        "user.slice/cpu.max": "max 100000\n",
    }
    assert limit(tmp_path, V2, files) == 2.0


def test_v2_a_grandparent_quota_is_found_through_parents_without_one(tmp_path):
    # The parent has no cpu.max at all (the controller is not enabled there).
    files = {f"{V2_LEAF}/cpu.max": "max 100000\n", "user.slice/cpu.max": "50000 100000\n"}
    assert limit(tmp_path, V2, files) == 0.5


def test_v2_the_smallest_quota_along_the_path_wins(tmp_path):
    files = {
        f"{V2_LEAF}/cpu.max": "300000 100000\n",  # 3 CPUs
        "user.slice/app.slice/cpu.max": "50000 50000\n",  # 1 CPU, another period
        "user.slice/cpu.max": "400000 200000\n",  # 2 CPUs
        "cpu.max": "800000 100000\n",  # 8 CPUs at the root (a container's own cgroup)
    }
    assert limit(tmp_path, V2, files) == 1.0


def test_v2_max_everywhere_is_no_limit(tmp_path):
    files = {
        f"{V2_LEAF}/cpu.max": "max 100000\n",
        "user.slice/app.slice/cpu.max": "max 100000\n",
        "user.slice/cpu.max": "max 100000\n",
        "cpu.max": "max 100000\n",
    }
    assert limit(tmp_path, V2, files) is None


def test_v2_a_container_sees_its_own_cgroup_at_the_root(tmp_path):
    assert limit(tmp_path, "0::/\n", {"cpu.max": "250000 100000\n"}) == 2.5


def test_v2_a_path_missing_from_the_mount_still_reads_the_root(tmp_path):
    # /proc/self/cgroup names the host's path; the container mounts only its own cgroup.
    assert limit(tmp_path, "0::/docker/0123abcd\n", {"cpu.max": "100000 100000\n"}) == 1.0


# -- cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us -----------------------------------------


def v1_files(mount: str, quotas: dict[str, tuple[str, str]]) -> dict[str, str]:
    files = {}
    for rel, (quota, period) in quotas.items():
        where = f"{mount}/{rel}" if rel else mount
        files[f"{where}/cpu.cfs_quota_us"] = f"{quota}\n"
        files[f"{where}/cpu.cfs_period_us"] = f"{period}\n"
    return files


@pytest.mark.parametrize(
    ("membership", "mount"),
    [
        ("4:cpu,cpuacct:/docker/abc\n", "cpu,cpuacct"),
        ("4:cpuacct,cpu:/docker/abc\n", "cpuacct,cpu"),
        ("4:cpu,cpuacct:/docker/abc\n", "cpu"),  # mounted (or linked) as plain `cpu`
        ("1:cpu:/docker/abc\n2:cpuacct:/docker/abc\n", "cpu"),  # cpu on its own
    ],
)
def test_v1_leaf_quota(tmp_path, membership, mount):
    quotas = {"docker/abc": ("50000", "100000"), "docker": ("-1", "100000"), "": ("-1", "100000")}
    assert limit(tmp_path, membership, v1_files(mount, quotas)) == 0.5


@pytest.mark.parametrize(
    ("membership", "mount"),
    [("4:cpu,cpuacct:/kubepods/pod1/ctr\n", "cpu,cpuacct"), ("1:cpu:/kubepods/pod1/ctr\n", "cpu")],
)
def test_v1_parent_quota_applies_to_a_leaf_at_minus_one(tmp_path, membership, mount):
    quotas = {
        "kubepods/pod1/ctr": ("-1", "100000"),
        "kubepods/pod1": ("300000", "100000"),
        "kubepods": ("400000", "100000"),
        "": ("-1", "100000"),
    }
    assert limit(tmp_path, membership, v1_files(mount, quotas)) == 3.0


def test_v1_minus_one_everywhere_is_no_limit(tmp_path):
    quotas = {"a/b": ("-1", "100000"), "a": ("-1", "100000"), "": ("-1", "100000")}
    assert limit(tmp_path, "3:cpu,cpuacct:/a/b\n", v1_files("cpu,cpuacct", quotas)) is None


def test_v1_quota_without_a_period_sets_no_limit(tmp_path):
    files = {"cpu/a/cpu.cfs_quota_us": "50000\n"}
    assert limit(tmp_path, "1:cpu:/a\n", files) is None


def test_v1_controller_mounted_nowhere_is_no_limit(tmp_path):
    # Listed in /proc/self/cgroup, but no cpu hierarchy under the root.
    files = v1_files("memory", {"a": ("50000", "100000")})
    assert limit(tmp_path, "1:cpu:/a\n", files) is None


def test_hybrid_hierarchy_reads_the_v1_cpu_controller(tmp_path):
    # systemd's hybrid layout: v2 (no cpu controller) beside v1 cpu.
    membership = "0::/user.slice\n1:cpu:/user.slice\n2:memory:/user.slice\n"
    files = {**v1_files("cpu", {"user.slice": ("120000", "100000")}), "unified/cgroup.procs": ""}
    assert limit(tmp_path, membership, files) == 1.2


# -- what is missing or malformed sets no limit, and never raises ---------------------------


def test_no_cpu_controller_listed_is_no_limit(tmp_path):
    # A quota on disk, but the process is not in the cpu hierarchy.
    files = v1_files("cpu", {"a": ("50000", "100000")})
    assert limit(tmp_path, "9:memory:/a\n8:pids:/a\n", files) is None


def test_v2_without_cpu_max_anywhere_is_no_limit(tmp_path):
    files = {f"{V2_LEAF}/cgroup.procs": "", "cgroup.controllers": "memory pids\n"}
    assert limit(tmp_path, V2, files) is None


def test_missing_files_are_no_limit(tmp_path):
    assert cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "nowhere") is None
    self_cgroup, _ = fake_cgroups(tmp_path, V2, {})
    assert cgroup_cpu_limit(self_cgroup, tmp_path / "nowhere") is None


MALFORMED_CPU_MAX = [
    "",
    "\n",
    "150000\n",  # no period
    "150000 100000 7\n",
    "lots 100000\n",
    "150000 often\n",
    "0 100000\n",
    "-5 100000\n",
    "150000 0\n",
    "1.5 1\n",
    b"\xff\xfe 100000\n",
]


@pytest.mark.parametrize("content", MALFORMED_CPU_MAX)
def test_a_malformed_cpu_max_sets_no_limit_at_its_level(tmp_path, content):
    leaf_only = tmp_path / "leaf-only"
    leaf_only.mkdir()
    assert limit(leaf_only, V2, {f"{V2_LEAF}/cpu.max": content}) is None
    with_parent = tmp_path / "with-parent"
    with_parent.mkdir()
    files = {f"{V2_LEAF}/cpu.max": content, "user.slice/cpu.max": "200000 100000\n"}
    assert limit(with_parent, V2, files) == 2.0


@pytest.mark.parametrize(
    ("quota", "period"),
    [("", "100000"), ("abc", "100000"), ("50000", "x"), ("50000", "0"), ("0", "100000")],
)
def test_malformed_v1_files_set_no_limit_at_their_level(tmp_path, quota, period):
    quotas = {"a/b": (quota, period), "a": ("150000", "100000")}
    assert limit(tmp_path, "1:cpu:/a/b\n", v1_files("cpu", quotas)) == 1.5


@pytest.mark.parametrize(
    "membership",
    [
        "",
        "\n\n",
        "garbage\n",
        "1:cpu\n",  # one colon
        b"\xff\xfe:\x00:\n",
        b"1:cpu:/a\x00\n",
    ],
)
def test_malformed_proc_self_cgroup_is_no_limit(tmp_path, membership):
    assert limit(tmp_path, membership, v1_files("cpu", {"a": ("50000", "100000")})) is None


def test_a_malformed_line_does_not_hide_the_others(tmp_path):
    membership = "nonsense\n12\n1:cpu:/a\n"
    assert limit(tmp_path, membership, v1_files("cpu", {"a": ("50000", "100000")})) == 0.5


def test_a_path_climbing_out_of_the_mount_reads_only_the_root(tmp_path):
    # cpu/../../outside is tmp_path/outside, beside the fake mount.
    outside = {"../outside/cpu.cfs_quota_us": "10000\n", "../outside/cpu.cfs_period_us": "100000\n"}
    files = {**v1_files("cpu", {"": ("200000", "100000")}), **outside}
    assert limit(tmp_path, "1:cpu:/../../outside\n", files) == 2.0


# -- usable_cpus: affinity, capped by the quota ----------------------------------------------


def affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def v2_quota(tmp_path: Path, cpus: float | None) -> dict[str, Path]:
    """usable_cpus' keyword arguments for a fake v2 tree whose parent allows `cpus`."""
    parent = "max 100000\n" if cpus is None else f"{round(cpus * 100000)} 100000\n"
    files = {f"{V2_LEAF}/cpu.max": "max 100000\n", "user.slice/cpu.max": parent}
    self_cgroup, root = fake_cgroups(tmp_path, V2, files)
    return {"self_cgroup": self_cgroup, "cgroup_root": root}


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (None, affinity()),  # no quota: the affinity mask
        (1000.0, affinity()),  # a quota above the mask: the mask
        (1.0, 1),
        (0.3, 1),  # never below one
        (1.5, min(affinity(), 2)),  # part of a CPU counts as one more
    ],
)
def test_usable_cpus_caps_the_affinity_with_the_quota(tmp_path, cpus, expected):
    assert usable_cpus(**v2_quota(tmp_path, cpus)) == expected


USABLE = """
import sys
from buildsys.host.facts import usable_cpus
print(usable_cpus(self_cgroup=sys.argv[1], cgroup_root=sys.argv[2]))
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or affinity() < 2,
    reason="needs CPU affinity control and two CPUs",
)
@pytest.mark.parametrize(("cpus", "expected"), [(None, 1), (4.0, 1), (0.5, 1)])
def test_usable_cpus_of_a_process_pinned_to_one_cpu(tmp_path, cpus, expected):
    """A real process whose affinity is one CPU: a larger quota does not raise it."""
    kw = v2_quota(tmp_path, cpus)
    cpu = min(os.sched_getaffinity(0))
    proc = subprocess.run(
        [sys.executable, "-c", USABLE, str(kw["self_cgroup"]), str(kw["cgroup_root"])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == expected


def test_usable_cpus_of_this_machine_is_within_its_affinity():
    assert 1 <= usable_cpus() <= affinity()
