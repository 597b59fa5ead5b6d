"""The default number of training processes follows the CPUs the process may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.cpus import available_cpus, cgroup_cpu_quota
from backend.settings import Settings

HERE = len(os.sched_getaffinity(0))


def cgroup(tmp_path: Path, own: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake cgroup mount with `files` (paths under it) and a /proc/self/cgroup."""
    tmp_path.mkdir(exist_ok=True)
    mount = tmp_path / "cgroup"
    for name, text in files.items():
        (mount / name).parent.mkdir(parents=True, exist_ok=True)
        (mount / name).write_text(text)
    mount.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own)
    return mount, proc


def test_a_v2_quota_at_the_containers_root_sets_the_count(tmp_path: Path) -> None:
    # docker run --cpus 2 with its own cgroup namespace: the mount is the container's
    mount, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "200000 100000\n"})
    assert cgroup_cpu_quota(mount, proc) == 2.0
    assert available_cpus(mount, proc) == min(HERE, 2)


def test_a_fraction_of_a_cpu_gives_one_process_and_never_zero(tmp_path: Path) -> None:
    mount, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "150000 100000\n"})
    assert available_cpus(mount, proc) == 1
    mount, proc = cgroup(tmp_path / "b", "0::/\n", {"cpu.max": "50000 100000\n"})
    assert cgroup_cpu_quota(mount, proc) == 0.5 and available_cpus(mount, proc) == 1


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    mount, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_quota(mount, proc) is None
    assert available_cpus(mount, proc) == HERE
    empty, none = cgroup(tmp_path / "b", "", {})
    assert available_cpus(empty, none) == HERE


def test_the_tightest_quota_of_the_process_cgroup_and_its_parents_counts(
        tmp_path: Path) -> None:
    # on a host: the process sits deep in the hierarchy, a slice above it is limited
    mount, proc = cgroup(tmp_path, "0::/system.slice/app.service\n", {
        "system.slice/cpu.max": "100000 100000\n",
        "system.slice/app.service/cpu.max": "max 100000\n",
        "other.slice/cpu.max": "50000 100000\n"})  # not ours
    assert cgroup_cpu_quota(mount, proc) == 1.0


def test_a_v1_cfs_quota_counts(tmp_path: Path) -> None:
    mount, proc = cgroup(tmp_path, "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n", {
        "cpu,cpuacct/cpu.cfs_quota_us": "300000\n",
        "cpu,cpuacct/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_quota(mount, proc) == 3.0
    unlimited, proc = cgroup(tmp_path / "b", "4:cpu:/\n", {
        "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_quota(unlimited, proc) is None


def test_the_affinity_mask_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    mount, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "800000 100000\n"})
    assert available_cpus(mount, proc) == 3


def test_settings_default_to_the_available_cpus(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr("backend.settings.available_cpus", lambda: 3)
    monkeypatch.delenv("PLAYGROUND_WORKERS", raising=False)
    assert Settings(data_dir=tmp_path).workers == 3
    monkeypatch.setenv("PLAYGROUND_WORKERS", "5")
    assert Settings(data_dir=tmp_path).workers == 5
