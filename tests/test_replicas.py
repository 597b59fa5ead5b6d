"""API replicas: two `playground serve` processes on one PostgreSQL act as one server.

Real processes on loopback ports, a schema of their own in the test database (or, for the
database restart, a throwaway PostgreSQL of their own), replica_ttl 2 s. Any replica
answers anything: what another holds is forwarded to it (backend/api/forward.py); a replica
killed hands its experiments, and its runs, to the other (backend/experiments/ownership.py).
"""

from __future__ import annotations

import glob
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from backend.experiments.frames import decode_frame
from backend.experiments.store import Store

from .conftest import SMALL, TEST_DATABASE_URL, postgres_schema
from .replicas import BASE_URL, TTL, Api, Replica, hello_and_frames, reachable, until
from .test_database_restart import Postgres

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL and not reachable(BASE_URL),
                                reason=f"no PostgreSQL at {BASE_URL} (scripts/postgres.sh)")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Api]]:
    """Replicas A and B on a schema of their own."""
    with postgres_schema(BASE_URL, prefix="replicas") as url:
        base = tmp_path_factory.mktemp("replicas")
        a = Replica(url, base / "a")
        b = Replica(url, base / "b")
        try:
            yield Api(a), Api(b)
        finally:
            b.stop()
            a.stop()


def test_created_on_a_read_edited_trained_watched_shared_and_forked_on_b(
        pair: tuple[Api, Api]) -> None:
    a, b = pair
    exp_id, auth = a.create()
    assert b.http.get(f"/api/experiments/{exp_id}").json() == \
        a.http.get(f"/api/experiments/{exp_id}").json()
    # an edit through B is A's at once (one writer), and durable
    r = b.http.patch(f"/api/experiments/{exp_id}", json={"optimizer": {"learning_rate": 0.1}},
                     headers=auth)
    assert r.status_code == 200, r.text
    assert a.http.get(f"/api/experiments/{exp_id}").json()["config"]["optimizer"][
        "learning_rate"] == 0.1
    r = b.http.patch(f"/api/experiments/{exp_id}/weights", headers=auth,
                     json={"layer": 0, "source": 0, "target": 0, "value": 0.5})
    assert r.status_code == 200, r.text
    assert a.http.get(f"/api/experiments/{exp_id}/weights").json()["layers"][0][
        "W"][0][0] == 0.5
    r = b.http.post(f"/api/experiments/{exp_id}/train", json={"epochs": 5, "wait": True},
                    headers=auth)
    assert r.status_code == 200 and r.json()["epoch"] == 5, r.text
    assert b.http.post(f"/api/experiments/{exp_id}/train", json={"epochs": 2},
                       headers={"Authorization": "Bearer wrong"}).status_code == 403
    # watched through B: frames come, commands are answered
    with b.watch(f"/ws/experiments/{exp_id}") as ws:
        ws.send(json.dumps({"type": "auth", "token": auth["Authorization"][7:]}))
        ws.send(json.dumps({"type": "play"}))
        assert hello_and_frames(ws, frames=3)["id"] == exp_id
        ws.send(json.dumps({"type": "pause"}))
        while True:
            message = ws.recv(timeout=10)
            if isinstance(message, str) and json.loads(message).get("command") == "pause":
                assert json.loads(message)["type"] == "ack"
                break
    assert a.http.get(f"/api/experiments/{exp_id}").json()["status"] == "paused"
    # shared on B, seen and forked on either
    r = b.http.post(f"/api/experiments/{exp_id}/share", headers=auth)
    assert r.status_code == 201, r.text
    share = r.json()["share_id"]
    epoch = a.http.get(f"/api/experiments/{exp_id}").json()["epoch"]
    assert a.http.get(f"/api/shares/{share}").json()["epoch"] == epoch
    r = b.http.post(f"/api/shares/{share}/fork")
    assert r.status_code == 201, r.text
    fork = r.json()["id"]
    assert a.http.get(f"/api/experiments/{fork}").json()["epoch"] == epoch
    # a forwarded request's client address cannot be forged without the secret
    r = b.http.get(f"/api/experiments/{exp_id}", headers={"X-Playground-Secret": "guess",
                                                          "X-Playground-Client": "10.9.9.9"})
    assert r.status_code == 200


