"""A Ray cluster on this machine, for the Ray tests and the cluster benchmark: a head that
trains nothing (num_cpus=0) and worker nodes of one CPU each, all on 127.0.0.1, with no
dashboard and no usage stats. Nodes are processes: they can be removed (killed) one by
one, as a machine of a real cluster dies."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

# Found dead within ~3 s of its last heartbeat rather than Ray's default ~30 s (a node
# removed gracefully says so at once; one killed is found by these checks).
HEALTH = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
          "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}


class RayCluster:
    def __init__(self, workers: int = 2, cpus: int = 1,
                 health: dict[str, int] | None = None) -> None:
        """`health`: the GCS's checks of the nodes (default HEALTH; {}: Ray's own)."""
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        from ray.cluster_utils import Cluster

        began = time.monotonic()
        self.cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "include_dashboard": False, "node_ip_address": "127.0.0.1",
            "_system_config": HEALTH if health is None else health})
        self.nodes = [self.add(cpus) for _ in range(workers)]
        self.cluster.wait_for_nodes()
        self.start_seconds = time.monotonic() - began

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add(self, cpus: int = 1) -> Any:
        return self.cluster.add_node(num_cpus=cpus, node_ip_address="127.0.0.1")

    def remove(self, node: Any, graceful: bool = False) -> None:
        """Kill a worker node's processes (its raylet, its actors), as a machine dies: all
        at once (Ray's own removal leaves the workers to notice their raylet is gone)."""
        doomed = self.pids([node])
        if not graceful:
            for pid in doomed:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.cluster.remove_node(node, allow_graceful=graceful)
        self.nodes.remove(node)

    def pids(self, nodes: list[Any] | None = None) -> list[int]:
        """The processes of the nodes (default: all): their own and all below them."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
        nodes = self.cluster.list_all_nodes() if nodes is None else nodes
        found = {p.process.pid for node in nodes
                 for infos in node.all_processes.values() for p in infos}
        while True:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            if not more:
                return sorted(found)
            found |= more

    def rss(self) -> int:
        """Bytes of memory the cluster's processes hold (resident, summed; Linux)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def shutdown(self) -> None:
        """Disconnect this process (if it is) and stop every node: the detached actors
        go with their nodes."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        self.cluster.shutdown()
