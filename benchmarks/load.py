"""Load benchmark: a class at once. 50 experiments train while 200 websocket viewers watch
(4 each) for 60 s on loopback; prints the server's memory over time, frames delivered,
late frames (over 1 s old on arrival), errors and the slowest viewer's frame rate.

    python benchmarks/load.py [--seconds 60] [--experiments 50] [--viewers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.server import CONFIG, free_port, messages, start_server

LATE = 1.0  # seconds


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def viewer(url: str, stop: asyncio.Event, stats: dict[str, list[float]],
                 errors: list[str]) -> None:
    frames = late = 0
    try:
        async with websockets.connect(url, max_size=1 << 24) as ws:
            async for is_frame, message in messages(ws, stop):
                if is_frame:
                    frames += 1
                    late += time.time() - message["time"] > LATE
                elif message.get("type") == "error":
                    errors.append(message["message"])
    except Exception as exc:  # a benchmark counts failures instead of stopping
        errors.append(repr(exc))
    stats["frames"].append(frames)
    stats["late"].append(late)


async def run(base: str, ws_base: str, n_exp: int, n_view: int, seconds: float,
              pid: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        created = [(await http.post("/api/experiments", json=CONFIG)).json()
                   for _ in range(n_exp)]
        for c in created:
            await http.post(f"/api/experiments/{c['id']}/train", json={},
                            headers={"Authorization": f"Bearer {c['edit_token']}"})
        stop = asyncio.Event()
        stats: dict[str, list[float]] = {"frames": [], "late": []}
        errors: list[str] = []
        tasks = [asyncio.create_task(viewer(
            f"{ws_base}/ws/experiments/{created[i % n_exp]['id']}", stop, stats, errors))
            for i in range(n_view)]
        memory = []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            memory.append((time.monotonic() - start, rss_mb(pid)))
            await asyncio.sleep(min(5.0, seconds / 6))
        memory.append((time.monotonic() - start, rss_mb(pid)))
        stop.set()
        await asyncio.gather(*tasks)
        for c in created:
            await http.delete(f"/api/experiments/{c['id']}",
                              headers={"Authorization": f"Bearer {c['edit_token']}"})
    span = time.monotonic() - start
    fps = [f / span for f in stats["frames"]]
    warm = [m for t, m in memory if t >= min(10.0, seconds / 3)]
    print(f"load benchmark: {n_exp} experiments training (spiral 6x8 tanh, batch 10), "
          f"{n_view} websocket viewers, {span:.0f} s, loopback")
    print("memory (s: MB RSS): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in memory))
    print("| frames delivered | late (> 1 s) | errors | frames/s per viewer (min / median) | "
          "memory growth after warm-up | target | met |")
    print("|---|---|---|---|---|---|---|")
    growth = warm[-1] - warm[0] if len(warm) > 1 else 0.0
    met = not errors and min(fps) >= 5 and growth < 20
    print(f"| {sum(stats['frames']):.0f} | {sum(stats['late']):.0f} | {len(errors)} | "
          f"{min(fps):.1f} / {statistics.median(fps):.1f} | {growth:+.0f} MB | no errors, "
          f"flat memory, >= 5 frames/s each | {'yes' if met else 'no'} |")
    for e in errors[:5]:
        print("error:", e)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--experiments", type=int, default=50)
    p.add_argument("--viewers", type=int, default=200)
    args = p.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_server(port, data_dir)
        try:
            asyncio.run(run(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}",
                            args.experiments, args.viewers, args.seconds, proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
