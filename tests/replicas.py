"""Replicas as real `playground serve` processes, for the tests that run several of them
on one PostgreSQL (tests/test_replicas.py, tests/test_cluster.py): a process of each on a
free loopback port, a little client, and waits with deadlines."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from backend.experiments.frames import decode_frame

from .conftest import SMALL, TEST_DATABASE_URL

BASE_URL = TEST_DATABASE_URL or os.environ.get(
    "PLAYGROUND_REPLICAS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5433/playground")
TTL = 3.0  # a loaded CI machine stalls a replica for a second or two: not a death
PER_CLIENT = 3  # running experiments and open websockets per address, across replicas


def reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    """One `playground serve` process on a free port (by default training in a thread of
    its own: a SIGKILL ends everything it had)."""

    def __init__(self, database_url: str, directory: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        """`env`: more settings (PLAYGROUND_CLUSTER...), over these."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.directory = directory
        self.env = {**os.environ, "PLAYGROUND_DATABASE_URL": database_url,
                    "PLAYGROUND_REPLICA_TTL": str(TTL), "PLAYGROUND_WORKERS": "0",
                    "PLAYGROUND_SAVE_INTERVAL": "0.5", "PLAYGROUND_GRID_RESOLUTION": "20",
                    "PLAYGROUND_NEURON_RESOLUTION": "5",
                    "PLAYGROUND_MAX_RUNNING_PER_CLIENT": str(PER_CLIENT),
                    "PLAYGROUND_MAX_SOCKETS_PER_CLIENT": str(PER_CLIENT),
                    "OPENBLAS_NUM_THREADS": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / f"serve-{self.port}.log").open("ab")
        playground = Path(sys.executable).with_name("playground")
        self.process = subprocess.Popen(
            [str(playground), "serve", "--port", str(self.port), "--host", "127.0.0.1",
             "--data-dir", str(self.directory), "--log-level", "warning"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica on {self.port} did not start\n{self.log()}")

    def log(self) -> str:
        return (self.directory / f"serve-{self.port}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Api:
    """A little client of one replica."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.http = httpx.Client(base_url=replica.url, timeout=30)

    def create(self, config: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
        r = self.http.post("/api/experiments", json=config or SMALL)
        assert r.status_code == 201, r.text
        return r.json()["id"], {"Authorization": f"Bearer {r.json()['edit_token']}"}

    def watch(self, path: str) -> ClientConnection:
        return connect(self.replica.ws + path, open_timeout=10, max_size=None)


def until(check: Callable[[], Any], seconds: float, every: float = 0.2) -> Any:
    """`check()` once it is truthy (exceptions count as not yet), or fail at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {check}")
        time.sleep(every)


def hello_and_frames(ws: ClientConnection, frames: int = 2, seconds: float = 10) -> dict[str, Any]:
    """The hello, then `frames` binary frames (the experiment is training)."""
    hello = json.loads(ws.recv(timeout=seconds))
    assert hello["type"] == "hello", hello
    got = 0
    deadline = time.monotonic() + seconds
    while got < frames:
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, bytes):
            decode_frame(message)
            got += 1
    return hello
