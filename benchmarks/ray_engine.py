"""What the Ray engine costs, on this machine: a head and two one-CPU worker nodes.

- the cluster's start, and its memory (resident, summed over its processes) without and
  with its two trainer actors, and what joining it adds to the server process;
- a job's round trip: the same tiny network's one-epoch slices (no frame, then with a
  frame) one after another on InlineEngine (a thread of this process, jobs pickled) and on
  a trainer actor; the difference is Ray's cost per job;
- a worker node killed (SIGKILL of its processes) during a run: seconds until the run's
  next epoch on the other node.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/ray_engine.py [--ray-health]
(--ray-health: Ray's own checks of the nodes' health, not the tests' quicker ones)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.experiments.config import parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.workers import Engine, InlineEngine, Job, ProcessEngine
from tests.raycluster import RayCluster

JOBS = 300
SMALL = {  # tests/conftest.py's: 2 hidden layers of 4 and 2 units, 100 training points
    "dataset": {"name": "circle", "n_samples": 200, "noise": 0.0, "train_fraction": 0.5},
    "features": ["x1", "x2"],
    "hidden_layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}],
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
}


def rss_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def round_trips(engine: Engine, frame: bool) -> list[float]:
    """Seconds per one-epoch job, one after another (the first, which sends the state
    whole and warms up, left out)."""
    exp = Experiment(f"bench-{frame}", parse_config(SMALL))
    times = []
    for i in range(JOBS + 1):
        job = Job(exp.id, epochs=1, seconds=1.0,
                  frame=(i + 1, 40, 10, True, 0) if frame else None)
        began = time.perf_counter()
        result = await engine.run(exp, job)
        assert result is not None and result.epochs == 1
        if i:
            times.append(time.perf_counter() - began)
    return times


async def throughput(engine: Engine, runs: int = 8, seconds: float = 5.0) -> float:
    """Epochs a second of `runs` experiments training at once, each slice 4 ms (the
    runner's TURN) as the runner's loop asks them, without frames: the engine's share of
    a class's throughput."""
    exps = [Experiment(f"many-{i}", parse_config(SMALL)) for i in range(runs)]
    for exp in exps:  # each sent whole once, before the clock starts
        await engine.run(exp, Job(exp.id, epochs=1, seconds=1.0))
    until = time.monotonic() + seconds
    epochs = 0

    async def loop(exp: Experiment) -> None:
        nonlocal epochs
        while time.monotonic() < until:
            result = await engine.run(exp, Job(exp.id, epochs=1_000_000, seconds=0.004))
            epochs += result.epochs if result is not None else 0

    await asyncio.gather(*(loop(exp) for exp in exps))
    return epochs / seconds


def summary(name: str, times: list[float]) -> float:
    p50 = statistics.median(times) * 1e3
    p99 = sorted(times)[int(0.99 * len(times))] * 1e3
    print(f"  {name:32s} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return p50


async def main() -> None:
    inline = InlineEngine()
    results = {}
    for frame in (False, True):
        results[("inline", frame)] = summary(f"inline, frame={frame}",
                                             await round_trips(inline, frame))
    await inline.close()
    processes = ProcessEngine(2)
    local = await throughput(processes)
    await processes.close()
    print(f"8 runs on ProcessEngine(2): {local:.0f} epochs/s")

    before = rss_self()
    cluster = RayCluster(workers=2, health={} if "--ray-health" in sys.argv else None)
    try:
        print(f"cluster start (head + 2 nodes): {cluster.start_seconds:.1f} s")
        print(f"cluster memory, no actors: {cluster.rss() / 2**20:.0f} MiB in "
              f"{len(cluster.pids())} processes")
        from backend.experiments.rayengine import RayEngine

        began = time.monotonic()
        engine = RayEngine(cluster.address)
        print(f"server joins, 2 trainers ready: {time.monotonic() - began:.1f} s")
        print(f"cluster memory, 2 trainers: {cluster.rss() / 2**20:.0f} MiB in "
              f"{len(cluster.pids())} processes")
        for frame in (False, True):
            results[("ray", frame)] = summary(f"ray actor, frame={frame}",
                                              await round_trips(engine, frame))
        remote = await throughput(engine)
        print(f"8 runs on 2 trainer actors: {remote:.0f} epochs/s "
              f"({remote / local:.2f}x the processes')")
        print(f"cluster memory, 2 trainers after {2 * JOBS} jobs: "
              f"{cluster.rss() / 2**20:.0f} MiB")
        print(f"server process: +{(rss_self() - before) / 2**20:.0f} MiB with ray joined")
        for frame in (False, True):
            print(f"Ray's cost per job (p50), frame={frame}: "
                  f"{results[('ray', frame)] - results[('inline', frame)]:.2f} ms")

        # a node killed during a run: its next epoch on the other node
        exp = Experiment("bench-kill", parse_config(SMALL))
        job = Job(exp.id, epochs=1, seconds=1.0)
        await engine.run(exp, job)
        actor = engine.actors[engine.placed[exp.id].slot]
        node = next(n for n in cluster.nodes if n.node_id == actor.node)
        killed = time.monotonic()
        cluster.remove(node)
        result = await engine.run(exp, Job(exp.id, epochs=1, seconds=1.0))
        assert result is not None and result.epochs == 1
        print(f"node killed -> next epoch on the other node: "
              f"{time.monotonic() - killed:.2f} s")
        await engine.close()
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
