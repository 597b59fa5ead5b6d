"""A teacher's class over REST and its websocket: docs/api.md's "Classes" contract."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from typing import Any

import pytest
import segno
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.api.app import create_app
from backend.api.qr import qr_svg
from backend.experiments.classes import LOCKED, ClassLimits
from backend.experiments.frames import decode_frame
from backend.experiments.lessons import LESSONS
from backend.experiments.store import Store

from .conftest import SMALL, Exp, create, make_settings

OTHER = {**SMALL, "dataset": {"name": "xor", "n_samples": 200},
         "hidden_layers": [{"units": 3, "activation": "relu"}]}


class Class:
    def __init__(self, client: TestClient, body: dict[str, Any]) -> None:
        self.client, self.body = client, body
        self.id, self.token = body["id"], body["teacher_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def view(self) -> dict[str, Any]:
        r = self.client.get(f"/api/classes/{self.id}", headers=self.auth)
        assert r.status_code == 200, r.text
        return r.json()

    def join(self, name: str) -> Exp:
        r = self.client.post(f"/api/classes/{self.id}/join", json={"name": name})
        assert r.status_code == 201, r.text
        body = r.json()
        return Exp(self.client, {"id": body["experiment_id"], "edit_token": body["edit_token"],
                                 **body})

    def post(self, tail: str, json: Any = None) -> Any:
        return self.client.post(f"/api/classes/{self.id}/{tail}", json=json, headers=self.auth)


def make(client: TestClient, **body: Any) -> Class:
    r = client.post("/api/classes", json=body or {"config": SMALL})
    assert r.status_code == 201, r.text
    return Class(client, r.json())


def weights(exp: Exp) -> list[Any]:
    return exp.get("/weights").json()["layers"]


def counts(client: TestClient) -> tuple[int, int]:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    return store.count_classes(), store.count_experiments()


def wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# creating ------------------------------------------------------------------------------------


def test_a_class_from_a_config(client: TestClient) -> None:
    before = counts(client)
    cls = make(client, config=SMALL, name="  Maths   3B ", seed_per_student=False)
    body = cls.body
    assert body["name"] == "Maths 3B" and len(body["teacher_token"]) >= 32
    assert body["join_url"] == f"/c/{cls.id}"
    assert body["teacher_url"] == f"/c/{cls.id}/teacher#token={cls.token}"
    assert body["start"]["kind"] == "config" and body["start"]["epoch"] == 0
    assert body["start"]["generation"] == 1
    # the class holds the starting point itself: no experiment is left behind
    assert counts(client) == (before[0] + 1, before[1])
    ana = cls.join("Ana")
    fresh = create(client, SMALL)
    assert ana.get().json()["config"] == fresh.get().json()["config"]
    assert weights(ana) == weights(fresh)  # one seed for all: the weights a create makes
    # the teacher token is stored hashed, never as it is
    row = client.app.state.service.store.load_class(cls.id)  # type: ignore[attr-defined]
    assert cls.token not in str(row)


def test_a_class_from_a_lesson_preset(client: TestClient) -> None:
    cls = make(client, lesson="xor", preset=1)
    preset = LESSONS["xor"].presets[1]
    assert cls.body["start"]["label"].endswith(preset.label)
    assert cls.body["name"] == LESSONS["xor"].title
    r = client.post(f"/api/classes/{cls.id}/join", json={"name": "Bo"})
    assert r.json()["playground_url"].endswith("&lesson=xor&preset=1")
    info = client.get(f"/api/classes/{cls.id}/join").json()
    assert info["lesson"] == "xor" and info["preset"] == 1
    config = client.get(f"/api/experiments/{r.json()['experiment_id']}").json()["config"]
    assert config["features"] == preset.config["features"]
    assert make(client, lesson="xor").body["start"]["preset"] == 0


def test_a_class_from_a_share_keeps_its_weights(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 7, "wait": True})
    share_id = exp.post("/share").json()["share_id"]
    exp.post("/train", {"epochs": 3, "wait": True})  # the share must not follow
    cls = make(client, share_id=share_id)
    assert cls.body["start"]["kind"] == "share" and cls.body["start"]["epoch"] == 7
    ana = cls.join("Ana")
    view = ana.get().json()
    assert view["epoch"] == 7 and view["status"] == "paused"
    fork = client.post(f"/api/shares/{share_id}/fork").json()
    assert weights(ana) == weights(Exp(client, fork))


def test_a_class_from_an_experiment_is_a_snapshot(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 4, "wait": True})
    snapshot = weights(exp)
    cls = make(client, experiment_id=exp.id)
    exp.post("/train", {"epochs": 4, "wait": True})
    ana = cls.join("Ana")
    assert ana.get().json()["epoch"] == 4 and weights(ana) == snapshot
    ana.post("/train", {"epochs": 2, "wait": True})
    assert exp.get().json()["epoch"] == 8  # the source is nobody's but its owner's


def test_a_class_from_uploaded_points(client: TestClient) -> None:
    points = {"x": [[i / 10, (i % 7) / 3] for i in range(40)],
              "y": [i % 2 for i in range(40)]}
    upload = client.post("/api/datasets", json=points)
    assert upload.status_code == 201, upload.text
    mine = create(client, {**SMALL, "dataset": {"name": "custom", "id": upload.json()["id"]}})
    cls = make(client, experiment_id=mine.id)
    ana = cls.join("Ana")
    assert ana.get("/points").json()["x_train"] == mine.get("/points").json()["x_train"]
    r = cls.post("start", {"experiment_id": mine.id})
    assert r.status_code == 200 and r.json()["reset"] == ["Ana"], r.text
    assert ana.get("/points").json()["x_train"] == mine.get("/points").json()["x_train"]


@pytest.mark.parametrize(("body", "words"), [
    ({}, "exactly one"),
    ({"config": SMALL, "lesson": "xor"}, "exactly one"),
    ({"preset": 1, "share_id": "x"}, "preset goes with lesson"),
    ({"lesson": "nope"}, "no lesson 'nope'"),
    ({"lesson": "xor", "preset": 9}, "presets 0 to 2"),
    ({"share_id": "nope"}, "no share 'nope'"),
    ({"experiment_id": "nope"}, "no experiment 'nope'"),
    ({"config": {**SMALL, "hidden_layers": [{"units": 100000}]}}, "config.hidden_layers.0.units"),
    ({"config": {**SMALL, "dataset": {"name": "moon"}}}, "config.dataset.name"),
    ({"config": "spiral"}, "config"),
    ({"config": SMALL, "name": "x" * 81}, "at most 80"),
    ({"config": SMALL, "name": "a\x00b"}, "printable"),
    ({"config": SMALL, "color": "red"}, "not permitted"),
])
def test_bad_starting_points_are_refused_and_leave_nothing(
        client: TestClient, body: dict[str, Any], words: str) -> None:
    before = counts(client)
    r = client.post("/api/classes", json=body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"], r.json()
    assert counts(client) == before


# joining -------------------------------------------------------------------------------------


def test_join_gives_an_experiment_of_ones_own(client: TestClient) -> None:
    cls = make(client)
    r = client.post(f"/api/classes/{cls.id}/join", json={"name": "  Ana \t Lee "})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Ana Lee" and body["class_id"] == cls.id
    assert body["playground_url"] == f"/?e={body['experiment_id']}"
    ana = Exp(client, {"id": body["experiment_id"], "edit_token": body["edit_token"]})
    assert ana.post("/train", {"epochs": 3, "wait": True}).status_code == 200
    bo = cls.join("Bo")
    assert bo.id != ana.id and bo.token != ana.token
    assert bo.get().json()["epoch"] == 0  # each student's own, apart
    # a student's token edits their experiment only; the teacher's edits none
    assert client.post(f"/api/experiments/{bo.id}/reset", headers=ana.auth).status_code == 403
    assert client.post(f"/api/experiments/{bo.id}/reset", headers=cls.auth).status_code == 403
    info = client.get(f"/api/classes/{cls.id}/join").json()
    assert info == {"id": cls.id, "name": cls.body["name"], "students": 2,
                    "max_students": 300, "full": False, "lesson": None, "preset": None}


@pytest.mark.parametrize(("name", "status", "words"), [
    ("ANA", 409, "taken"),
    ("  ana ", 409, "taken"),
    ("Ａｎａ", 409, "taken"),  # fullwidth letters look the same
    ("", 422, "type a name"),
    ("   ", 422, "type a name"),
    ("x" * 41, 422, "at most 40"),
    ("An\u200ba", 422, "printable"),
    ("Ana\nBo", 200, ""),  # a newline is whitespace: "Ana Bo"
])
def test_names_are_checked(client: TestClient, name: str, status: int, words: str) -> None:
    cls = make(client)
    cls.join("Ana")
    before = counts(client)
    r = client.post(f"/api/classes/{cls.id}/join", json={"name": name})
    if status == 200:
        assert r.status_code == 201 and r.json()["name"] == "Ana Bo"
        return
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert counts(client) == before  # no experiment made for a refused name
    assert len(cls.view()["students"]) == 1


def test_a_full_class_says_so(client: TestClient) -> None:
    client.app.state.classes.limits = ClassLimits(max_students=2)  # type: ignore[attr-defined]
    cls = make(client)
    cls.join("Ana")
    cls.join("Bo")
    before = counts(client)
    r = client.post(f"/api/classes/{cls.id}/join", json={"name": "Cy"})
    assert r.status_code == 409 and "full: 2 students" in r.json()["error"]
    assert counts(client) == before
    assert client.get(f"/api/classes/{cls.id}/join").json()["full"] is True


# the teacher's token and unknown classes ------------------------------------------------------


@pytest.mark.parametrize(("method", "tail", "body"), [
    ("GET", "", None), ("POST", "/pause", None), ("POST", "/start", {"lesson": "xor"}),
    ("DELETE", "/students/abc", None), ("POST", "/lock", None), ("POST", "/unlock", None),
    ("GET", "/results", None), ("GET", "/results.csv", None),
])
def test_teacher_routes_need_the_teacher_token(client: TestClient, method: str, tail: str,
                                               body: Any) -> None:
    cls = make(client)
    ana = cls.join("Ana")
    url = f"/api/classes/{cls.id}{tail}"
    r = client.request(method, url, json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "teacher token" in r.json()["error"]
    for token in ("wrong", ana.token):  # a student's token is not the teacher's
        r = client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403 and "teacher token" in r.json()["error"]
    r = client.request(method, f"/api/classes/nope{tail}", json=body, headers=cls.auth)
    assert r.status_code == 404 and "no class 'nope'" in r.json()["error"]
    assert ana.get().json()["epoch"] == 0 and cls.view()["start"]["generation"] == 1
    assert cls.view()["locked"] is False


def test_unknown_classes_are_404s(client: TestClient) -> None:
    assert client.post("/api/classes/nope/join", json={"name": "Ana"}).status_code == 404
    assert client.get("/api/classes/nope/join").status_code == 404
    r = client.get("/c/nope")
    assert r.status_code == 404 and "does not exist" in r.text
    assert client.get(f"/api/classes/{'x' * 65}/join").status_code == 422


# the teacher's view and actions --------------------------------------------------------------


def test_the_list_shows_each_students_experiment(client: TestClient) -> None:
    cls = make(client)
    ana, bo = cls.join("Ana"), cls.join("bo")
    ana.post("/train", {"epochs": 5, "wait": True})
    bo.post("/train", {"epochs": 2, "wait": True})
    view = cls.view()
    assert view["name"] == cls.body["name"] and view["join_url"] == f"/c/{cls.id}"
    assert view["start"]["kind"] == "config" and view["max_students"] == 300
    rows = {s["name"]: s for s in view["students"]}
    assert [s["name"] for s in view["students"]] == ["Ana", "bo"]  # in the order they joined
    assert rows["Ana"]["experiment_id"] == ana.id and rows["Ana"]["epoch"] == 5
    assert rows["bo"]["epoch"] == 2 and rows["bo"]["status"] == "paused"
    assert rows["Ana"]["metrics"]["test_loss"] > 0
    assert rows["Ana"]["output_kind"] == "probability"
    # a student who deletes their experiment stays listed, as gone
    assert client.delete(bo.url(), headers=bo.auth).status_code == 204
    rows = {s["name"]: s for s in cls.view()["students"]}
    assert rows["bo"]["status"] == "gone" and rows["bo"]["epoch"] is None


def test_pause_all_pauses_every_running_student(client: TestClient) -> None:
    cls = make(client)
    ana, bo, cy = cls.join("Ana"), cls.join("Bo"), cls.join("Cy")
    for student in (ana, bo):
        assert student.post("/train", {}).status_code == 202
    wait_until(lambda: all(s.get().json()["epoch"] > 2 for s in (ana, bo)))
    assert {s["name"] for s in cls.view()["students"] if s["running"]} == {"Ana", "Bo"}
    r = cls.post("pause")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["paused"]) == ["Ana", "Bo"] and r.json()["failed"] == []
    for student in (ana, bo, cy):
        view = student.get().json()
        assert view["status"] == "paused" and view["running"] is False
    assert all(not s["running"] for s in r.json()["students"])
    assert cls.post("pause").json()["paused"] == []


def test_a_new_starting_point_resets_every_student(client: TestClient, exp: Exp) -> None:
    cls = make(client)
    ana, bo = cls.join("Ana"), cls.join("Bo")
    ana.post("/train", {"epochs": 6, "wait": True})
    assert bo.post("/train", {}).status_code == 202  # running: paused first
    other = create(client, OTHER)
    other.post("/train", {"epochs": 3, "wait": True})
    share_id = other.post("/share").json()["share_id"]
    target = weights(other)
    r = cls.post("start", {"share_id": share_id})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["reset"]) == ["Ana", "Bo"] and body["failed"] == []
    assert body["start"]["kind"] == "share" and body["start"]["generation"] == 2
    for student in (ana, bo):
        view = student.get().json()
        assert view["id"] == student.id  # the same experiment, in place
        assert view["epoch"] == 3 and view["status"] == "paused" and not view["running"]
        assert view["config"] == other.get().json()["config"]
        assert "new starting point" in view["message"]
        assert weights(student) == target
        assert student.get("/history").json()["rows"][-1]["epoch"] == 3
        assert student.post("/train", {"epochs": 1, "wait": True}).status_code == 200  # token
    assert cls.join("Cy").get().json()["epoch"] == 3  # new joiners get it too
    assert weights(ana) != target  # and their experiments are their own


def test_a_bad_new_starting_point_changes_nothing(client: TestClient) -> None:
    cls = make(client)
    ana = cls.join("Ana")
    ana.post("/train", {"epochs": 3, "wait": True})
    before = client.get(ana.url("/export")).json()
    for body in ({"lesson": "nope"}, {"share_id": "nope"}, {},
                 {"config": {**SMALL, "batch_size": 0}}):
        r = cls.post("start", body)
        assert r.status_code == 422, r.text
    assert client.get(ana.url("/export")).json() == before
    assert cls.view()["start"]["generation"] == 1
    # Bo's own seed (the second to join), otherwise the same config
    assert cls.join("Bo").get().json()["config"] == {**before["config"],
                                                     "seed": before["config"]["seed"] + 1}


def test_removing_a_student_frees_the_name(client: TestClient) -> None:
    cls = make(client)
    ana = cls.join("Ana")
    r = client.delete(f"/api/classes/{cls.id}/students/{ana.id}", headers=cls.auth)
    assert r.status_code == 204
    assert ana.get().status_code == 404
    assert cls.view()["students"] == []
    again = cls.join("ana")
    assert again.id != ana.id
    r = client.delete(f"/api/classes/{cls.id}/students/{ana.id}", headers=cls.auth)
    assert r.status_code == 404


# the class websocket -------------------------------------------------------------------------


def test_the_class_socket_sends_rows_and_thumbnails_to_the_teacher(client: TestClient) -> None:
    cls = make(client)
    ana, bo = cls.join("Ana"), cls.join("Bo")
    ana.post("/train", {"epochs": 4, "wait": True})
    with client.websocket_connect(f"/ws/classes/{cls.id}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["teacher"] is False
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "ack", "command": "ping"}  # nothing else yet
        ws.send_json({"type": "auth", "token": cls.token})
        assert ws.receive_json() == {"type": "ack", "command": "auth", "teacher": True}
        header, grids = decode_frame(ws.receive_bytes())
        assert header["type"] == "class" and header["id"] == cls.id
        rows = {s["name"]: s for s in header["students"]}
        assert rows["Ana"]["epoch"] == 4 and rows["Bo"]["epoch"] == 0
        assert rows["Ana"]["thumb"] is True
        thumb = grids[ana.id]
        assert thumb.shape == (1, 32, 32) and thumb.min() < thumb.max()
        assert set(grids) == {ana.id, bo.id}
        # only what changed comes again
        bo.post("/train", {"epochs": 2, "wait": True})
        header, grids = decode_frame(ws.receive_bytes())
        assert set(grids) == {bo.id}
        assert {s["name"]: s["epoch"] for s in header["students"]} == {"Ana": 4, "Bo": 2}
        cy = cls.join("Cy")  # a new student appears
        header, grids = decode_frame(ws.receive_bytes())
        assert [s["name"] for s in header["students"]] == ["Ana", "Bo", "Cy"]
        assert cy.id in grids


def test_the_class_socket_refuses_a_wrong_token(client: TestClient) -> None:
    cls = make(client)
    with client.websocket_connect(f"/ws/classes/{cls.id}") as ws:
        ws.receive_json()
        ws.send_json({"type": "auth", "token": "wrong"})
        assert "refused" in ws.receive_json()["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403
    with client.websocket_connect("/ws/classes/nope") as ws:
        assert "no class" in ws.receive_json()["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4404


def test_a_student_whose_experiment_is_gone_may_join_again(client: TestClient) -> None:
    cls = make(client)
    ana = cls.join("Ana")
    assert client.delete(ana.url(), headers=ana.auth).status_code == 204
    again = cls.join("ana")  # the seat of a deleted experiment is free again
    assert again.id != ana.id
    assert [s["experiment_id"] for s in cls.view()["students"]] == [again.id]


def test_a_student_who_joins_during_a_new_start_gets_it(client: TestClient) -> None:
    """The class's start changes first, then the roster is reset: a student seated in
    between follows the new start on their own."""
    classes = client.app.state.classes  # type: ignore[attr-defined]
    cls = make(client)
    store = classes.store
    original = store.load_class_state

    def newer_start_meanwhile(class_id: str) -> Any:
        state = original(class_id)
        store.load_class_state = original  # once
        r = cls.post("start", {"config": OTHER})
        assert r.status_code == 200, r.text
        return state

    store.load_class_state = newer_start_meanwhile
    r = client.post(f"/api/classes/{cls.id}/join", json={"name": "Ana"})
    assert r.status_code == 201, r.text
    config = client.get(f"/api/experiments/{r.json()['experiment_id']}").json()["config"]
    assert config["dataset"]["name"] == "xor"


def test_a_class_of_image_networks_streams_rows_without_plane_thumbnails(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """An image network has no output over the plane: its card goes without a picture,
    and nothing fails in the log."""
    digits = {"dataset": {"name": "digits"}, "features": [],
              "hidden_layers": [{"type": "conv", "filters": 4}, {"type": "pool"}],
              "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 32}
    cls = make(client, config=digits)
    ana = cls.join("Ana")
    ana.post("/train", {"epochs": 1, "wait": True})
    with client.websocket_connect(f"/ws/classes/{cls.id}") as ws:
        ws.receive_json()
        ws.send_json({"type": "auth", "token": cls.token})
        ws.receive_json()
        header, grids = decode_frame(ws.receive_bytes())
    rows = {s["name"]: s for s in header["students"]}
    assert rows["Ana"]["epoch"] == 1 and not rows["Ana"].get("thumb") and grids == {}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# the lock ------------------------------------------------------------------------------------


def socket_reply(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
    """Send a command on an experiment's socket; its JSON answer (frames skipped)."""
    ws.send_json(message)
    while True:
        got = ws.receive()
        if got.get("text"):
            reply = json.loads(got["text"])
            if reply.get("command") == message["type"]:
                return reply


