"""Recurrent networks on sequence data through the server: the config's checks, training
that learns, GET and POST /sequence, frames that trace the chosen example, changes after
training, export and import."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.experiments.config import parse_config

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


def test_sequence_views_refuse_other_data_and_examples_out_of_range(
        client: TestClient) -> None:
    exp_id, _ = made(client, WAVES)
    r = client.get(f"/api/experiments/{exp_id}/sequence", params={"example": 200})
    assert r.status_code == 422 and "example must be 0..199" in r.text
    points, _ = made(client, {})
    r = client.get(f"/api/experiments/{points}/sequence")
    assert r.status_code == 422 and "data are points, not sequences" in r.text


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
