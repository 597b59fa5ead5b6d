"""Everything together (issue 20): two API replicas (`playground serve`, cluster=ray) on one
PostgreSQL schema and ONE Ray cluster (a head and two worker nodes of one CPU each,
tests/raycluster.py), replica_ttl 2 s. One cluster for the module (starting it is the
cost); the tests run in order and the second goes on from where the first left the run:

1. created on A, played and watched through B: frames reach the viewer within 100 ms of
   being built on the trainer actor (p99; one machine, one clock);
2. the worker node training it killed: the run goes on on the other within 20 s, and an
   edit acknowledged through B just before is kept;
3. replica A (the owner) SIGKILLed: B resumes the run by itself, on the remaining node,
   with the edit; a class whose students joined on A and B shows them all to the teacher
   on B, before and after.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from backend.experiments.frames import decode_frame

from .conftest import SMALL, TEST_DATABASE_URL, postgres_schema
from .replicas import BASE_URL, TTL, Api, Replica, reachable, until

if TEST_DATABASE_URL:  # CI: the cluster extra is there, and a missing Ray fails, not skips
    import ray
else:
    ray = pytest.importorskip("ray")

from .raycluster import RayCluster

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif(not TEST_DATABASE_URL and not reachable(BASE_URL),
                                 reason=f"no PostgreSQL at {BASE_URL} (scripts/postgres.sh)")]
LATENCY_P99 = 0.100  # seconds, a frame's build on the trainer to its viewer (the issue's)
MOVED = 20.0  # seconds a run may take to go on after its node or its replica died
LOST = 3.0  # seconds of epochs a kill may cost at most (saves every 0.5 s here)
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Scene:
    cluster: RayCluster
    a: Api
    b: Api
    exp_id: str
    auth: dict[str, str]
    class_id: str
    teacher: dict[str, str]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """The cluster, the replicas (A, then B), an experiment made on A and a class made on
    A with students joined on A and B; everything stopped after, whatever happened."""
    base = tmp_path_factory.mktemp("cluster")
    with contextlib.ExitStack() as stack:
        cluster = RayCluster(workers=2)
        stack.callback(cluster.shutdown)
        url = stack.enter_context(postgres_schema(BASE_URL, prefix="both"))
        env = {"PLAYGROUND_CLUSTER": "ray", "PLAYGROUND_RAY_ADDRESS": cluster.address}
        replicas: list[Replica] = []
        stack.callback(lambda: [r.stop() for r in reversed(replicas)])
        for name in ("a", "b"):
            replicas.append(Replica(url, base / name, env=env))
        a, b = Api(replicas[0]), Api(replicas[1])
        exp_id, auth = a.create()
        r = a.http.post("/api/classes", json={"name": "Cluster", "config": SMALL})
        assert r.status_code == 201, r.text
        class_id = r.json()["id"]
        teacher = {"Authorization": f"Bearer {r.json()['teacher_token']}"}
        for api, name in ((a, "Ada"), (b, "Bo"), (b, "Cy")):
            r = api.http.post(f"/api/classes/{class_id}/join", json={"name": name})
            assert r.status_code == 201, r.text
        yield Scene(cluster, a, b, exp_id, auth, class_id, teacher)
        for replica in replicas:
            print(f"\n--- {replica.url} log (tail)\n{replica.log()}")
    assert not ray.is_initialized()


def frames(ws: ClientConnection, seconds: float) -> Iterator[tuple[dict[str, Any], float]]:
    """Each frame's header and its time of receipt (time.time(), as the header's "time"),
    until `seconds` pass without one."""
    while True:
        message = ws.recv(timeout=seconds)
        if isinstance(message, bytes):
            received = time.time()
            yield decode_frame(message)[0], received


def cpu(cluster: RayCluster, node: Any) -> float:
    """CPU seconds the node's processes (its raylet, its trainer...) have used."""
    ticks = 0
    for pid in cluster.pids([node]):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / TICK


def busy(cluster: RayCluster, seconds: float = 1.5) -> dict[Any, float]:
    """Each worker node's share of a CPU over the next `seconds`."""
    before = {n: cpu(cluster, n) for n in cluster.nodes}
    time.sleep(seconds)
    return {n: (cpu(cluster, n) - before[n]) / seconds for n in cluster.nodes}


def roster(api: Api, s: Scene) -> list[str]:
    r = api.http.get(f"/api/classes/{s.class_id}", headers=s.teacher)
    assert r.status_code == 200, r.text
    return sorted(student["name"] for student in r.json()["students"])