def socket_held(ws: Any, want: str) -> dict[str, Any]:
    """The next frame whose header says `held` is `want`."""
    while True:
        got = ws.receive()
        if got.get("bytes"):
            header = decode_frame(got["bytes"])[0]
            if header["held"] == want:
                return header


def test_a_locked_class_refuses_its_students_training_until_unlocked(
        client: TestClient) -> None:
    cls = make(client)
    ana, bo = cls.join("Ana"), cls.join("Bo")
    assert ana.post("/train", {}).status_code == 202
    wait_until(lambda: ana.get().json()["epoch"] > 1)
    with client.websocket_connect(f"/ws/experiments/{bo.id}") as ws:
        ws.receive_json()  # hello
        assert socket_reply(ws, {"type": "auth", "token": bo.token})["editable"] is True
        r = cls.post("lock")
        assert r.status_code == 200, r.text
        assert r.json()["locked"] is True and r.json()["paused"] == ["Ana"]
        assert r.json()["failed"] == []
        # the student's page learns it from the next frame
        assert "teacher has paused the class" in socket_held(ws, LOCKED)["held"]
        # play, step and train are refused on every door, with the reason
        for tail, body in (("/train", {}), ("/train", {"epochs": 2, "wait": True}),
                           ("/step", None)):
            for student in (ana, bo):
                refused = student.post(tail, body)
                assert refused.status_code == 423, refused.text
                assert refused.json()["error"] == LOCKED
        for command in ({"type": "play"}, {"type": "step"}):
            reply = socket_reply(ws, command)
            assert reply["type"] == "error" and reply["message"] == LOCKED
        epochs = {s.id: s.get().json()["epoch"] for s in (ana, bo)}
        assert all(not s["running"] for s in cls.view()["students"])
        # a student who joins a locked class is held as well
        cy = cls.join("Cy")
        assert cy.post("/step").status_code == 423
        # what is not training stays theirs: a config change, a reset
        assert client.patch(bo.url(), json={"optimizer": {"learning_rate": 0.1}},
                            headers=bo.auth).status_code == 200
        assert cls.view()["locked"] is True
        assert {s.id: s.get().json()["epoch"] for s in (ana, bo)} == epochs

        r = cls.post("unlock")
        assert r.status_code == 200 and r.json()["locked"] is False, r.text
        assert socket_held(ws, "")["held"] == ""
        reply = socket_reply(ws, {"type": "step"})
        assert reply["type"] == "ack", reply
    assert bo.get().json()["epoch"] == epochs[bo.id] + 1
    for student in (ana, cy):
        r = student.post("/train", {"epochs": 2, "wait": True})
        assert r.status_code == 200, r.text
    # the plain pause all still only pauses
    assert cls.post("pause").json()["locked"] is False


