"""Several clients on one experiment at once, on a live server: every acknowledged change
is in the state that follows it, or the request failed with a 4xx that says why."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from .conftest import SMALL, Exp, LiveServer, create, make_settings

CLIENTS_SECONDS = 4.0


@pytest.fixture(params=[0, 1], ids=["thread", "process"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, workers=request.param, max_running_per_client=8))
    yield live
    live.stop()


class Clients:
    """Threads, each with its own connection, hammering one experiment until a deadline;
    every answer is kept with the client that got it."""

    def __init__(self, server: LiveServer) -> None:
        self.http = server.http
        body = httpx.post(f"{self.http}/api/experiments", json=SMALL).json()
        self.id, self.auth = body["id"], {"Authorization": f"Bearer {body['edit_token']}"}
        self.answers: list[tuple[str, dict[str, Any], httpx.Response]] = []
        self.lock = threading.Lock()

    def url(self, tail: str = "") -> str:
        return f"{self.http}/api/experiments/{self.id}{tail}"

    def run(self, *loops: Callable[[httpx.Client, random.Random], tuple[str, dict, Any]],
            seconds: float = CLIENTS_SECONDS) -> None:
        deadline = time.monotonic() + seconds

        def go(loop: Callable[..., tuple[str, dict, Any]], seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=90, headers=self.auth) as http:
                while time.monotonic() < deadline:
                    kind, sent, r = loop(http, rng)
                    with self.lock:
                        self.answers.append((kind, sent, r))

        threads = [threading.Thread(target=go, args=(loop, i)) for i, loop in enumerate(loops)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for _, _, r in self.answers:
            out[r.status_code] = out.get(r.status_code, 0) + 1
        return out


def test_concurrent_edits_are_serialized_and_none_is_lost(server: LiveServer) -> None:
    """One client changes the layers, another the learning rate, a third trains and
    pauses: a change acknowledged is never carried back by another (238 were in 8 s)."""
    c = Clients(server)

    def layers(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        sent = {"hidden_layers": [{"units": rng.randint(1, 6)}]}
        return "layers", sent, http.patch(c.url(), json=sent)

    def rate(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        sent = {"optimizer": {"learning_rate": rng.choice([0.01, 0.03, 0.1, 0.3])}}
        return "rate", sent, http.patch(c.url(), json=sent)

    def train(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        action = rng.choice(["/train", "/pause", "/step"])
        return action, {}, http.post(c.url(action), json={"epochs": 2} if action != "/pause"
                                     else None)

    c.run(layers, rate, train)
    statuses = c.statuses()
    assert set(statuses) <= {200, 202, 409}, [(k, r.status_code, r.text) for k, _, r in
                                              c.answers if r.status_code not in (200, 202, 409)]
    acks = sorted(((r.json()["revision"], kind, sent) for kind, sent, r in c.answers
                   if kind in ("layers", "rate") and r.status_code == 200), key=lambda a: a[0])
    assert len(acks) > 20
    # Each acknowledgement shows its own change, and no two share a revision: one at a time.
    assert len({rev for rev, _, _ in acks}) == len(acks)
    for kind, sent, r in c.answers:
        if kind in ("layers", "rate") and r.status_code == 200:
            config = r.json()["config"]
            if kind == "layers":
                assert config["hidden_layers"][0]["units"] == sent["hidden_layers"][0]["units"]
            else:
                assert config["optimizer"]["learning_rate"] == \
                    sent["optimizer"]["learning_rate"]
    # The state that follows holds the last acknowledged value of each field.
    final = httpx.get(c.url()).json()["config"]
    last_units = next(s for _, k, s in reversed(acks) if k == "layers")
    last_rate = next(s for _, k, s in reversed(acks) if k == "rate")
    assert final["hidden_layers"] == [{"units": last_units["hidden_layers"][0]["units"],
                                       "activation": "tanh"}]
    assert final["optimizer"]["learning_rate"] == last_rate["optimizer"]["learning_rate"]
    for _, _, r in c.answers:
        if r.status_code == 409:
            assert "another request" in r.json()["error"] or "pause it" in r.json()["error"]
    view = httpx.get(c.url()).json()
    assert "Error" not in view["message"]


def test_gradient_checks_during_edits_answer_a_report_or_a_conflict(server: LiveServer) -> None:
    """Checks racing structure changes answered 503 with a NumPy broadcast error or a
    KeyError; now each is a report of one state of the weights, or a 409."""
    c = Clients(server)

    def layers(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        sent = {"hidden_layers": [{"units": rng.randint(2, 9)}] * rng.randint(1, 2)}
        return "layers", sent, http.patch(c.url(), json=sent)

    def check(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        return "check", {}, http.get(c.url("/gradient-check?points=8"))

    def train(http: httpx.Client, rng: random.Random) -> tuple[str, dict, Any]:
        action = rng.choice(["/train", "/pause"])
        return action, {}, http.post(c.url(action), json={} if action == "/train" else None)

    c.run(layers, check, check, train)
    checks = [r for kind, _, r in c.answers if kind == "check"]
    assert {r.status_code for r in checks} <= {200, 409}, [r.text for r in checks
                                                            if r.status_code not in (200, 409)]
    assert any(r.status_code == 200 for r in checks)
    for r in checks:
        if r.status_code == 200:
            assert r.json()["verdict"] in ("right", "probably right")
        else:
            assert "another request" in r.json()["error"] or "pause it" in r.json()["error"]
    httpx.post(c.url("/pause"), headers=c.auth)
    assert "training stopped" not in httpx.get(c.url()).json()["message"]


def test_a_step_paused_by_another_client_says_so_and_pauses_nobody_else(
        server: LiveServer) -> None:
    """A step racing pause and train answered 200 in 0.01 s with "the step stopped after
    60 s", then paused whichever run was going: another client's."""
    big = {**SMALL, "dataset": {**SMALL["dataset"], "n_samples": 5000}, "batch_size": 1}
    body = httpx.post(f"{server.http}/api/experiments", json=big).json()
    url = f"{server.http}/api/experiments/{body['id']}"
    auth = {"Authorization": f"Bearer {body['edit_token']}"}
    answer: list[httpx.Response] = []
    stepping = threading.Thread(target=lambda: answer.append(
        httpx.post(f"{url}/step", json={"epochs": 200}, headers=auth, timeout=90)))
    stepping.start()
    deadline = time.monotonic() + 30
    while not httpx.get(url).json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert httpx.post(f"{url}/pause", headers=auth).status_code == 200
    assert httpx.post(f"{url}/train", json={}, headers=auth).status_code == 202
    stepping.join(90)
    (r,) = answer
    assert r.status_code == 409, r.text
    assert "another request paused" in r.json()["error"]
    assert "stopped after" not in r.text
    view = httpx.get(url).json()
    assert view["running"], "the step paused the other client's run"
    httpx.post(f"{url}/pause", headers=auth)


