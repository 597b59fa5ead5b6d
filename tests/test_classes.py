"""A teacher's class over REST and its websocket: docs/api.md's "Classes" contract."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.experiments.classes import ClassLimits
from backend.experiments.frames import decode_frame
from backend.experiments.lessons import LESSONS

from .conftest import SMALL, Exp, create

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
    cls = make(client, config=SMALL, name="  Maths   3B ")
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
    assert weights(ana) == weights(fresh)  # the same seed: the weights a create makes
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
    ("DELETE", "/students/abc", None),
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
    epochs = [s.get().json()["epoch"] for s in (ana, bo)]
    time.sleep(0.3)
    assert [s.get().json()["epoch"] for s in (ana, bo)] == epochs  # they stay paused
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
    assert cls.join("Bo").get().json()["config"] == before["config"]


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
