"""A server that holds up: addresses that cannot be forged, answers of bounded size, and
clients that vanish mid-request without a traceback in the log."""

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

from .conftest import SMALL, LiveServer, create, make_settings


@pytest.mark.parametrize(("trusted", "second"), [("", 429), ("127.0.0.1", 202)])
def test_forwarded_addresses_count_only_behind_a_named_proxy(
        tmp_path: Path, trusted: str, second: int) -> None:
    """Bug: uvicorn believed X-Forwarded-For from 127.0.0.1, so anyone on the machine could
    pose as any address and pass the per-address limits."""
    live = LiveServer(make_settings(tmp_path, max_running_per_client=1,
                                    trusted_proxies=trusted))
    try:
        ids = []
        for address in ("10.0.0.1", "10.0.0.2"):
            body = httpx.post(f"{live.http}/api/experiments", json=SMALL).json()
            r = httpx.post(f"{live.http}/api/experiments/{body['id']}/train", json={},
                           headers={"Authorization": f"Bearer {body['edit_token']}",
                                    "X-Forwarded-For": address})
            ids.append((body["id"], body["edit_token"]))
        assert r.status_code == second, r.text
        for exp_id, token in ids:
            httpx.post(f"{live.http}/api/experiments/{exp_id}/pause",
                       headers={"Authorization": f"Bearer {token}"})
    finally:
        live.stop()


def test_boundary_answers_are_bounded_by_the_network_size(client: TestClient) -> None:
    """Bug: /boundary at resolution 200 on a 12 x 64 net built a 618 MB answer."""
    big = create(client, {**SMALL, "hidden_layers": [{"units": 64}] * 12})
    r = big.get("/boundary?resolution=200")
    assert r.status_code == 422
    most = int(r.json()["error"].split("at most ")[1].split()[0])
    assert 1 < most < 200 and "neurons=false" in r.json()["error"]
    assert big.get(f"/boundary?resolution={most}").status_code == 200
    assert big.get("/boundary?resolution=200&neurons=false").status_code == 200