def test_the_lock_holds_after_a_restart(settings: Any) -> None:
    with TestClient(create_app(settings)) as client:
        cls = make(client)
        ana = cls.join("Ana")
        assert cls.post("lock").status_code == 200
    with TestClient(create_app(settings)) as client:
        cls.client = ana.client = client
        assert cls.view()["locked"] is True
        r = ana.post("/train", {})
        assert r.status_code == 423 and r.json()["error"] == LOCKED
        assert cls.post("unlock").status_code == 200
    with TestClient(create_app(settings)) as client:
        ana.client = client
        assert ana.post("/train", {"epochs": 1, "wait": True}).status_code == 200


def test_the_lock_refuses_a_student_only_in_their_class(client: TestClient, exp: Exp) -> None:
    cls, other = make(client), make(client)
    ana, bo = cls.join("Ana"), other.join("Bo")
    cls.post("lock")
    assert ana.post("/step").status_code == 423
    assert bo.post("/step").status_code == 200 and exp.post("/step").status_code == 200
    # a student taken off a locked class keeps nothing of it (their experiment is gone)
    client.delete(f"/api/classes/{cls.id}/students/{ana.id}", headers=cls.auth)
    assert client.app.state.service.holds == {}  # type: ignore[attr-defined]


# seeds ---------------------------------------------------------------------------------------


