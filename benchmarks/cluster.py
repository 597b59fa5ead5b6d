"""Cluster benchmark: the class benchmark in local mode and on Ray with 2 replicas, one run.

Local: one `playground serve` (SQLite, one training process per CPU: 2 here).
Ray: a Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head with no CPU for
training and 2 worker nodes of 1 CPU each, so 2 trainer actors, as local mode's 2
processes), a fresh database in the private PostgreSQL (scripts/postgres.sh) and 2 replicas
(`playground serve`, cluster=ray). Students are created on the replicas in turn; each
one's viewer connects to the replica that owns it, or, in a second run, to the other one,
which relays every frame. Both setups stay up throughout, and the three runs take turns,
round after round: one machine's figures drift from minute to minute.

Measured, for each run (medians over the rounds): epochs a second per student (min /
median) and in all, frames a second per student, the latency of a frame from its trainer
to its viewer (the build time in the frame's header to the moment the viewer has it: p50
and p99; one machine, one clock), /api/meta's p50 and p99 meanwhile, and the memory (RSS)
of each piece. R, the bare NumPy loop of benchmarks/classroom.py, is measured in the same
run.

Targets (issue 20): Ray mode's epochs a second in all >= 0.7 x local mode's, frame latency
p99 <= 100 ms.

    python benchmarks/cluster.py [--students 30] [--seconds 10] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classroom import SPIRAL, Viewer, pct, reference, student, view
from benchmarks.server import ROOT, free_port, start_server
from tests.raycluster import RayCluster

THROUGHPUT = 0.7  # Ray's epochs a second in all, as a share of local mode's, at least
LATENCY_P99_MS = 100.0


async def meta_latency(base: str, stop: asyncio.Event, out: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            began = time.monotonic()
            (await http.get("/api/meta")).raise_for_status()
            out.append(time.monotonic() - began)
            await asyncio.sleep(0.05)


async def run_class(bases: list[str], k: int, seconds: float,
                    across: bool = False) -> dict[str, Any]:
    """K students made on the replicas in turn, each watched through the replica it was
    made on (its owner), or `across`: through the next one, which relays every frame."""
    clients = [httpx.AsyncClient(base_url=b, timeout=60) for b in bases]
    try:
        made = []
        for i in range(k):
            r = await clients[i % len(bases)].post("/api/experiments", json=student(i, SPIRAL))
            r.raise_for_status()
            made.append(r.json())
        stop, done = asyncio.Event(), asyncio.Event()
        seen = [Viewer() for _ in made]
        sockets = [bases[(i + across) % len(bases)].replace("http", "ws", 1) +
                   f"/ws/experiments/{m['id']}" for i, m in enumerate(made)]
        tasks = [asyncio.create_task(view(url, m["edit_token"], stop, s))
                 for url, m, s in zip(sockets, made, seen, strict=True)]
        await asyncio.sleep(3.0 + k / 50)  # warm-up: sockets open, every run under way
        meta: list[float] = []
        poller = asyncio.create_task(meta_latency(bases[-1], done, meta))
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        t1 = time.monotonic()
        done.set()
        stop.set()
        await asyncio.gather(*tasks, poller)
        for i, m in enumerate(made):
            await clients[i % len(bases)].delete(
                f"/api/experiments/{m['id']}",
                headers={"Authorization": f"Bearer {m['edit_token']}"})
    finally:
        for c in clients:
            await c.aclose()
    fps, eps, latency = [], [], []
    for s in seen:
        inside = [(t, e) for t, e in s.frames if t0 <= t <= t1]
        fps.append(len(inside) / (t1 - t0))
        eps.append((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
                   if len(inside) > 1 else 0.0)
        latency += [lat for (t, _), lat in zip(s.frames, s.latency, strict=True)
                    if t0 <= t <= t1]
    return {"fps_min": min(fps), "fps_median": statistics.median(fps),
            "eps_min": min(eps), "eps_median": statistics.median(eps), "eps_total": sum(eps),
            "latency_p50_ms": 1000 * pct(latency, 0.5),
            "latency_p99_ms": 1000 * pct(latency, 0.99), "frames": len(latency),
            "meta_p50_ms": 1000 * pct(meta, 0.5), "meta_p99_ms": 1000 * pct(meta, 0.99)}


# memory --------------------------------------------------------------------------------
def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def memory(pieces: dict[str, list[int]]) -> dict[str, float]:
    """MB of RSS of each named group of process trees."""
    return {name: sum(_rss_kb(p) for root in roots for p in _tree(root)) / 1024
            for name, roots in pieces.items()}


def ray_memory(cluster: RayCluster) -> dict[str, float]:
    """The Ray cluster's processes by kind (their command lines name them)."""
    kinds = {"Ray: trainer actors (2)": "ray::Trainer", "Ray: GCS (head)": "gcs_server",
             "Ray: raylets (3 nodes)": "raylet"}
    out = {name: 0.0 for name in [*kinds, "Ray: the rest (agents, monitors, idle workers)"]}
    for pid in cluster.pids():
        line = _cmdline(pid)
        name = next((n for n, key in kinds.items() if key in line),
                    "Ray: the rest (agents, monitors, idle workers)")
        out[name] += _rss_kb(pid) / 1024
    return out


# the two modes -------------------------------------------------------------------------
@contextlib.contextmanager
def local_mode() -> Iterator[tuple[list[str], Callable[[], dict[str, float]]]]:
    """One server (one training process per CPU, SQLite): its address, and its memory."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_server(port, data_dir)
        try:
            yield [f"http://127.0.0.1:{port}"], lambda: memory(
                {"local: the server with its 2 training processes": [proc.pid]})
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def postgres_database(name: str) -> str:
    """A fresh database in the private PostgreSQL (started if need be); its URL."""
    import psycopg

    url = subprocess.run([str(ROOT / "scripts" / "postgres.sh")], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name}")
        db.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/playground", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*")
            if _cmdline(int(p.name)).startswith("postgres")]


@contextlib.contextmanager
def ray_mode() -> Iterator[tuple[list[str], Callable[[], dict[str, float]]]]:
    """A Ray cluster (head + 2 one-CPU nodes), PostgreSQL and 2 replicas: their addresses,
    and the memory of each piece."""
    cluster = RayCluster(workers=2, cpus=1)
    replicas: list[subprocess.Popen[bytes]] = []
    url = postgres_database(f"bench_cluster_{os.getpid()}")
    try:
        env = {"PLAYGROUND_CLUSTER": "ray", "PLAYGROUND_RAY_ADDRESS": cluster.address,
               "PLAYGROUND_DATABASE_URL": url}
        ports = [free_port(), free_port()]
        with tempfile.TemporaryDirectory() as data_dir:
            replicas = [start_server(port, data_dir, **env) for port in ports]
            yield [f"http://127.0.0.1:{p}" for p in ports], lambda: {
                **memory({"a replica (each; joined to Ray)": [replicas[0].pid]}),
                **ray_memory(cluster),
                "PostgreSQL (every process)": sum(_rss_kb(p) for p in postgres_pids()) / 1024}
    finally:
        for proc in replicas:
            proc.terminate()
        for proc in replicas:
            proc.wait(timeout=30)
        cluster.shutdown()
        drop_database(url)


def table(rows: list[dict[str, Any]], r: float) -> str:
    lines = ["| mode | frames/s per student (min / median) | epochs/s per student (min / "
             "median) | epochs/s in all | frame latency p50 / p99 (ms) | /api/meta p50 / p99 "
             "(ms) |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['fps_min']:.1f} / {row['fps_median']:.1f} | "
            f"{row['eps_min']:.1f} / {row['eps_median']:.1f} | {row['eps_total']:.0f} "
            f"({row['eps_total'] / r:.2f} R) | {row['latency_p50_ms']:.1f} / "
            f"{row['latency_p99_ms']:.1f} | {row['meta_p50_ms']:.1f} / "
            f"{row['meta_p99_ms']:.1f} |")
    return "\n".join(lines)


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3,
                   help="local, Ray (viewers on the owner), Ray (viewers across), in turn, "
                        "this many times: one machine's figures drift from minute to minute")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = reference()
    modes: dict[str, list[dict[str, Any]]] = {"local": [], "owner": [], "across": []}
    with local_mode() as (local, local_memory), ray_mode() as (replicas, ray_memory_now):
        for _ in range(args.rounds):
            k, seconds = args.students, args.seconds
            modes["local"].append(asyncio.run(run_class(local, k, seconds)))
            modes["owner"].append(asyncio.run(run_class(replicas, k, seconds)))
            modes["across"].append(asyncio.run(run_class(replicas, k, seconds, True)))
        mem = {**local_memory(), **ray_memory_now()}
    names = {"local": "local: 1 server, 2 training processes, SQLite",
             "owner": "Ray: 2 worker nodes x 1 CPU, 2 replicas, PostgreSQL; each viewer on "
                      "the replica that owns its student",
             "across": "the same, each viewer on the other replica (every frame relayed)"}
    rows = [{"mode": names[m], **median_row(runs)} for m, runs in modes.items()]
    print(f"cluster benchmark: {os.cpu_count()} CPUs, {args.students} students, "
          f"{args.seconds:g} s a run, {args.rounds} rounds of the three runs in turn (medians "
          "below), spiral with 7 features, 6x8 tanh, batch 10, one websocket viewer per "
          "student; both setups up throughout")
    print(f"R = {r:.0f} epochs/s (bare NumPy loop, benchmarks/classroom.py)")
    print(table(rows, r))
    for m in ("owner", "across"):
        shares = [ray["eps_total"] / local["eps_total"]
                  for ray, local in zip(modes[m], modes["local"], strict=True)]
        p99 = [ray["latency_p99_ms"] for ray in modes[m]]
        share, late = statistics.median(shares), sum(x > LATENCY_P99_MS for x in p99)
        print(f"\n{names[m]}:\n- Ray / local, epochs/s in all, round by round: "
              f"{', '.join(f'{x:.2f}' for x in shares)}; median {share:.2f} (target >= "
              f"{THROUGHPUT:g}: {'met' if share >= THROUGHPUT else 'not met'})\n- frame "
              f"latency p99, round by round: {', '.join(f'{x:.0f}' for x in p99)} ms (target "
              f"<= {LATENCY_P99_MS:g} ms: " + ("met in every round)" if not late else
                                             f"not met in {late} of {len(p99)} rounds)"))
    print("\n| piece | memory (RSS, MB) |\n|---|---|")
    for name, mb in mem.items():
        print(f"| {name} | {mb:.0f} |")
    if args.json:
        print(json.dumps({"r": r, "runs": modes, "memory": mem}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