def test_a_class_with_students_on_both_shows_them_all_on_either_teacher_page(
        pair: tuple[Api, Api]) -> None:
    a, b = pair
    r = a.http.post("/api/classes", json={"name": "Replicas", "config": SMALL})
    assert r.status_code == 201, r.text
    class_id, teacher = r.json()["id"], {"Authorization": f"Bearer {r.json()['teacher_token']}"}
    joined = {}
    for api, name in ((a, "Ada"), (b, "Bo"), (b, "Cy")):
        r = api.http.post(f"/api/classes/{class_id}/join", json={"name": name})
        assert r.status_code == 201, r.text
        joined[name] = r.json()
    for api in (a, b):
        roster = api.http.get(f"/api/classes/{class_id}", headers=teacher).json()["students"]
        assert sorted(s["name"] for s in roster) == ["Ada", "Bo", "Cy"]
    # a student trains through the other replica; the teacher's live view on B sees all
    bo = joined["Bo"]
    r = a.http.post(f"/api/experiments/{bo['experiment_id']}/train",
                    json={"epochs": 3, "wait": True},
                    headers={"Authorization": f"Bearer {bo['edit_token']}"})
    assert r.status_code == 200, r.text
    with b.watch(f"/ws/classes/{class_id}") as ws:
        ws.send(json.dumps({"type": "auth", "token": teacher["Authorization"][7:]}))
        header: dict[str, Any] = {}
        while not header:
            message = ws.recv(timeout=10)
            if isinstance(message, bytes):
                header = decode_frame(message)[0]
        rows = {s["name"]: s for s in header["students"]}
        assert sorted(rows) == ["Ada", "Bo", "Cy"] and rows["Bo"]["epoch"] == 3
    # a teacher's lock through B holds every student, whichever replica they use
    assert b.http.post(f"/api/classes/{class_id}/lock", headers=teacher).status_code == 200
    for api, student in ((a, joined["Ada"]), (b, joined["Cy"])):
        r = api.http.post(f"/api/experiments/{student['experiment_id']}/train",
                          json={"epochs": 1},
                          headers={"Authorization": f"Bearer {student['edit_token']}"})
        assert r.status_code == 423, r.text
    assert a.http.post(f"/api/classes/{class_id}/unlock", headers=teacher).status_code == 200


def test_per_address_limits_count_across_replicas(pair: tuple[Api, Api]) -> None:
    a, b = pair
    mine = [a.create(), a.create(), b.create(), b.create()]
    try:
        for api, (exp_id, auth) in zip((a, a, b), mine, strict=False):
            r = api.http.post(f"/api/experiments/{exp_id}/train", json={}, headers=auth)
            assert r.status_code == 202, r.text
        # B runs one, A two: a fourth, on B, is one over this address's limit
        exp_id, auth = mine[3]
        r = b.http.post(f"/api/experiments/{exp_id}/train", json={}, headers=auth)
        assert r.status_code == 429, r.text
        assert "limit per address" in r.json()["error"]
    finally:
        for api, (exp_id, auth) in zip((a, a, b, b), mine, strict=True):
            api.http.post(f"/api/experiments/{exp_id}/pause", headers=auth)
    # websockets: two on A, one on B; a fourth anywhere is over the limit
    sockets = [a.watch(f"/ws/experiments/{mine[0][0]}"), a.watch(f"/ws/experiments/{mine[1][0]}"),
               b.watch(f"/ws/experiments/{mine[2][0]}")]
    try:
        for ws in sockets:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        time.sleep(0.3)  # each replica writes its counts as they change
        with b.watch(f"/ws/experiments/{mine[3][0]}") as ws:
            assert "connections from your address" in json.loads(ws.recv(timeout=10))["message"]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    finally:
        for ws in sockets:
            ws.close()


