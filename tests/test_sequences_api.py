"""Recurrent networks on sequence data through the server: the config's checks, training
that learns, GET and POST /sequence, frames that trace the chosen example, changes after
training, export and import."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from backend.api.app import create_app
from backend.experiments.config import parse_config

from .conftest import make_settings
from .test_websocket import command, create, next_frame, open_ws

SINE = {"problem": "regression", "dataset": {"name": "sine", "n_samples": 120},
        "hidden_layers": [{"type": "lstm", "units": 8, "return_sequences": True}],
        "optimizer": {"name": "adam", "learning_rate": 0.02, "clip_norm": 1.0},
        "batch_size": 20}
WAVES = {"dataset": {"name": "waves", "n_samples": 400, "noise": 0.02},
         "hidden_layers": [{"type": "gru", "units": 12}],
         "optimizer": {"name": "adam", "learning_rate": 0.02}, "batch_size": 20}


def made(client: TestClient, config: dict[str, Any]) -> tuple[str, dict[str, str]]:
    r = client.post("/api/experiments", json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['edit_token']}"}


def train(client: TestClient, exp_id: str, auth: dict[str, str], epochs: int) -> dict:
    r = client.post(f"/api/experiments/{exp_id}/train", json={"epochs": epochs, "wait": True},
                    headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["metrics"]


@pytest.mark.parametrize(("config", "words"), [
    ({**SINE, "hidden_layers": [{"type": "lstm", "units": 8}]},
     "targets are one per step, so the last hidden layer must give a sequence of all 40"),
    ({**WAVES, "hidden_layers": [{"type": "gru", "units": 8, "return_sequences": True}]},
     "set its return_sequences to false"),
    ({**WAVES, "hidden_layers": [{"type": "rnn", "units": 4}, {"type": "rnn", "units": 4}]},
     "hidden layer 2: a rnn layer cannot follow a rnn layer that gives its last step only"),
    ({"hidden_layers": [{"type": "lstm", "units": 4}]},
     "hidden layer 1: lstm layers need sequence data; data set 'circle' is 2-D points"),
    ({"dataset": {"name": "digits"}, "hidden_layers": [{"type": "gru", "units": 4}]},
     "gru layers need sequences as input, not images"),
    ({**WAVES, "hidden_layers": [{"type": "lstm", "units": 4, "activation": "relu"}]},
     "a lstm layer takes no activation; it takes units, return_sequences"),
    ({**WAVES, "hidden_layers": [{"type": "gru"}]}, "a gru layer needs units"),
    ({**WAVES, "hidden_layers": [{"type": "pool", "size": 4}] * 3 + [{"type": "gru",
                                                                       "units": 2}]},
     "hidden layer 3: a pool of 4 steps does not fit its sequence of 2 steps"),
    ({**WAVES, "optimizer": {"name": "sgd", "clip_norm": 0}}, "greater than 0"),
])
def test_bad_recurrent_configs_say_what_to_change(config: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        parse_config(config)


def test_an_lstm_learns_the_next_value_of_a_sine_and_shows_it_through_time(
        client: TestClient) -> None:
    exp_id, auth = made(client, SINE)
    first = client.get(f"/api/experiments/{exp_id}").json()["metrics"]["test_loss"]
    metrics = train(client, exp_id, auth, 40)
    assert metrics["test_loss"] < first / 5, (first, metrics)
    view = client.get(f"/api/experiments/{exp_id}/sequence", params={"example": 3}).json()
    assert view["example"] == 3 and view["per_step"] is True and view["labels"] == []
    assert np.shape(view["input"]) == (40, 1) and np.shape(view["output"]) == (40, 1)
    (layer,) = view["layers"]
    assert layer["layer"] == 1 and layer["type"] == "lstm" and layer["units"] == 8
    assert np.shape(layer["states"]) == (40, 8)
    assert set(layer["gates"]) == {"input", "forget", "output", "candidate"}
    assert all(0 <= v <= 1 for row in layer["gates"]["forget"] for v in row)
    assert len(view["gradient"]) == 40 and min(view["gradient"]) >= 0
    # the prediction is the next value: close to the target at every step
    error = np.abs(np.asarray(view["output"])[:, 0] - np.asarray(view["target"]))
    assert error.mean() < 0.15, error.mean()
    drawn = client.post(f"/api/experiments/{exp_id}/sequence",
                        json={"input": np.sin(np.arange(40) / 3).tolist()}).json()
    assert drawn["example"] is None and drawn["target"] is None and drawn["gradient"] is None
    assert np.shape(drawn["layers"][0]["states"]) == (40, 8)


def test_a_gru_tells_waves_apart_with_a_confusion_matrix_in_its_frames(
        client: TestClient) -> None:
    exp_id, auth = made(client, WAVES)
    metrics = train(client, exp_id, auth, 60)
    assert metrics["test_accuracy"] > 0.9, metrics
    view = client.get(f"/api/experiments/{exp_id}/sequence").json()
    assert view["labels"] == ["sine", "triangle"] and view["target"] in (0, 1)
    assert len(view["output"]) == 2 and sum(view["output"]) == pytest.approx(1, abs=1e-3)
    assert view["predicted"] == int(np.argmax(view["output"]))
    assert set(view["layers"][0]["gates"]) == {"update", "reset", "candidate"}


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"input": [0.1] * 41}, 422, "input must be 40 numbers or 40 rows of 1"),
    ({"input": [[0.1, 0.2]] * 40}, 422, "not an array of shape (40, 2)"),
    ({"input": ["a"] * 40}, 422, "input must be 40 numbers"),
    ({"input": [1e300] * 40}, 422, "finite numbers of at most 1e6"),
    ({"image": [0.1] * 40}, 422, "input"),
])
def test_a_bad_drawing_is_refused_with_what_to_send(client: TestClient, body: dict,
                                                    status: int, words: str) -> None:
    exp_id, _ = made(client, WAVES)
    r = client.post(f"/api/experiments/{exp_id}/sequence", json=body)
    assert r.status_code == status and words in r.text, r.text


def test_sequences_sent_as_images_are_told_where_to_go(client: TestClient) -> None:
    raw = _npz(x=np.zeros((10, 40), np.float32), y=np.zeros(10, np.int64))
    r = client.post("/api/datasets", params={"kind": "npz"}, content=raw,
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 422 and "?kind=sequences" in r.text, r.text


def test_a_weight_edit_on_a_network_without_dense_layers_says_so(client: TestClient) -> None:
    exp_id, auth = made(client, SINE)  # an LSTM and its output at every step: no dense
    r = client.patch(f"/api/experiments/{exp_id}/weights", headers=auth,
                     json={"layer": 0, "target": 0, "value": 1.0})
    assert r.status_code == 422 and "this network has no dense layer" in r.text, r.text


def test_sequence_views_refuse_other_data_and_examples_out_of_range(
        client: TestClient) -> None:
    exp_id, _ = made(client, WAVES)
    r = client.get(f"/api/experiments/{exp_id}/sequence", params={"example": 200})
    assert r.status_code == 422 and "example must be 0..199" in r.text
    points, _ = made(client, {})
    r = client.get(f"/api/experiments/{points}/sequence")
    assert r.status_code == 422 and "data are points, not sequences" in r.text


@pytest.mark.parametrize(("method", "route", "body", "words"), [
    ("post", "predict", {"x": [[0.1, 0.2]]}, "data are sequences, which have no plane"),
    ("post", "predict", {"images": [[[0.1]]]}, "data are sequences, not images"),
    ("get", "maps", None, "data are sequences, not images"),
    ("post", "maps", {"image": [[0.1]]}, "data are sequences, not images"),
    ("get", "mistakes", None, "data are sequences, not images"),
    ("get", "points", None, "data are sequences, which have no plane"),
    ("get", "boundary", None, "data are sequences, which have no plane"),
])
def test_views_of_points_and_images_refuse_sequences_and_point_to_sequence(
        client: TestClient, method: str, route: str, body: dict | None, words: str) -> None:
    exp_id, _ = made(client, WAVES)
    kwargs = {} if body is None else {"json": body}
    r = getattr(client, method)(f"/api/experiments/{exp_id}/{route}", **kwargs)
    assert r.status_code == 422 and words in r.text and "/sequence" in r.text, r.text


def test_a_change_to_points_that_keeps_no_features_says_which_to_choose_and_changes_nothing(
        client: TestClient) -> None:
    exp_id, auth = made(client, WAVES)
    url = f"/api/experiments/{exp_id}"
    before = client.get(url).json()["config"]
    r = client.patch(url, json={"dataset": {"name": "circle"},
                                "hidden_layers": [{"type": "dense", "units": 4}]}, headers=auth)
    assert r.status_code == 422, r.text
    assert "'circle' is 2-D points" in r.text and "such as x1 and x2" in r.text
    assert "[] is for image and sequence data sets" in r.text
    assert client.get(url).json()["config"] == before


def test_changes_after_training_keep_or_renew_the_weights_as_they_say(
        client: TestClient) -> None:
    exp_id, auth = made(client, WAVES)
    train(client, exp_id, auth, 3)
    url = f"/api/experiments/{exp_id}"
    r = client.patch(url, json={"optimizer": {"learning_rate": 0.005, "clip_norm": 0.5}},
                     headers=auth)
    assert r.status_code == 200 and r.json()["weights_kept"] is True, r.text
    r = client.patch(url, json={"hidden_layers": [{"type": "lstm", "units": 12}]},
                     headers=auth)
    assert r.status_code == 200 and r.json()["weights_kept"] is False, r.text
    r = client.patch(url, json={"dataset": {"length": 60}}, headers=auth)
    assert r.status_code == 200 and r.json()["weights_kept"] is False, r.text
    assert np.shape(client.get(f"{url}/sequence").json()["input"]) == (60, 1)
    r = client.patch(url, json={"hidden_layers": [{"type": "lstm", "units": 12,
                                                    "return_sequences": True}]}, headers=auth)
    assert r.status_code == 422 and "return_sequences" in r.text
    assert client.get(url).json()["config"]["hidden_layers"][0] == {
        "type": "lstm", "units": 12, "return_sequences": False}
    train(client, exp_id, auth, 2)
    shared = client.post(f"{url}/share", headers=auth).json()["share_id"]
    for path in (url, f"/api/shares/{shared}"):  # the snapshot shows the same
        assert client.get(f"{path}/sequence", params={"example": 4}).json() == \
            client.get(f"{url}/sequence", params={"example": 4}).json()
        r = client.post(f"{path}/sequence", json={"input": [0.5] * 60})
        assert r.status_code == 200 and r.json()["example"] is None
    exported = client.get(f"{url}/export").json()
    r = client.post("/api/experiments/import", json=exported)
    assert r.status_code == 201, r.text
    twin = client.get(f"/api/experiments/{r.json()['id']}/sequence").json()
    assert twin["output"] == client.get(f"{url}/sequence").json()["output"]


def test_frames_trace_the_example_a_viewer_chooses(live: Any) -> None:
    exp_id, token = create(live, WAVES)
    ws = open_ws(live, exp_id, token)
    header, grids = next_frame(ws)
    assert header["input"] == "sequences" and header["sequence"]["example"] == 0
    assert grids["confusion"].shape == (2, 2)
    for past in (200, 10**9):  # refused as GET /sequence refuses it; the choice stays
        reply = command(ws, {"type": "view", "example": past})
        assert reply["type"] == "error" and "example must be 0..199" in reply["message"]
    command(ws, {"type": "view", "example": 5})
    for _ in range(20):
        header, _ = next_frame(ws)
        if header["sequence"]["example"] == 5:
            break
    assert header["sequence"]["example"] == 5
    same = httpx.get(f"{live.http}/api/experiments/{exp_id}/sequence",
                     params={"example": 5}).json()
    assert header["sequence"]["layers"] == same["layers"]
    assert command(ws, {"type": "step", "epochs": 3})["type"] == "ack"
    while header["epoch"] < 3:
        header, _ = next_frame(ws)
    assert header["sequence"]["example"] == 5 and len(header["sequence"]["gradient"]) == 40
    ws.close()
    assert json.loads(json.dumps(header))  # plain JSON all through


# flows: any order of changes to sequence experiments, each then looked at ----------------
STACKS = {  # per data set: layer stacks that fit it
    "sine": [[{"type": "rnn", "units": 4, "return_sequences": True}],
             [{"type": "conv", "filters": 3, "kernel": 3},
              {"type": "gru", "units": 3, "return_sequences": True}],
             [{"type": "lstm", "units": 3, "return_sequences": True}, {"units": 2}]],
    "waves": [[{"type": "gru", "units": 4}], [{"type": "pool"}, {"type": "lstm", "units": 3}],
              [{"type": "rnn", "units": 3, "activation": "relu", "return_sequences": True},
               {"type": "rnn", "units": 2}], [{"units": 5}]],
}
PROBLEM = {"sine": "regression", "waves": "classification"}


class SequenceFlows(RuleBasedStateMachine):
    """Sequence experiments changed in any order: every answer is one the API documents,
    a refused change changes nothing, and /sequence always agrees with the config."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.client = TestClient(create_app(make_settings(Path(self.dir))))
        self.client.__enter__()
        self.exps: list[tuple[str, dict[str, str], str]] = []  # id, auth, data set

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def pick(self, i: int) -> tuple[str, dict[str, str], str]:
        return self.exps[i % len(self.exps)]

    @initialize(name=st.sampled_from(list(STACKS)), stack=st.integers(0, 3),
                clip=st.sampled_from([None, 0.5]))
    def create(self, name: str, stack: int, clip: float | None) -> None:
        layers = STACKS[name][stack % len(STACKS[name])]
        config = {"problem": PROBLEM[name], "dataset": {"name": name, "n_samples": 40},
                  "hidden_layers": layers, "batch_size": 8,
                  "optimizer": {"name": "adam", "learning_rate": 0.01, "clip_norm": clip}}
        exp_id, auth = made(self.client, config)
        self.exps.append((exp_id, auth, name))

    @rule(i=st.integers(0, 3), epochs=st.integers(1, 3))
    def train(self, i: int, epochs: int) -> None:
        exp_id, auth, _ = self.pick(i)
        r = self.client.post(f"/api/experiments/{exp_id}/train",
                             json={"epochs": epochs, "wait": True}, headers=auth)
        assert r.status_code == 200, r.text

    @rule(i=st.integers(0, 3), stack=st.integers(0, 3), length=st.sampled_from([None, 10, 25]),
          clip=st.sampled_from([None, 0.1, 5.0]), recurrent=st.sampled_from(["orthogonal",
                                                                             "init"]))
    def change(self, i: int, stack: int, length: int | None, clip: float | None,
               recurrent: str) -> None:
        exp_id, auth, name = self.pick(i)
        layers = STACKS[name][stack % len(STACKS[name])]
        r = self.client.patch(f"/api/experiments/{exp_id}", headers=auth, json={
            "hidden_layers": layers, "dataset": {"length": length},
            "optimizer": {"clip_norm": clip}, "init": {"recurrent": recurrent}})
        assert r.status_code == 200, r.text

    @rule(i=st.integers(0, 3), bad=st.sampled_from([
        {"hidden_layers": [{"type": "gru", "units": 0}]},
        {"dataset": {"length": 5}},
        {"optimizer": {"clip_norm": -1}},
        {"hidden_layers": [{"type": "lstm", "units": 2, "activation": "tanh"}]},
        {"init": {"recurrent": "identity"}}]))
    def refused(self, i: int, bad: dict[str, Any]) -> None:
        exp_id, auth, _ = self.pick(i)
        before = self.client.get(f"/api/experiments/{exp_id}").json()
        r = self.client.patch(f"/api/experiments/{exp_id}", headers=auth, json=bad)
        assert r.status_code == 422 and r.json()["error"], r.text
        after = self.client.get(f"/api/experiments/{exp_id}").json()
        assert (after["config"], after["epoch"]) == (before["config"], before["epoch"])

    @rule(i=st.integers(0, 3))
    def reset(self, i: int) -> None:
        exp_id, auth, _ = self.pick(i)
        assert self.client.post(f"/api/experiments/{exp_id}/reset",
                                headers=auth).status_code == 200

    @rule(i=st.integers(0, 3), how=st.sampled_from(["share", "export"]))
    def copy(self, i: int, how: str) -> None:
        exp_id, auth, name = self.pick(i)
        url = f"/api/experiments/{exp_id}"
        if how == "share":
            share = self.client.post(f"{url}/share", headers=auth).json()["share_id"]
            r = self.client.post(f"/api/shares/{share}/fork")
        else:
            r = self.client.post("/api/experiments/import",
                                 json=self.client.get(f"{url}/export").json())
        assert r.status_code == 201, r.text
        twin = r.json()["id"]
        assert self.client.get(f"/api/experiments/{twin}/sequence").json()["output"] == \
            self.client.get(f"{url}/sequence").json()["output"]
        self.exps.append((twin, {"Authorization": f"Bearer {r.json()['edit_token']}"}, name))

    @invariant()
    def sequences_agree_with_the_config(self) -> None:
        for exp_id, _, _ in self.exps:
            config = self.client.get(f"/api/experiments/{exp_id}").json()["config"]
            view = self.client.get(f"/api/experiments/{exp_id}/sequence",
                                   params={"example": 1}).json()
            steps = config["dataset"]["length"] or 40
            assert np.shape(view["input"]) == (steps, 1)
            recurrent = [h for h in config["hidden_layers"] if h.get("type") in
                         ("rnn", "lstm", "gru")]
            assert [(v["type"], np.shape(v["states"])) for v in view["layers"]] == [
                (h["type"], (steps // (2 if config["hidden_layers"][0].get("type") == "pool"
                                       else 1), h["units"])) for h in recurrent]
            assert (view["gradient"] is None) == (not recurrent)


