"""Server benchmark: K experiments train at once, each watched by one websocket client.

Starts `playground serve` in a subprocess on loopback, and for each K prints frames per
second per client, epochs per second per experiment, frame latency (server time stamp to
receipt) p50/p99, bytes per frame and the server's CPU use. Run from the repository root:

    python benchmarks/server.py [--seconds 10] [--ks 1,10,50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "dataset": {"name": "spiral", "n_samples": 500, "train_fraction": 0.5},
    "features": ["x1", "x2"],
    "hidden_layers": [{"units": 8, "activation": "tanh"}] * 6,
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
}
TARGETS = {1: (30.0, 100.0), 50: (10.0, None)}  # K: (frames/s per client, epochs/s)


@dataclass
class Watcher:
    frames: int = 0
    bytes: int = 0
    latencies: list[float] = field(default_factory=list)
    epochs: list[tuple[float, int]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def watch(url: str, token: str, stop: asyncio.Event, w: Watcher) -> None:
    async with websockets.connect(url, max_size=1 << 24) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.send(json.dumps({"type": "play"}))
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            if isinstance(msg, bytes):
                (n,) = struct.unpack_from("<I", msg)
                header = json.loads(msg[4:4 + n])
                w.frames += 1
                w.bytes += len(msg)
                w.latencies.append(now - header["time"])
                w.epochs.append((time.monotonic(), header["epoch"]))
        await ws.send(json.dumps({"type": "pause"}))


async def run_k(base: str, ws_base: str, k: int, seconds: float, pid: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        created = [(await http.post("/api/experiments", json=CONFIG)).json() for _ in range(k)]
        stop = asyncio.Event()
        watchers = [Watcher() for _ in range(k)]
        tasks = [asyncio.create_task(watch(f"{ws_base}/ws/experiments/{c['id']}",
                                           c["edit_token"], stop, w))
                 for c, w in zip(created, watchers, strict=True)]
        await asyncio.sleep(1.0)  # warm-up: connections open, training under way
        for w in watchers:
            w.frames, w.bytes, w.latencies, w.epochs = 0, 0, [], []
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        stop.set()
        await asyncio.gather(*tasks)
        for c in created:
            await http.delete(f"/api/experiments/{c['id']}",
                              headers={"Authorization": f"Bearer {c['edit_token']}"})
    span = t1 - t0
    lat = sorted(x for w in watchers for x in w.latencies)
    eps = [(w.epochs[-1][1] - w.epochs[0][1]) / (w.epochs[-1][0] - w.epochs[0][0])
           for w in watchers if len(w.epochs) > 1 and w.epochs[-1][0] > w.epochs[0][0]]
    frames = sum(w.frames for w in watchers)
    return {
        "k": k,
        "frames_per_s_per_client": min(w.frames for w in watchers) / span,
        "frames_per_s_mean": frames / k / span,
        "epochs_per_s_per_experiment": statistics.mean(eps) if eps else 0.0,
        "latency_p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "latency_p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else float("nan"),
        "bytes_per_frame": sum(w.bytes for w in watchers) / max(frames, 1),
        "server_cpu_percent": 100 * (cpu1 - cpu0) / span,
    }


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PLAYGROUND_MAX_RUNNING": "200", "PLAYGROUND_MAX_VIEWERS": "200",
           "PLAYGROUND_MAX_RUNNING_PER_CLIENT": "200", "PLAYGROUND_MAX_SOCKETS_PER_CLIENT": "500"}
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port),
                             "--data-dir", data_dir, "--log-level", "warning"],
                            cwd=ROOT, env=env)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| K | frames/s per client (min / mean) | epochs/s per experiment | "
             "latency p50 / p99 (ms) | bytes per frame | server CPU | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fps_target, eps_target = TARGETS.get(r["k"], (None, None))
        met = [r["frames_per_s_per_client"] >= fps_target] if fps_target else []
        if eps_target:
            met.append(r["epochs_per_s_per_experiment"] >= eps_target)
        target = ", ".join(t for t in (f">= {fps_target:g} frames/s" if fps_target else "",
                                       f">= {eps_target:g} epochs/s" if eps_target else "") if t)
        lines.append(
            f"| {r['k']} | {r['frames_per_s_per_client']:.1f} / {r['frames_per_s_mean']:.1f} | "
            f"{r['epochs_per_s_per_experiment']:.0f} | {r['latency_p50_ms']:.1f} / "
            f"{r['latency_p99_ms']:.1f} | {r['bytes_per_frame']:.0f} | "
            f"{r['server_cpu_percent']:.0f} % | {target or '-'} | "
            f"{('yes' if all(met) else 'no') if met else '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--ks", default="1,10,50")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_server(port, data_dir)
        try:
            rows = [asyncio.run(run_k(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}",
                                      int(k), args.seconds, proc.pid))
                    for k in args.ks.split(",")]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"server benchmark: {os.cpu_count()} CPUs, {args.seconds:g} s per K, spiral 6x8 "
          "tanh, batch 10, one websocket client per experiment on loopback")
    print(table(rows))
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