def test_a_replica_killed_its_experiments_and_runs_go_on_on_the_other(
        pair: tuple[Api, Api]) -> None:
    a, b = pair
    exp_id, auth = a.create()
    r = a.http.post(f"/api/experiments/{exp_id}/train", json={"epochs": 100_000}, headers=auth)
    assert r.status_code == 202, r.text
    r = a.http.patch(f"/api/experiments/{exp_id}", json={"optimizer": {"learning_rate": 0.07}},
                     headers=auth)
    assert r.status_code == 200  # acknowledged: saved before the answer
    relayed = b.watch(f"/ws/experiments/{exp_id}")  # through B to A
    hello_and_frames(relayed, frames=2)
    until(lambda: b.http.get(f"/api/experiments/{exp_id}").json()["epoch"] > 0, 10)
    a.replica.kill()
    killed = time.monotonic()
    try:
        # the relayed websocket is closed with 1012 (the page reconnects by itself)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                relayed.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        assert time.monotonic() - killed < 2

        # B serves it within the ttl and a few seconds, the edit kept, and the run goes on
        def served() -> dict[str, Any]:
            r = b.http.get(f"/api/experiments/{exp_id}")
            assert r.status_code == 200, r.text
            return r.json()

        view = until(lambda: served()["running"] and served(), TTL + 6)
        took = time.monotonic() - killed
        assert view["config"]["optimizer"]["learning_rate"] == 0.07
        epoch = view["epoch"]
        until(lambda: served()["epoch"] > epoch, 5)
        # a new websocket on B works: frames of the run that goes on
        with b.watch(f"/ws/experiments/{exp_id}") as ws:
            hello_and_frames(ws, frames=2)
        print(f"B served and resumed A's run {took:.1f} s after A was killed")
    finally:
        b.http.post(f"/api/experiments/{exp_id}/pause", headers=auth)
        a.replica.start()  # the pair again, for any test after this one (a new replica id)


def test_a_replica_stopped_cleanly_hands_its_runs_to_the_other(pair: tuple[Api, Api]) -> None:
    a, b = pair
    exp_id, auth = b.create()
    r = b.http.post(f"/api/experiments/{exp_id}/train", json={"epochs": 100_000}, headers=auth)
    assert r.status_code == 202, r.text
    until(lambda: a.http.get(f"/api/experiments/{exp_id}").json()["epoch"] > 0, 10)
    b.replica.stop()  # SIGTERM: its runs pause, are saved, and are handed over
    stopped = time.monotonic()
    try:
        def running_on_a() -> bool:
            r = a.http.get(f"/api/experiments/{exp_id}")
            return r.status_code == 200 and r.json()["running"]

        until(running_on_a, 5)  # no ttl to wait for: it said it left
        assert time.monotonic() - stopped < 5
    finally:
        a.http.post(f"/api/experiments/{exp_id}/pause", headers=auth)
        b.replica.start()


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    reason="PostgreSQL's server is not installed here")
def test_both_replicas_recover_when_the_database_restarts(
        tmp_path: Path) -> None:
    postgres = Postgres()  # a throwaway server: the shared test database is never stopped
    a = b = None
    try:
        a, b = Replica(postgres.url, tmp_path / "a"), Replica(postgres.url, tmp_path / "b")
        api_a, api_b = Api(a), Api(b)
        exp_id, auth = api_a.create()
        assert api_b.http.get(f"/api/experiments/{exp_id}").status_code == 200
        postgres.script("stop")
        r = api_b.http.get(f"/api/experiments/{exp_id}")  # forwarded to A, which holds it
        assert r.status_code in (200, 503), r.text
        assert api_b.http.post("/api/experiments", json=SMALL).status_code == 503
        time.sleep(TTL + 1)  # longer than the ttl: every heartbeat is stale
        postgres.script("start")
        for api in (api_a, api_b):
            until(lambda api=api: api.http.post("/api/experiments",  # type: ignore[misc]
                                                json=SMALL).status_code == 201, 10)
            until(lambda api=api: api.http.patch(  # type: ignore[misc]
                f"/api/experiments/{exp_id}", json={"batch_size": 5},
                headers=auth).status_code == 200, 10)
        # nobody took the other's units in the confusion: A still serves its experiment
        time.sleep(TTL + 1)
        assert api_b.http.get(f"/api/experiments/{exp_id}").json()["config"][
            "batch_size"] == 5
        store = Store(postgres.url)
        try:
            assert store.lease_holder(f"experiment:{exp_id}")[1] == a.url  # type: ignore[index]
        finally:
            store.close()
    finally:
        for replica in (b, a):
            if replica is not None:
                replica.stop()
        postgres.remove()