def frames_in_time_then_a_node_killed(
        scene: Scene) -> None:
    s = scene
    assert roster(s.b, s) == ["Ada", "Bo", "Cy"]  # the class is A's: B forwards
    with s.b.watch(f"/ws/experiments/{s.exp_id}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send(json.dumps({"type": "auth", "token": s.auth["Authorization"][7:]}))
        ws.send(json.dumps({"type": "play"}))
        # 1. frames built on a trainer actor, relayed A -> B -> viewer
        latency, epochs = [], []
        began = time.monotonic()
        for header, received in frames(ws, 10):
            latency.append(received - header["time"])
            epochs.append(header["epoch"])
            if time.monotonic() - began > 4 and len(latency) >= 20:
                break
        latency.sort()
        p50, p99 = latency[len(latency) // 2], latency[int(0.99 * (len(latency) - 1))]
        print(f"\n{len(latency)} frames through B in {time.monotonic() - began:.1f} s: "
              f"latency p50 {1000 * p50:.1f} ms, p99 {1000 * p99:.1f} ms, "
              f"max {1000 * latency[-1]:.1f} ms")
        assert epochs[-1] > epochs[0]
        assert p99 < LATENCY_P99, latency
        rate = (epochs[-1] - epochs[0]) / (time.monotonic() - began)  # epochs a second

        # 2. an edit acknowledged through B, then the node that trains the run killed
        r = s.b.http.patch(f"/api/experiments/{s.exp_id}", headers=s.auth,
                           json={"optimizer": {"learning_rate": 0.07}})
        assert r.status_code == 200 and r.json()["weights_kept"], r.text
        shares = busy(s.cluster)
        node = max(shares, key=lambda n: shares[n])
        # the one run trains there, nothing elsewhere (a loaded machine gives it less)
        assert shares[node] > 0.15 and all(shares[node] > 3 * share for other, share in
                                           shares.items() if other is not node), shares
        killed_at = s.b.http.get(f"/api/experiments/{s.exp_id}").json()["epoch"]
        killed, wall = time.monotonic(), time.time()
        s.cluster.remove(node)
        for header, _ in frames(ws, MOVED):
            # built after the kill (the socket holds frames from before), further on
            if header["time"] > wall:
                assert header["epoch"] >= killed_at - LOST * rate, (header["epoch"], killed_at)
                if header["epoch"] > killed_at + 5:
                    break
            assert time.monotonic() - killed < MOVED, "the run did not go on"
        took = time.monotonic() - killed
        print(f"node killed -> 5 epochs further on the other node: {took:.2f} s")
        assert took < MOVED and header["status"] == "running"
        view = s.b.http.get(f"/api/experiments/{s.exp_id}").json()
        assert view["config"]["optimizer"]["learning_rate"] == 0.07 and view["running"]
    # the node left trains it (a loaded machine may pause it a moment: a few looks)
    assert until(lambda: next(iter(busy(s.cluster).values())) > 0.15, 10)


def the_owner_replica_killed(
        scene: Scene) -> None:
    s = scene
    a, b = s.a, s.b
    if not b.http.get(f"/api/experiments/{s.exp_id}").json()["running"]:  # the last failed
        assert b.http.post(f"/api/experiments/{s.exp_id}/train", json={},
                           headers=s.auth).status_code == 202
    # an edit of its own, acknowledged through B just before the kill (the tests of this
    # file may run in either order: two test processes keep a group, not its order)
    r = b.http.patch(f"/api/experiments/{s.exp_id}", headers=s.auth,
                     json={"optimizer": {"learning_rate": 0.05}})
    assert r.status_code == 200 and r.json()["weights_kept"], r.text
    relayed = b.watch(f"/ws/experiments/{s.exp_id}")  # through B to A
    try:
        assert json.loads(relayed.recv(timeout=10))["type"] == "hello"
        seen = [(time.monotonic(), header["epoch"]) for header, _ in
                itertools.islice(frames(relayed, 10), 30)]
        rate = (seen[-1][1] - seen[0][1]) / (seen[-1][0] - seen[0][0])
        a.replica.kill()
        killed = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:  # the page reconnects by itself
            while True:
                relayed.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    finally:
        relayed.close()

    def resumed() -> bool:
        r = b.http.get(f"/api/experiments/{s.exp_id}")
        return r.status_code == 200 and r.json()["running"]

    until(resumed, TTL + MOVED)
    with b.watch(f"/ws/experiments/{s.exp_id}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        first = None
        for header, _ in frames(ws, MOVED):
            if first is None:
                first = header["epoch"]  # from its last save: a few seconds lost at most
                assert first >= seen[-1][1] - LOST * rate, (first, seen[-1][1], rate)
            if header["epoch"] > first + 5:
                break
            assert time.monotonic() - killed < TTL + MOVED, "the run did not go on on B"
    took = time.monotonic() - killed
    assert first is not None
    print(f"\nA killed -> its run 5 epochs further through B: {took:.2f} s; resumed at epoch "
          f"{first}, {seen[-1][1]} seen before the kill ({rate:.0f} epochs/s)")
    assert took < TTL + MOVED
    view = b.http.get(f"/api/experiments/{s.exp_id}").json()
    assert view["config"]["optimizer"]["learning_rate"] == 0.05 and view["running"]
    assert len(s.cluster.nodes) == 1  # on the node left, within a few looks
    assert until(lambda: next(iter(busy(s.cluster).values())) > 0.15, 10)

    # 4. the class A owned: B takes it over, every student there for the teacher
    assert until(lambda: roster(b, s) == ["Ada", "Bo", "Cy"], TTL + MOVED)
    with b.watch(f"/ws/classes/{s.class_id}") as ws:
        ws.send(json.dumps({"type": "auth", "token": s.teacher["Authorization"][7:]}))
        header, _ = next(frames(ws, 10))
        assert sorted(student["name"] for student in header["students"]) == ["Ada", "Bo", "Cy"]
    assert b.http.post(f"/api/experiments/{s.exp_id}/pause",
                       headers=s.auth).status_code == 200


def test_frames_in_time_a_node_killed_then_the_owner_replica_killed(scene: Scene) -> None:
    """One scene in its order (two test processes keep a file's tests together, not their
    order): frames through B within 100 ms; a worker node killed costs seconds, no edit;
    then the owner replica killed: B resumes the run on the node left, serves the class."""
    frames_in_time_then_a_node_killed(scene)
    the_owner_replica_killed(scene)