def test_each_student_starts_from_their_own_seed(client: TestClient) -> None:
    cls = make(client)
    assert cls.view()["seed_per_student"] is True
    base = cls.view()["start"]["config"]["seed"]
    ana, bo, cy = cls.join("Ana"), cls.join("Bo"), cls.join("Cy")
    rows = {s["name"]: s for s in cls.view()["students"]}
    assert [rows[n]["number"] for n in ("Ana", "Bo", "Cy")] == [1, 2, 3]
    assert [rows[n]["seed"] for n in ("Ana", "Bo", "Cy")] == [base + 1, base + 2, base + 3]
    assert ana.get().json()["config"]["seed"] == base + 1
    assert len({str(weights(s)) for s in (ana, bo, cy)}) == 3  # three networks
    points = ana.get("/points").json()
    assert bo.get("/points").json() == points  # on the same data
    for s in (ana, bo):
        assert s.get().json()["epoch"] == 0 and s.get("/history").json()["rows"][0]["epoch"] == 0
    # the seed is the one a new experiment of that seed gets: the same network
    assert weights(bo) == weights(create(client, {**SMALL, "seed": base + 2}))
    # a number is never reused: after Bo leaves, the next is 4
    client.delete(f"/api/classes/{cls.id}/students/{bo.id}", headers=cls.auth)
    cls.join("Dee")
    assert [s["seed"] for s in cls.view()["students"]][-1] == base + 4

    # a new starting point: each their own again, from its seed
    r = cls.post("start", {"config": {**OTHER, "seed": 50}})
    assert r.status_code == 200 and r.json()["failed"] == [], r.text
    assert ana.get().json()["config"]["seed"] == 51
    assert "new starting point" in ana.get().json()["message"]
    assert cy.get().json()["config"]["seed"] == 53
    assert weights(ana) != weights(cy)


