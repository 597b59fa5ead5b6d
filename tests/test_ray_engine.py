"""Training on a Ray cluster (cluster=ray): a head and two worker nodes of one CPU each,
on this machine (tests/raycluster.py), shared by the tests of this module (starting it is
the cost). The app trains over REST and the websocket on the trainer actors; a worker node
killed during a run costs the run a few seconds, never its edits; with no node left the
run stops and says why. The default mode imports none of it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import SMALL, TEST_DATABASE_URL, LiveServer, make_settings
from .test_websocket import command, next_frame, open_ws, play_then_pause

if TEST_DATABASE_URL:  # CI: the cluster extra is there, and a missing Ray fails, not skips
    import ray
else:
    ray = pytest.importorskip("ray")

from .raycluster import RayCluster

# Each test process that runs some of these tests makes its own cluster (free ports, its
# own session); within a process the tests keep this file's order.
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    c = RayCluster(workers=2)
    try:
        yield c
    finally:
        c.shutdown()
    assert not ray.is_initialized()


@pytest.fixture
def live(cluster: RayCluster, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path, cluster="ray", ray_address=cluster.address))
    try:
        yield server
    finally:
        server.stop()
    assert not ray.is_initialized()  # the engine connected, the engine disconnected


def engine(live: LiveServer) -> Any:
    return live.app.state.service.runner.engine


def create(live: LiveServer, config: dict[str, Any] | None = None) -> tuple[str, str]:
    r = httpx.post(f"{live.http}/api/experiments", json=config or SMALL)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["edit_token"]


def get(live: LiveServer, exp_id: str) -> dict[str, Any]:
    return httpx.get(f"{live.http}/api/experiments/{exp_id}", timeout=30).json()


def test_trains_on_the_actors_and_learns(live: LiveServer, cluster: RayCluster) -> None:
    from backend.experiments.rayengine import RayEngine

    e = engine(live)
    assert isinstance(e, RayEngine)
    nodes = {n.node_id for n in cluster.nodes}
    assert sorted(a.node for a in e.actors) == sorted(nodes)  # one per CPU of each node
    assert all(a.name.startswith(f"trainer-{a.node}-") for a in e.actors)
    exp_id, token = create(live)
    before = get(live, exp_id)["metrics"]["test_loss"]
    r = httpx.post(f"{live.http}/api/experiments/{exp_id}/train", json={"epochs": 150,
                   "wait": True}, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["epoch"] == 150, body
    assert body["metrics"]["test_loss"] < before and body["metrics"]["test_accuracy"] >= 0.9
    placed = e.placed[exp_id]
    assert e.actors[placed.slot].node in nodes and placed.revision is not None
    report = httpx.get(f"{live.http}/api/experiments/{exp_id}/gradient-check?points=16",
                       timeout=60).json()  # in turns on the actor, as a slice
    assert report["relative_difference"] < 1e-6 and report["verdict"] == "right", report


def test_a_viewer_gets_frames_and_pause_stops_the_run(live: LiveServer) -> None:
    play_then_pause(live)


def test_replicas_find_the_same_actors_by_name(live: LiveServer, cluster: RayCluster) -> None:
    """A second engine in this process stands for another replica: it gets the actors
    the first made (get_if_exists), the same processes, not new ones."""
    from backend.experiments.rayengine import RayEngine

    first = engine(live)
    other = RayEngine(cluster.address)
    try:
        assert sorted(a.name for a in other.actors) == sorted(a.name for a in first.actors)
        pids = [ray.get(a.handle.ping.remote(), timeout=10) for a in first.actors]
        by_name = {a.name: a for a in other.actors}
        assert [ray.get(by_name[a.name].handle.ping.remote(), timeout=10)
                for a in first.actors] == pids
    finally:
        asyncio.run(other.close())  # it did not connect: it leaves the connection be


def test_a_killed_node_costs_the_run_seconds_not_edits(live: LiveServer,
                                                       cluster: RayCluster) -> None:
    e = engine(live)
    exp_id, token = create(live)
    auth = {"Authorization": f"Bearer {token}"}
    with open_ws(live, exp_id, token) as ws:
        next_frame(ws)
        assert command(ws, {"type": "play"})["type"] == "ack"
        while next_frame(ws)[0]["epoch"] < 20:
            pass
        r = httpx.patch(f"{live.http}/api/experiments/{exp_id}", headers=auth,
                        json={"optimizer": {"learning_rate": 0.07}}, timeout=30)
        assert r.status_code == 200 and r.json()["weights_kept"], r.text
        while next_frame(ws)[0]["epoch"] < r.json()["epoch"] + 5:  # trained after the edit
            pass
        where = e.actors[e.placed[exp_id].slot].node
        node = next(n for n in cluster.nodes if n.node_id == where)
        killed_at = get(live, exp_id)["epoch"]
        killed, killed_wall = time.monotonic(), time.time()
        cluster.remove(node)  # SIGKILL: its raylet and its trainer go at once
        # frames go on, past the epoch of the kill, built on the other node (frames built
        # before the kill may still wait in the socket: they do not count)
        while True:
            header, _ = next_frame(ws, timeout=20)
            if header["time"] > killed_wall and header["epoch"] > killed_at + 5:
                break
        resumed = time.monotonic() - killed
        print(f"\nnode killed -> 5 epochs further on the other node: {resumed:.2f} s")
        assert resumed < 20 and header["status"] == "running"
        assert e.actors[e.placed[exp_id].slot].node != where
        assert where not in {a.node for a in e.actors}
        view = get(live, exp_id)
        assert view["config"]["optimizer"]["learning_rate"] == 0.07 and view["running"]
        assert command(ws, {"type": "pause"})["type"] == "ack"
    # a node that joins gets its trainer within a few seconds
    cluster.nodes.append(cluster.add())
    deadline = time.monotonic() + 20
    while len(e.actors) < 2:
        assert time.monotonic() < deadline, "the new node got no trainer"
        time.sleep(0.2)
    assert {a.node for a in e.actors} == {n.node_id for n in cluster.nodes}


def test_a_trainer_that_hangs_is_left_for_another(live: LiveServer, cluster: RayCluster,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A trainer alive to Ray but silent (a stopped process, a partitioned machine): once a
    slice is MARGIN late the run moves to the other trainer; the silent one is not used
    again for a while."""
    from backend.experiments import rayengine

    monkeypatch.setattr(rayengine, "MARGIN", 3.0)  # a loaded machine: 1.5 s dropped both
    e = engine(live)
    exp_id, token = create(live)
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{live.http}/api/experiments/{exp_id}/train", json={},
                      headers=auth).status_code == 202
    while get(live, exp_id)["epoch"] < 5:
        time.sleep(0.05)
    actor = e.actors[e.placed[exp_id].slot]
    _, pid = ray.get(actor.handle.ping.remote(), timeout=10)
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped_at = get(live, exp_id)["epoch"]
        stopped = time.monotonic()
        while get(live, exp_id)["epoch"] < stopped_at + 5:
            assert time.monotonic() - stopped < 15, "the run waits on the silent trainer"
            time.sleep(0.1)
        assert actor not in e.actors and actor.name in e.shunned
        assert e.actors[e.placed[exp_id].slot].name != actor.name
        assert get(live, exp_id)["running"]
    finally:
        os.kill(pid, signal.SIGCONT)
        httpx.post(f"{live.http}/api/experiments/{exp_id}/pause", headers=auth, timeout=30)