def test_a_step_taken_over_by_a_train_answers_once_its_epochs_are_done(
        server: LiveServer) -> None:
    c = Clients(server)
    big = {**SMALL, "dataset": {**SMALL["dataset"], "n_samples": 5000}, "batch_size": 1}
    r = httpx.patch(c.url(), json=big, headers=c.auth)
    assert r.status_code == 200, r.text
    answer: list[httpx.Response] = []
    epoch = httpx.get(c.url()).json()["epoch"]
    stepping = threading.Thread(target=lambda: answer.append(
        httpx.post(c.url("/step"), json={"epochs": 3}, headers=c.auth, timeout=90)))
    stepping.start()
    deadline = time.monotonic() + 30
    while not httpx.get(c.url()).json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    httpx.post(c.url("/train"), json={}, headers=c.auth)
    stepping.join(90)
    (r,) = answer
    assert r.status_code == 200 and r.json()["epoch"] >= epoch + 3
    assert httpx.get(c.url()).json()["running"], "the train goes on after the step's epochs"
    httpx.post(c.url("/pause"), headers=c.auth)


# A full disk: the work of a step or a train that waits is lost on restart -------------------
def _full(*args: Any) -> None:
    from backend.experiments.store import StoreError

    raise StoreError("cannot save to data/playground.sqlite3: database or disk is full")


@pytest.mark.parametrize("tail,body", [("/step", {"epochs": 2}),
                                       ("/train", {"epochs": 3, "wait": True})])
def test_a_step_or_a_waited_train_that_cannot_be_saved_answers_507(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: str, body: dict) -> None:
    from backend.api.app import create_app

    with TestClient(create_app(make_settings(tmp_path))) as client:
        exp = create(client)
        monkeypatch.setattr(client.app.state.service.store, "save_experiment", _full)
        r = exp.post(tail, body)
        assert r.status_code == 507, r.text
        assert "disk is full" in r.json()["error"] and "not saved" in r.json()["error"]
        assert "not saved" in exp.get().json()["message"]


# A PATCH to another data set -------------------------------------------------------------
def test_a_patch_to_another_data_set_takes_none_of_the_old_sets_fields(exp: Exp) -> None:
    """After a 3-class spiral, a regression set was refused: its classes came along."""
    client = exp.client
    r = client.patch(exp.url(), json={"dataset": {"name": "spiral", "classes": 3}},
                     headers=exp.auth)
    assert r.status_code == 200, r.text
    r = client.patch(exp.url(), json={"problem": "regression", "dataset": {"name": "reg-plane"}},
                     headers=exp.auth)
    assert r.status_code == 200, r.text
    dataset = r.json()["config"]["dataset"]
    assert dataset["name"] == "reg-plane" and dataset["classes"] == 2
    assert dataset["n_samples"] == SMALL["dataset"]["n_samples"]  # the old set's size stays


def test_null_in_a_patch_sets_a_field_back_to_its_default(exp: Exp) -> None:
    client = exp.client
    client.patch(exp.url(), json={"dataset": {"name": "spiral", "classes": 3}}, headers=exp.auth)
    r = client.patch(exp.url(), json={"dataset": {"classes": None}}, headers=exp.auth)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["dataset"]["classes"] == 2
    client.patch(exp.url(), json={"batch_size": 25, "optimizer": {"name": "adam"}},
                 headers=exp.auth)
    r = client.patch(exp.url(), json={"batch_size": None, "optimizer": None}, headers=exp.auth)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["batch_size"] == 10
    assert r.json()["config"]["optimizer"]["name"] == "sgd"


def test_a_regression_set_is_not_said_to_have_classes(client: TestClient) -> None:
    r = client.post("/api/experiments", json={"problem": "regression",
                                              "dataset": {"name": "reg-plane", "classes": 3}})
    assert r.status_code == 422
    error = r.json()["error"]
    assert "2 classes" not in error and "regression" in error and "classes" in error