def test_a_client_that_leaves_mid_upload_leaves_no_traceback(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Bug: each abandoned upload logged a 67-line traceback (19 950 of them: 100 MB)."""
    live = LiveServer(make_settings(tmp_path))
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", live.port)) as s:
                s.sendall(b"POST /api/datasets HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n"
                          b"x1,x2,y\n1,2,0\n")
                time.sleep(0.2)
        time.sleep(0.5)
        assert httpx.get(f"{live.http}/healthz").status_code == 200
    finally:
        live.stop()
    logged = capfd.readouterr().err  # uvicorn logs to stderr, past the logging tree
    assert "Traceback" not in logged and "Exception in ASGI" not in logged


def test_shutdown_saves_only_what_changed(tmp_path: Path) -> None:
    """Bug: shutdown saved every loaded experiment, changed or not (462: 13.7 s, more than
    docker stop waits)."""
    with TestClient(create_app(make_settings(tmp_path))) as client:
        exps = [create(client) for _ in range(20)]
    writes: list[str] = []
    with TestClient(create_app(make_settings(tmp_path))) as client:
        store = client.app.state.service.store
        for e in exps:
            assert client.get(f"/api/experiments/{e.id}").status_code == 200
        exps[3].client = client
        exps[3].post("/step")
        save = store.save_experiment
        store.save_experiment = lambda id, *a, **k: (writes.append(id), save(id, *a, **k))
    assert writes == []  # the step saved itself; nothing else changed
    with TestClient(create_app(make_settings(tmp_path))) as client:
        assert client.get(f"/api/experiments/{exps[3].id}").json()["epoch"] == 1


HEAVY = {**SMALL, "dataset": {"name": "circle", "n_samples": 4000}, "batch_size": 1,
         "hidden_layers": [{"units": 32}] * 4}


def test_a_step_is_a_run_that_pause_stops(client: TestClient) -> None:
    """Bug: a step ran in the default thread pool, beside every create and save, with no
    deadline and no stop: not even a pause ended it."""
    exp = create(client, HEAVY)
    answer: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answer.update(r=exp.post("/step",
                                                                      {"epochs": 1000})))
    thread.start()
    deadline = time.monotonic() + 10
    while not exp.get().json()["running"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert exp.get().json()["running"]  # it counts as a run
    assert exp.post("/pause").status_code == 200
    thread.join(timeout=60)  # a hang guard; the 409 and fewer epochs say the pause ended it
    assert not thread.is_alive()
    # the step did not do what it was asked: it says who stopped it, and when
    assert answer["r"].status_code == 409 and "another request paused" in \
        answer["r"].json()["error"]
    assert exp.get().json()["epoch"] < 1000


def test_a_step_and_a_wait_end_at_the_deadline(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_wait_seconds=1))) as client:
        exp = create(client, HEAVY)
        body = exp.post("/step", {"epochs": 1000}).json()
        assert body["running"] is False and body["epoch"] < 1000
        assert "stopped after 1 s" in body["message"]
        r = exp.post("/train", {"epochs": 1000, "wait": True})
        assert r.status_code == 202 and r.json()["running"] is True
        exp.post("/pause")


def test_experiments_unchanged_past_the_retention_period_expire(tmp_path: Path) -> None:
    """Bug: nothing bounded what was stored (anonymous creates at 15/s, ~1 MB each)."""
    with TestClient(create_app(make_settings(tmp_path, retention_days=30))) as client:
        service = client.app.state.service
        csv = "x1,x2,y\n" + "\n".join(f"{i % 7 - 3},{i % 5 - 2},{i % 2}" for i in range(40))
        ds = client.post("/api/datasets", content=csv,
                         headers={"Content-Type": "text/csv"}).json()["id"]
        old_loaded, old_stored, fresh = (create(client) for _ in range(3))
        custom = create(client, {**SMALL, "dataset": {"name": "custom", "id": ds}})
        service.experiments.pop(old_stored.id)  # as if the server had restarted since
        long_ago = time.time() - 31 * 86_400
        for e in (old_loaded, old_stored, custom):
            service.store._write("UPDATE experiments SET updated = ? WHERE id = ?",
                                 (long_ago, e.id))
        service.store._write("UPDATE datasets SET created = ?", (long_ago,))
        with client.websocket_connect(f"/ws/experiments/{old_loaded.id}") as ws:
            assert ws.receive_json()["type"] == "hello"
            assert client.portal.call(service.expire) == 3
            messages = [ws.receive() for _ in range(3)]
        assert any(m.get("text") and "deleted" in m["text"] for m in messages)
        for e in (old_loaded, old_stored, custom):
            assert e.get().status_code == 404
        assert fresh.get().status_code == 200
        assert service.store.load_dataset(ds) is None


def test_the_store_has_a_quota(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_experiments=2))) as client:
        first = create(client)
        create(client)
        r = client.post("/api/experiments", json=SMALL)
        assert r.status_code == 507 and "max_experiments" in r.json()["error"]
        assert client.delete(first.url(), headers=first.auth).status_code == 204
        create(client)


@pytest.mark.parametrize("rate", [1000.0, 1.0])
def test_running_experiments_save_at_most_save_rate_a_second_in_all(tmp_path: Path,
                                                                     rate: float) -> None:
    """Bug: 300 runs saved their whole state every 3 s each, 100 saves a second, the most
    of the server's time. With 3 running and a save_rate of 1 they save every 3 s; with
    no bound to speak of, every save_interval (0.1 s)."""
    with TestClient(create_app(make_settings(tmp_path, save_interval=0.1,
                                             save_rate=rate))) as client:
        store = client.app.state.service.store
        writes: list[str] = []
        save = store.save_experiment
        store.save_experiment = lambda id, *a, **k: (writes.append(id), save(id, *a, **k))
        exps = [create(client) for _ in range(3)]
        writes.clear()
        for e in exps:
            assert e.post("/train", {}).status_code == 202
        began = time.monotonic()
        if rate > 100:  # saves come every 0.1 s or so: wait for 3 of each
            while min(writes.count(e.id) for e in exps) < 3:
                assert time.monotonic() - began < 30
                time.sleep(0.05)
        else:  # spaced by 3 s: none in the first 2 (each run's clock starts at its start)
            time.sleep(2.0)
            assert writes == []
        for e in exps:
            e.post("/pause")