def test_with_no_node_left_the_run_stops_and_says_why(live: LiveServer,
                                                      cluster: RayCluster) -> None:
    """Last: the cluster has no worker node after it."""
    exp_id, token = create(live)
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{live.http}/api/experiments/{exp_id}/train", json={}, headers=auth)
    assert r.status_code == 202
    while get(live, exp_id)["epoch"] < 5:
        time.sleep(0.05)
    for node in list(cluster.nodes):
        cluster.remove(node)
    deadline = time.monotonic() + 30
    while (view := get(live, exp_id))["running"]:
        assert time.monotonic() < deadline, "the run went on with no trainer"
        time.sleep(0.2)
    assert view["status"] == "paused" and "no Ray trainer" in view["message"], view


def test_the_default_mode_imports_no_cluster_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from backend.api.app import create_app\n"
        "from backend.settings import Settings\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}, workers=0))\n"
        "print(__import__('json').dumps(sorted(m for m in ('ray', 'psycopg', 'httpx') "
        "if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_cluster_at_the_address_says_so_at_once(tmp_path: Path) -> None:
    from backend.api.app import create_app
    from backend.experiments.workers import WorkerError

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    began = time.monotonic()
    with pytest.raises(WorkerError, match="no Ray cluster answers at"):
        create_app(make_settings(tmp_path, cluster="ray", ray_address=address))
    assert time.monotonic() - began < 10 and not ray.is_initialized()
