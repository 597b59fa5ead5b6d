"""What the server benchmarks share: a `playground serve` in a subprocess on loopback, a
free port, and the CPU its processes (server and training workers) used. The benchmarks
are classroom.py (K experiments, each watched), load.py and page.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ticks(pid: int) -> tuple[int, int]:
    """(own CPU ticks, parent pid) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its children that are still running."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by a process itself, and by its children still running."""
    own = children = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ticks, parent = _ticks(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
            if int(entry.name) == pid:
                own += ticks
            elif parent == pid:
                children += ticks
    tick = os.sysconf("SC_CLK_TCK")
    return own / tick, children / tick


def start_server(port: int, data_dir: str, **env_over: str) -> subprocess.Popen[bytes]:
    """The limits per address raised: every benchmark client comes from 127.0.0.1."""
    env = {**os.environ, "PLAYGROUND_MAX_RUNNING": "400", "PLAYGROUND_MAX_VIEWERS": "200",
           "PLAYGROUND_MAX_RUNNING_PER_CLIENT": "400", "PLAYGROUND_MAX_SOCKETS_PER_CLIENT": "1000",
           **env_over}
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


async def messages(ws: websockets.ClientConnection,
                   stop: asyncio.Event) -> AsyncIterator[tuple[bool, dict[str, Any]]]:
    """What a websocket viewer receives until `stop`: (True, a frame's header) or (False, a
    text message), each as JSON."""
    while not stop.is_set():
        try:
            msg = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        if isinstance(msg, bytes):
            (n,) = struct.unpack_from("<I", msg)
            yield True, json.loads(msg[4:4 + n])
        else:
            yield False, json.loads(msg)