def test_one_seed_for_all_and_trained_starting_points(client: TestClient, exp: Exp) -> None:
    same = make(client, config=SMALL, seed_per_student=False)
    assert same.view()["seed_per_student"] is False
    ana, bo = same.join("Ana"), same.join("Bo")
    assert weights(ana) == weights(bo)
    assert {s["seed"] for s in same.view()["students"]} == {SMALL.get("seed", 0)}
    # a starting point with training behind it is given as it is: its weights are the point
    exp.post("/train", {"epochs": 3, "wait": True})
    trained = make(client, experiment_id=exp.id)
    cy, dee = trained.join("Cy"), trained.join("Dee")
    assert weights(cy) == weights(dee) == weights(exp)
    assert cy.get().json()["epoch"] == 3


# results -------------------------------------------------------------------------------------


def test_results_give_every_students_numbers_and_curve(client: TestClient) -> None:
    cls = make(client)
    ana, bo = cls.join("Ana"), cls.join("=HYPERLINK(1)")
    ana.post("/train", {"epochs": 600, "wait": True})
    bo.post("/train", {"epochs": 3, "wait": True})
    r = client.get(f"/api/classes/{cls.id}/results", headers=cls.auth)
    assert r.status_code == 200, r.text
    rows = {s["name"]: s for s in r.json()["students"]}
    a, b = rows["Ana"], rows["=HYPERLINK(1)"]
    assert a["epoch"] == 600 and b["epoch"] == 3
    assert a["curve"][0][0] == 0 and a["curve"][-1][0] == 600  # from the first to the last
    assert len(a["curve"]) <= 200 and [e for e, _ in a["curve"]] == sorted(
        e for e, _ in a["curve"])
    history = ana.get("/history").json()["rows"]
    assert a["curve"][-1][1] == pytest.approx(history[-1]["test_loss"])
    assert a["curve"][-1][1] == pytest.approx(a["metrics"]["test_loss"])
    assert [e for e, _ in b["curve"]] == [0, 1, 2, 3]

    r = client.get(f"/api/classes/{cls.id}/results.csv", headers=cls.auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [t["name"] for t in table] == ["Ana", "'=HYPERLINK(1)"]  # no formula
    assert table[0]["epoch"] == "600" and table[0]["number"] == "1"
    assert table[0]["seed"] == str(a["seed"])
    assert float(table[0]["test_loss"]) == pytest.approx(a["metrics"]["test_loss"])
    assert float(table[1]["test_accuracy"]) == pytest.approx(b["metrics"]["test_accuracy"])
    # a student who deleted their experiment: listed, with no numbers
    client.delete(bo.url(), headers=bo.auth)
    table = list(csv.DictReader(io.StringIO(
        client.get(f"/api/classes/{cls.id}/results.csv", headers=cls.auth).text)))
    assert table[1]["status"] == "gone" and table[1]["test_loss"] == ""


# the join link -------------------------------------------------------------------------------


def test_the_join_link_as_a_qr_code(client: TestClient) -> None:
    cls = make(client)
    r = client.get(f"/api/classes/{cls.id}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert r.content.startswith(b"<svg") and b"viewBox" in r.content
    assert r.content == qr_svg(f"http://testserver/c/{cls.id}")
    # the address the page was opened by is the one in the code
    r = client.get(f"/api/classes/{cls.id}/qr.svg", headers={"host": "10.0.0.7:8000"})
    assert r.content == qr_svg(f"http://10.0.0.7:8000/c/{cls.id}")
    matrix = segno.make(f"http://10.0.0.7:8000/c/{cls.id}", error="m", micro=False)
    assert f'viewBox="0 0 {matrix.symbol_size(scale=1, border=4)[0]}'.encode() in r.content
    assert client.get("/api/classes/nope/qr.svg").status_code == 404
    # the Host header is the asker's: one too long for a QR code is a 422, not a 500
    r = client.get(f"/api/classes/{cls.id}/qr.svg", headers={"host": "a" * 3000})
    assert r.status_code == 422 and "does not fit in a QR code" in r.json()["error"]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.1.1", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("school.example", False),
])
def test_the_class_says_whether_students_can_reach_the_server(
        tmp_path: Any, host: str, loopback: bool) -> None:
    with TestClient(create_app(make_settings(tmp_path, host=host))) as client:
        cls = make(client)
        assert cls.view()["listening"] == {"host": host, "loopback_only": loopback}


