"""A real server process, killed with SIGKILL mid-training and started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import SMALL


class Process:
    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**os.environ, "PLAYGROUND_SAVE_INTERVAL": "0.5"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise AssertionError(f"server did not start: {self.proc.stderr.read().decode()}")

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)


def create(server: Process) -> tuple[str, dict[str, str]]:
    """An experiment on the server: its id and the header that authorizes changes."""
    r = httpx.post(f"{server.url}/api/experiments", json=SMALL)
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['edit_token']}"}


def play(server: Process, exp_id: str, auth: dict[str, str]) -> None:
    httpx.post(f"{server.url}/api/experiments/{exp_id}/train", json={}, headers=auth)


def test_kill_9_loses_at_most_a_few_seconds(tmp_path: Path) -> None:
    server = Process(tmp_path)
    try:
        exp_id, auth = create(server)
        httpx.post(f"{server.url}/api/experiments/{exp_id}/step", json={"epochs": 3},
                   headers=auth)
        share = httpx.post(f"{server.url}/api/experiments/{exp_id}/share", headers=auth).json()
        snapshot = httpx.get(f"{server.url}/api/shares/{share['share_id']}").json()
        play(server, exp_id, auth)
        deadline = time.monotonic() + 60  # a hang guard: until it trains (workers start)
        while httpx.get(f"{server.url}/api/experiments/{exp_id}").json()["epoch"] <= 3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        seen: list[tuple[float, int]] = []
        start = time.monotonic()
        while time.monotonic() - start < 3:
            seen.append((time.monotonic(),
                         httpx.get(f"{server.url}/api/experiments/{exp_id}").json()["epoch"]))
            time.sleep(0.1)
        killed_at = time.monotonic()
    finally:
        server.stop(signal.SIGKILL)
    before_kill = max(e for t, e in seen if t < killed_at - 1.5)
    again = Process(tmp_path)
    try:
        body = httpx.get(f"{again.url}/api/experiments/{exp_id}").json()
        assert body["epoch"] >= before_kill > 0
        assert body["status"] == "paused"
        r = httpx.post(f"{again.url}/api/experiments/{exp_id}/step", headers=auth)
        assert r.status_code == 200 and r.json()["epoch"] == body["epoch"] + 1
        assert httpx.get(f"{again.url}/api/shares/{share['share_id']}").json() == snapshot
    finally:
        again.stop(signal.SIGTERM)


def test_a_clean_shutdown_keeps_everything(tmp_path: Path) -> None:
    """Stopped while it trains: the curve's last row is the epoch it stopped at, even past
    the 4000 rows where the curve is thinned (it reached 3000 here; it once lagged)."""
    server = Process(tmp_path)
    try:
        exp_id, auth = create(server)
        play(server, exp_id, auth)
        trained, deadline = 0, time.monotonic() + 20  # until it has trained (workers start)
        while trained == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            trained = httpx.get(f"{server.url}/api/experiments/{exp_id}").json()["epoch"]
        time.sleep(1.0)  # and on, for a while
    finally:
        server.stop(signal.SIGTERM)
    again = Process(tmp_path)
    try:
        body = httpx.get(f"{again.url}/api/experiments/{exp_id}").json()
        history = httpx.get(f"{again.url}/api/experiments/{exp_id}/history").json()
        assert body["epoch"] >= trained > 0 and history["rows"][-1]["epoch"] == body["epoch"]
        weights = httpx.get(f"{again.url}/api/experiments/{exp_id}/weights").json()
        assert weights["epoch"] == body["epoch"]
    finally:
        again.stop(signal.SIGTERM)


def test_an_unwritable_data_dir_is_a_clear_error_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve", "--data-dir", str(blocker / "sub")],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr
