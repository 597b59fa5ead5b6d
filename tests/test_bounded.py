"""Every piece of work is bounded and stoppable: gradient checks count as runs and take
turns, requests have a time limit, idle experiments leave memory."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.settings import Settings

from .conftest import SMALL, LiveServer, create, make_settings

BIG = {**SMALL, "dataset": {"name": "spiral", "n_samples": 1000},
       "hidden_layers": [{"units": 64, "activation": "tanh"}] * 8, "batch_norm": True}


def test_a_long_gradient_check_takes_turns_and_a_pause_stops_it(tmp_path: Path) -> None:
    """Bug: a gradient check ran in a thread beside everything, with no deadline and no
    stop: 6 of them froze the owner's training and made its pause take 27 s."""
    live = LiveServer(make_settings(tmp_path))
    try:
        big = httpx.post(f"{live.http}/api/experiments", json=BIG).json()
        small = httpx.post(f"{live.http}/api/experiments", json=SMALL).json()
        answer: dict[str, Any] = {}

        def check() -> None:
            answer["r"] = httpx.get(f"{live.http}/api/experiments/{big['id']}/gradient-check",
                                    params={"points": 256}, timeout=60)

        thread = threading.Thread(target=check)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the big check should take longer than this"
        # meanwhile another experiment trains on the same (only) worker
        r = httpx.post(f"{live.http}/api/experiments/{small['id']}/train",
                       json={"epochs": 20, "wait": True}, timeout=30,
                       headers={"Authorization": f"Bearer {small['edit_token']}"})
        assert r.status_code == 200 and r.json()["epoch"] == 20
        httpx.post(f"{live.http}/api/experiments/{big['id']}/pause",
                   headers={"Authorization": f"Bearer {big['edit_token']}"})
        thread.join(60)  # a hang guard; "stopped" below says the pause ended it
        assert not thread.is_alive()
        assert answer["r"].status_code == 409 and "stopped" in answer["r"].json()["error"]
    finally:
        live.stop()


def test_a_gradient_check_counts_as_a_run(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_running_per_client=1))) as client:
        exp = create(client)
        assert exp.post("/train", {}).status_code == 202
        r = client.get(exp.url("/gradient-check"))
        assert r.status_code == 429 and "at once" in r.json()["error"]
        exp.post("/pause")
        assert client.get(exp.url("/gradient-check")).status_code == 200


def test_a_gradient_check_has_a_time_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_wait_seconds=0.3, request_timeout=10)
    with TestClient(create_app(settings)) as client:
        exp = create(client, BIG)
        r = client.get(exp.url("/gradient-check"), params={"points": 256})
        assert r.status_code == 503 and "fewer points" in r.json()["error"]


def test_a_request_that_trickles_in_is_cut_off(tmp_path: Path) -> None:
    """A client that sends half a body and waits holds nothing past request_timeout."""
    live = LiveServer(make_settings(tmp_path, request_timeout=1.0, max_wait_seconds=0.5))
    try:
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
            s.sendall(b"POST /api/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 500\r\n\r\n{\"features\": ")
            start = time.monotonic()
            reply = s.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 503") and "took over 1 s" in reply
        assert time.monotonic() - start > 0.9  # cut at 1 s, not before
        assert httpx.get(f"{live.http}/api/meta").status_code == 200
    finally:
        live.stop()


def test_the_request_limit_must_exceed_the_longest_wait(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="request_timeout must exceed"):
        Settings(data_dir=tmp_path, request_timeout=30, max_wait_seconds=60)


def test_idle_experiments_leave_memory_and_come_back_whole(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, evict_after=0.2))) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        idle, watched = create(client), create(client)
        assert idle.post("/train", {"epochs": 7, "wait": True}).status_code == 200
        weights = idle.get("/weights").json()
        with client.websocket_connect(f"/ws/experiments/{watched.id}") as ws:
            ws.receive_json()  # hello: a viewer holds it in memory
            time.sleep(0.3)
            assert client.portal.call(service.evict) == 1  # type: ignore[union-attr]
            assert idle.id not in service.experiments and watched.id in service.experiments
        assert idle.get().json()["epoch"] == 7
        assert idle.get("/weights").json() == weights
        assert idle.post("/train", {"epochs": 3, "wait": True}).json()["epoch"] == 10
        client.portal.call(service.evict)  # type: ignore[union-attr]
        assert idle.id in service.experiments  # just used: it stays