def test_a_database_from_before_locks_and_seeds_opens(tmp_path: Any) -> None:
    """Classes made by the first release: no lock, one seed for all, numbered by joining."""
    db = sqlite3.connect(tmp_path / "playground.sqlite3")
    db.executescript("""
        CREATE TABLE classes (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, name TEXT NOT
            NULL, start TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL);
        CREATE TABLE class_students (class_id TEXT NOT NULL, name_key TEXT NOT NULL,
            name TEXT NOT NULL, experiment_id TEXT NOT NULL, joined REAL NOT NULL,
            PRIMARY KEY (class_id, name_key));
        INSERT INTO classes VALUES ('old', 'h', 'Old', '{"epoch": 0}', '{}', 1, 1);
        INSERT INTO class_students VALUES ('old', 'ana', 'Ana', 'e1', 1);
        INSERT INTO class_students VALUES ('old', 'bo', 'Bo', 'e2', 2);
    """)
    db.close()
    store = Store(tmp_path / "playground.sqlite3")
    row = store.load_class("old")
    assert row is not None and row["locked"] is False and row["options"] == {}
    assert [s["number"] for s in store.class_students("old")] == [1, 2]
    assert store.add_student("old", "cy", "Cy", "e3", 10) == "added"
    assert [s["number"] for s in store.class_students("old")] == [1, 2, 3]
    store.close()