SequenceFlows.TestCase.settings = settings(max_examples=25, stateful_step_count=10,
                                           deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestSequenceFlows = SequenceFlows.TestCase


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("per_step", [False, True])
def test_uploaded_sequences_train_a_recurrent_network(client: TestClient,
                                                      per_step: bool) -> None:
    """A learner's own sequences: a class per sequence (is the sum positive?), or classes
    at every step (is the running sum positive so far?)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12, 2)).astype(np.float32)
    running = np.cumsum(x.sum(axis=2), axis=1)
    y = (running > 0).astype(np.int64) if per_step else (running[:, -1] > 0).astype(np.int64)
    r = client.post("/api/datasets", params={"kind": "sequences"},
                    content=_npz(x=x, y=y), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    data_id = r.json()["id"]
    layers = [{"type": "gru", "units": 8, "return_sequences": per_step}]
    config = {"dataset": {"name": "custom", "id": data_id}, "features": [],
              "hidden_layers": layers, "optimizer": {"name": "adam", "learning_rate": 0.03},
              "batch_size": 30}
    exp_id, auth = made(client, config)
    metrics = train(client, exp_id, auth, 25)
    assert metrics["test_accuracy"] > 0.85, metrics
    view = client.get(f"/api/experiments/{exp_id}/sequence").json()
    assert np.shape(view["input"]) == (12, 2) and view["per_step"] is per_step
    assert np.shape(view["output"]) == ((12, 2) if per_step else (2,))
    # the other way round is refused when the experiment is made, saying why
    wrong = {**config, "hidden_layers": [{"type": "gru", "units": 8,
                                          "return_sequences": not per_step}]}
    r = client.post("/api/experiments", json=wrong)
    assert r.status_code == 422 and "return_sequences" in r.text, r.text


def test_a_big_network_s_views_stay_within_their_budgets() -> None:
    """2 LSTMs of 128 units over 200 steps: 256 000 numbers of states and gates. The
    REST answer carries them; a frame, which goes out many times a second, leaves them
    out and says so."""
    from backend.experiments.experiment import Experiment
    from backend.experiments.frames import build_sequence_frame, decode_frame
    config = parse_config({"dataset": {"name": "waves", "length": 200, "n_samples": 20},
                           "hidden_layers": [{"type": "lstm", "units": 128,
                                              "return_sequences": True},
                                             {"type": "lstm", "units": 128}]})
    exp = Experiment("big", config)
    full = exp.sequence_view(0)
    assert [len(layer["states"]) for layer in full["layers"]] == [200, 200]
    assert not any(layer["left_out"] for layer in full["layers"])
    header, _ = decode_frame(build_sequence_frame(exp, 1, 0))
    layers = header["sequence"]["layers"]
    assert [layer["left_out"] for layer in layers] == [True, True]
    assert layers[0]["states"] == [] and layers[0]["gates"] == {}
    assert len(header["sequence"]["gradient"]) == 200  # the bars are always there


def test_mnist1d_takes_its_published_split_unless_told_otherwise() -> None:
    assert parse_config({"dataset": {"name": "mnist1d"}}).dataset.train_fraction == 0.8
    assert parse_config({"dataset": {"name": "mnist1d", "train_fraction": 0.5}}
                        ).dataset.train_fraction == 0.5
    assert parse_config({"dataset": {"name": "waves"}}).dataset.train_fraction == 0.5
