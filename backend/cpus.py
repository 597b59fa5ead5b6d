"""How many CPUs this process may really use: the default number of training processes.

`os.cpu_count()` counts the host's cores. A container (or taskset, or a systemd slice) gives
fewer: an affinity mask, or a CPU quota in its cgroup (`docker run --cpus 2`). One training
process per core beyond those only makes them take turns and be throttled.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

CGROUP_MOUNT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def available_cpus(mount: Path = CGROUP_MOUNT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The CPUs of the affinity mask, lowered to a cgroup quota when there is one (a
    quota of 1.5 CPUs gives 1: a second process would only be throttled); at least 1."""
    count = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(mount, proc_cgroup)
    if quota is not None:
        count = min(count, math.floor(quota))
    return max(1, count)


def cgroup_cpu_quota(mount: Path = CGROUP_MOUNT,
                     proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The tightest CPU quota (in CPUs) over this process's cgroup and its ancestors, cgroup
    v2 (`cpu.max`) or v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`); None without one."""
    quotas = [q for d in _cgroup_dirs(mount, proc_cgroup)
              if (q := _v2_quota(d / "cpu.max")) is not None
              or (q := _v1_quota(d)) is not None]
    return min(quotas, default=None)


def _cgroup_dirs(mount: Path, proc_cgroup: Path) -> list[Path]:
    """Where the quota may be: the process's own cgroup directories (its path from
    /proc/self/cgroup under the v2 mount and under v1's cpu controllers) and their
    ancestors up to the mount. In a container with its own cgroup namespace the mount is
    the container's cgroup itself, so the mount's root always counts."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    roots = [mount, mount / "cpu", mount / "cpu,cpuacct"]
    dirs: list[Path] = []
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":
            bases = [mount]  # v2's single hierarchy
        elif "cpu" in controllers.split(","):
            bases = [mount / "cpu", mount / "cpu,cpuacct"]
        else:
            continue
        parts = PurePosixPath(path or "/").parts[1:]
        for base in bases:
            dirs += [base.joinpath(*parts[:i]) for i in range(len(parts), 0, -1)]
    return [d for d in dict.fromkeys(dirs + roots) if d.is_dir()]


def _v2_quota(path: Path) -> float | None:
    """`cpu.max` holds "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(directory: Path) -> float | None:
    """v1's CFS quota: -1 for no limit."""
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None
