"""Images over the API (issue 12, "Config and API"): conv and pool layers in the config,
image data sets, uploads of NPZ and MNIST IDX files, predict with images, image frames,
exports, and point experiments exactly as they were."""

from __future__ import annotations

import gzip
import io
import json
import struct
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.api.app import create_app
from backend.data.images import IMAGE_SETS, digits
from backend.engine import LAYER_TYPES, Model
from backend.experiments.config import parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.frames import build_frame, decode_frame
from backend.experiments.limits import Limits

from .conftest import SMALL, Exp, LiveServer, create, make_settings

DIGITS = {"name": "digits", "seed": 0}
CONV = [{"type": "conv", "filters": 8, "kernel": 3}, {"type": "pool"},
        {"type": "conv", "filters": 16, "kernel": 3}, {"type": "pool"},
        {"units": 64, "activation": "relu"}]
NET = {"dataset": DIGITS, "hidden_layers": CONV,
       "optimizer": {"name": "adam", "learning_rate": 0.003}, "batch_size": 32}
# A small conv net that learns the digits fast: one conv layer of 16 3x3 filters, a max
# pool, 64 relu units (17 258 parameters).
FAST = {"dataset": DIGITS, "hidden_layers": [
    {"type": "conv", "filters": 16, "kernel": 3}, {"type": "pool"},
    {"units": 64, "activation": "relu"}],
    "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 64}


def train(exp: Exp, epochs: int) -> dict[str, Any]:
    r = exp.post("/train", {"epochs": epochs, "wait": True})
    assert r.status_code == 200, r.text
    return r.json()


def refusal(config: Any, limits: Limits | None = None) -> str:
    with pytest.raises(ValidationError) as info:
        parse_config(config, limits or Limits())
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in info.value.errors())


def idx(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, as MNIST's."""
    return (struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(np.uint8).tobytes())


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "where", "words"), [
    ({"hidden_layers": [{"type": "conv", "filters": 4}]}, "hidden_layers",
     "hidden layer 1: conv layers need image or sequence data"),
    ({"hidden_layers": [{"type": "pool"}]}, "hidden_layers", "data set 'circle' is 2-D points"),
    ({"dataset": DIGITS, "features": ["x1", "x2"]}, "features",
     "data set 'digits' is images, which have no x1, x2 features: send []"),
    ({"features": []}, "features", "choose at least one input feature"),
    ({"dataset": DIGITS, "hidden_layers": [{"units": 8}, {"type": "conv", "filters": 4}]},
     "hidden_layers", "hidden layer 2: a conv layer cannot follow a dense layer"),
    ({"dataset": DIGITS, "hidden_layers": [
        {"type": "conv", "filters": 4, "kernel": 9, "padding": "valid"}]}, "hidden_layers",
     "hidden layer 1: a 9x9 kernel does not fit its 8x8 input with padding 'valid'"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "pool", "size": 4}, {"type": "pool",
                                                                          "size": 4}]},
     "hidden_layers", "hidden layer 2: a 4x4 pool does not fit its 2x2 input"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "conv", "filters": 4, "kernel": 4}]},
     "hidden_layers", "padding 'same' needs an odd kernel"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "conv", "filters": 4, "units": 3}]},
     "hidden_layers.0", "a conv layer takes no units; it takes filters, kernel"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "pool", "activation": "relu"}]},
     "hidden_layers.0", "a pool layer takes no activation; it takes kind, size"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "conv"}]}, "hidden_layers.0",
     "a conv layer needs filters"),
    ({"dataset": DIGITS, "hidden_layers": [{"units": 4, "kernel": 3}]}, "hidden_layers.0",
     "a dense layer takes no kernel"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "conv", "filters": 4, "padding": "full"}]},
     "hidden_layers.0.padding", "'same' or 'valid'"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "pool", "kind": "sum"}]},
     "hidden_layers.0.kind", "'max' or 'avg'"),
    ({"dataset": DIGITS, "hidden_layers": [{"type": "flatten"}]}, "hidden_layers.0.type",
     "'dense', 'conv', 'pool', 'rnn', 'lstm' or 'gru'"),
    ({"dataset": {"name": "digits", "classes": 3}}, "dataset", "has 10 classes, not 3"),
    ({"dataset": {"name": "shapes", "classes": 8}}, "dataset", "has 2 to 7 classes"),
    ({"dataset": DIGITS, "problem": "regression"}, "", "is for classification"),
    ({"dataset": {"name": "circle", "side": 32}}, "dataset",
     "side is for the built-in image sets (digits, shapes): 'circle' has no pixels to resize; "
     "send side null"),
    ({"dataset": {"name": "custom", "id": "abc", "side": 16}, "features": []}, "dataset",
     "'custom' has no pixels to resize"),
    ({"dataset": {**DIGITS, "side": 33}}, "dataset", "digits can be had at 8 to 32 pixels"),
    ({"dataset": {"name": "shapes", "side": 7}}, "dataset", "shapes can be had at 8 to 32"),
    ({"dataset": {**DIGITS, "side": 16}, "hidden_layers": [  # the side sets the sizes
        {"type": "conv", "filters": 4, "kernel": 9, "padding": "valid"}] * 2},
     "hidden_layers", "hidden layer 2: a 9x9 kernel does not fit its 8x8 input"),
    ({"hidden_layers": [{"units": 65}]}, "hidden_layers",
     "hidden layer 1: at most 64 units per layer on 2-D points, where the page draws every "
     "neuron (an image or sequence network may have 128)"),
    ({"dataset": DIGITS, "hidden_layers": [{"units": 129}]}, "hidden_layers.0.units",
     "at most 128 units per layer (on images and sequences; 64 on 2-D points)"),
])
def test_each_bad_combination_is_refused_with_its_reason(config: dict[str, Any], where: str,
                                                         words: str) -> None:
    message = refusal(config)
    assert f"{where}: " in message if where else message.startswith(": ")
    assert words in message, message


@pytest.mark.parametrize("field", ["kernel", "stride", "size", "filters"])
def test_layer_numbers_are_bounded_by_one_table(field: str) -> None:
    kind = "pool" if field == "size" else "conv"
    p = LAYER_TYPES[kind].field(field)
    base = {"type": kind, **({"filters": 2} if kind == "conv" else {})}
    big = {"dataset": {"name": "shapes"}, "hidden_layers": [{**base, field: p.high + 1}]}
    assert f"hidden_layers.0.{field}" in refusal(big)
    small = {"dataset": {"name": "shapes"}, "hidden_layers": [{**base, field: p.low - 1}]}
    assert f"hidden_layers.0.{field}" in refusal(small)
    if field == "filters":  # capped by the server's max_units, as units are
        config = {"dataset": {"name": "shapes"}, "hidden_layers": [{**base, field: 9}]}
        assert "at most 8 filters" in refusal(config, Limits(max_units=8))


def test_a_network_whose_pass_over_the_data_is_too_slow_is_refused() -> None:
    lenet = parse_config({"dataset": {**DIGITS, "side": 32}, "hidden_layers": [
        {"type": "conv", "filters": 6, "kernel": 5, "padding": "valid"}, {"type": "pool"},
        {"type": "conv", "filters": 16, "kernel": 5, "padding": "valid"}, {"type": "pool"},
        {"units": 120}, {"units": 84}]})
    # by hand: 6*28*28*25 + 16*10*10*150 + 400*120 + 120*84 + 84*10
    assert lenet.to_spec(10, input_shape=(1, 32, 32)).counts(10)[1] == 416_520
    for config, shape, k in [(lenet, (1, 32, 32), 10), (parse_config(NET), (1, 8, 8), 10),
                             (parse_config(SMALL), None, 2)]:  # counted as the engine does
        spec = config.to_spec(k, input_shape=shape)
        assert spec.counts(k if k > 2 else 1)[0] == Model(spec).summary()["trainable_params"]
    # a newcomer's attack: 999 026 parameters, 47 s an epoch, frames of others stalled 19 s
    slow = {"dataset": {**DIGITS, "side": 32}, "hidden_layers": [
        {"type": "conv", "filters": 64, "kernel": 9, "padding": "valid"}] * 2 + [
        {"type": "pool"}, {"units": 40}, {"units": 128}]}
    assert "one pass over the 1797 images takes 158 G multiply-adds, over the limit of 10 G " \
        "(max_pass_mults)" in refusal(slow)
    shapes = {"dataset": {"name": "shapes", "side": 32, "n_samples": 2000},
              "hidden_layers": [{"type": "conv", "filters": 16, "kernel": 5}]}
    parse_config(shapes)  # 2000 x 524 288 = 1.05 G
    assert "one pass over the 2000 images" in refusal(shapes, Limits(max_pass_mults=10**9))


def test_a_network_past_max_params_is_refused() -> None:
    config = {"dataset": {"name": "shapes"},
              "hidden_layers": [{"type": "conv", "filters": 64}, {"units": 64}]}
    parse_config(config)  # 589 952 weights: under the default limit
    assert "over the limit of 100000 (max_params)" in refusal(config, Limits(max_params=100_000))


def test_image_sets_default_their_features_and_classes() -> None:
    config = parse_config({"dataset": {"name": "digits"}})
    assert config.features == [] and config.dataset.classes == 10
    assert config.input_kind == "images"
    assert parse_config({"dataset": {"name": "shapes"}}).dataset.classes == 7
    assert parse_config({"dataset": {"name": "custom", "id": "a"}, "features": []}).input_kind \
        == "images"
    assert parse_config({}).input_kind == "points"


def test_dense_only_configs_serialize_as_they_always_did() -> None:
    """No `type` for dense entries, and an explicit "dense" is written back without it, so
    stored experiments, exports and links compare equal."""
    config = parse_config({**SMALL, "hidden_layers": [{"type": "dense", "units": 3},
                                                      {"units": 2, "activation": "relu"}]})
    dumped = config.model_dump(mode="json")
    assert dumped["hidden_layers"] == [{"units": 3, "activation": "tanh"},
                                       {"units": 2, "activation": "relu"}]
    assert dumped["features"] == ["x1", "x2"] and "input_kind" not in dumped
    assert parse_config(dumped).model_dump(mode="json") == dumped
    spec = config.to_spec()
    assert "input_shape" not in spec.to_dict()
    assert spec.to_dict()["hidden"][0] == {"units": 3, "activation": "tanh"}


def test_conv_entries_serialize_with_their_type_and_defaults() -> None:
    config = parse_config({"dataset": DIGITS, "hidden_layers": CONV})
    assert config.model_dump(mode="json")["hidden_layers"][:2] == [
        {"type": "conv", "filters": 8, "kernel": 3, "stride": 1, "padding": "same",
         "activation": "relu"}, {"type": "pool", "kind": "max", "size": 2}]
    spec = config.to_spec(10, input_shape=(1, 8, 8))
    assert spec.input_shape == (1, 8, 8) and spec.n_inputs == 64
    assert spec.layer_shapes() == [(8, 8, 8), (8, 4, 4), (16, 4, 4), (16, 2, 2), (64,)]


def test_bad_combinations_are_422_over_http(client: TestClient) -> None:
    r = client.post("/api/experiments", json={**SMALL, "hidden_layers": [
        {"type": "conv", "filters": 4}]})
    assert r.status_code == 422
    assert "conv layers need image or sequence data" in r.json()["error"]
    assert r.json()["details"][0]["field"] == "hidden_layers"
    r = client.post("/api/experiments", json={"dataset": DIGITS, "hidden_layers": [
        {"type": "conv", "filters": 4, "kernel": 9, "padding": "valid"}]})
    assert r.status_code == 422 and "does not fit its 8x8 input" in r.json()["error"]


def test_a_side_resizes_the_images_and_leaving_images_clears_it(client: TestClient) -> None:
    lenet = [{"type": "conv", "filters": 6, "kernel": 5, "padding": "valid"},
             {"type": "pool", "kind": "avg"}, {"type": "conv", "filters": 16, "kernel": 5,
                                               "padding": "valid"},
             {"type": "pool", "kind": "avg"}, {"units": 120}, {"units": 84}]
    exp = create(client, {"dataset": {**DIGITS, "side": 32}, "hidden_layers": lenet})
    summary = exp.get("/summary").json()
    assert summary["trainable_params"] == 61706
    assert summary["layers"][0]["output_shape"] == [None, 6, 28, 28]
    train(exp, 1)
    image = np.zeros((32, 32))
    assert exp.post("/predict", {"images": [image.tolist()]}).status_code == 200
    r = exp.post("/predict", {"images": [np.zeros((8, 8)).tolist()]})
    assert r.status_code == 422 and "(n, 1, 32, 32)" in r.json()["error"]
    # another side is other images and another network: fresh weights, never a 500
    r = client.patch(exp.url(), json={"dataset": {"side": 28}}, headers=exp.auth)
    assert r.status_code == 200 and r.json()["weights_kept"] is False
    assert exp.get("/summary").json()["layers"][0]["output_shape"] == [None, 6, 24, 24]
    r = client.patch(exp.url(), json={"dataset": {"side": 12}}, headers=exp.auth)
    assert r.status_code == 422
    assert "hidden layer 3: a 5x5 kernel does not fit its 4x4" in r.json()["error"]
    r = client.patch(exp.url(), json={"dataset": {"side": 32}}, headers=exp.auth)
    assert r.status_code == 200
    # back to points: the side belongs to the image set, and stays behind with it
    points = {"dataset": {"name": "circle"}, "features": ["x1", "x2"],
              "hidden_layers": [{"units": 4}]}
    r = client.patch(exp.url(), json=points, headers=exp.auth)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["dataset"]["side"] is None
    assert r.json()["config"]["dataset"]["classes"] == 2
    # a side sent with points is still refused with what to send, and nothing changes
    r = client.patch(exp.url(), json={"dataset": {"side": 16}}, headers=exp.auth)
    assert r.status_code == 422 and "send side null" in r.json()["error"]
    assert exp.get("").json()["config"]["dataset"]["side"] is None


# meta -------------------------------------------------------------------------------------


def test_meta_lists_layer_types_and_image_sets_apart_from_the_point_sets(
        client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    assert not {d["name"] for d in meta["datasets"]} & set(IMAGE_SETS)
    assert [d["name"] for d in meta["image_datasets"]] == list(IMAGE_SETS)
    assert meta["image_datasets"][0] == {
        "name": "digits", "problem": "classification", "description": IMAGE_SETS[
            "digits"].description, "label": "Digits", "shape": [1, 8, 8], "sides": [8, 32],
        "min_classes": 10,
        "max_classes": 10, "size": 1797}
    types = {t["type"]: t for t in meta["layer_types"]}
    assert list(types) == list(LAYER_TYPES)
    for kind in LAYER_TYPES.values():
        assert list(types[kind.name]["fields"]) == [f.name for f in kind.fields]
        assert types[kind.name]["token"] == kind.token
        for f in kind.fields:
            field = types[kind.name]["fields"][f.name]
            assert field["default"] == f.default
            if f.choices is None and not f.cap:
                assert [field["min"], field["max"]] == [f.low, f.high]
    assert types["conv"]["fields"]["padding"]["choices"] == ["same", "valid"]
    assert types["lstm"]["fields"]["return_sequences"]["choices"] == [False, True]
    assert types["conv"]["fields"]["filters"]["max"] == meta["limits"]["max_units"]
    assert types["dense"]["fields"]["units"]["max"] == meta["limits"]["max_image_units"] == 128
    assert types["conv"]["inputs"] == ["images", "sequences"]
    assert types["dense"]["inputs"] == ["points", "images", "sequences"]
    assert types["gru"]["inputs"] == ["sequences"] and types["gru"]["token"][0] == "gru"
    assert types["dense"]["token"] == ["units", "activation"]
    assert {"max_images", "max_image_values", "max_params"} <= set(meta["limits"])


# training and predicting -------------------------------------------------------------------


def test_a_conv_net_learns_the_digits_over_rest(client: TestClient) -> None:
    exp = create(client, FAST)
    assert exp.body["n_classes"] == 10 and exp.body["config"]["features"] == []
    assert 2.0 < exp.body["metrics"]["test_loss"] < 2.6  # about ln 10 before training
    started = time.monotonic()
    body = train(exp, 8)
    elapsed = time.monotonic() - started
    assert body["epoch"] == 8
    assert body["metrics"]["test_accuracy"] >= 0.9, body["metrics"]
    print(f"digits: test accuracy {body['metrics']['test_accuracy']:.3f} after 8 epochs "
          f"in {elapsed:.1f} s")
    summary = exp.get("/summary").json()
    assert summary["layers"][0]["output_shape"] == [None, 16, 8, 8]
    assert summary["total_params"] == 17_258
    history = exp.get("/history").json()
    assert len(history["rows"]) == 9


@pytest.mark.slow
def test_the_digits_reach_097_within_20_epochs(client: TestClient) -> None:
    """The issue's target: >= 0.97 test accuracy with a small conv net in under 30 s (here
    8 epochs, 2.4 s). Held in epochs, not seconds: a busy machine is slower."""
    exp = create(client, {**FAST, "dataset": {**DIGITS, "train_fraction": 0.8}})
    started = time.monotonic()
    best, epochs = 0.0, 0
    while epochs < 20 and best < 0.97:
        best, epochs = max(best, train(exp, 1)["metrics"]["test_accuracy"]), epochs + 1
    print(f"digits: {best:.3f} after {epochs} epochs, {time.monotonic() - started:.1f} s")
    assert best >= 0.97


def test_predict_takes_images_in_either_shape(client: TestClient) -> None:
    exp = create(client, NET)
    train(exp, 5)
    d = digits()
    grey = client.post(exp.url("/predict"), json={"images": d.x[:6, 0].tolist()})
    assert grey.status_code == 200, grey.text
    channels = client.post(exp.url("/predict"), json={"images": d.x[:6].tolist()})
    assert channels.json() == grey.json()
    body = grey.json()
    assert len(body["classes"]) == 6 and len(body["probabilities"][0]) == 10
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-4


@pytest.mark.parametrize(("body", "words"), [
    ({"images": [[[0.5] * 7] * 8]}, "images must be (n, 1, 8, 8) or (n, 8, 8)"),
    ({"images": [[[0.5] * 8] * 8, [[0.5] * 8] * 7]}, "every row as long"),
    ({"images": [[[2.0] * 8] * 8]}, "every pixel must be a number in [0, 1]"),
    ({"images": [[["a"] * 8] * 8]}, "images must be (n, 1, 8, 8) or (n, 8, 8) (channels "
     "first) of numbers"),
    ({"images": [[[True] * 8] * 8]}, "of numbers"),
    ({"images": []}, "images must be (n, 1, 8, 8)"),
    ({"x": [[1, 2]]}, "this experiment's data are images"),
    ({"x": [[1, 2]], "images": [[[0.5] * 8] * 8]}, "one of the two"),
    ({}, "one of the two"),
])
def test_predict_refuses_bad_images_with_a_reason(client: TestClient, body: dict[str, Any],
                                                  words: str) -> None:
    exp = create(client, NET)
    r = client.post(exp.url("/predict"), json=body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]


def test_point_experiments_refuse_images_and_keep_their_views(client: TestClient,
                                                              exp: Exp) -> None:
    r = client.post(exp.url("/predict"), json={"images": [[[0.5] * 8] * 8]})
    assert r.status_code == 422 and "data are points" in r.json()["error"]
    assert client.post(exp.url("/predict"), json={"x": [[1, 2]]}).status_code == 200


def test_plane_views_of_an_image_experiment_say_why_not(client: TestClient) -> None:
    exp = create(client, NET)
    for tail in ("/boundary", "/points"):
        r = exp.get(tail)
        assert r.status_code == 422 and "images, which have no plane" in r.json()["error"]
    assert exp.get("/weights").json()["layers"][0]["layer"] == 0  # the dense layers


def test_edits_reset_and_weights_work_on_a_conv_net(client: TestClient) -> None:
    exp = create(client, NET)
    train(exp, 2)
    r = client.patch(exp.url(), headers=exp.auth, json={"optimizer": {"learning_rate": 0.001}})
    assert r.status_code == 200 and r.json()["weights_kept"] and r.json()["epoch"] == 2
    layers = [dict(h) for h in CONV]
    layers[0]["activation"] = "tanh"
    r = client.patch(exp.url(), headers=exp.auth, json={"hidden_layers": layers})
    assert r.json()["weights_kept"] is True
    layers[0]["filters"] = 4
    r = client.patch(exp.url(), headers=exp.auth, json={"hidden_layers": layers})
    assert r.json()["weights_kept"] is False and r.json()["epoch"] == 0
    r = client.patch(exp.url("/weights"), headers=exp.auth,
                     json={"layer": 0, "source": 0, "target": 0, "value": 0.5})
    assert r.status_code == 200 and r.json()["layers"][0]["W"][0][0] == 0.5
    assert exp.post("/reset").status_code == 200
    # A point experiment becomes an image one, and back.
    r = client.patch(exp.url(), headers=exp.auth, json={
        "dataset": {"name": "circle", "classes": 2}, "features": ["x1", "x2"],
        "hidden_layers": [{"units": 3}]})
    assert r.status_code == 200, r.text
    r = client.patch(exp.url(), headers=exp.auth, json={
        "dataset": {"name": "shapes", "classes": 4, "n_samples": 200}, "features": [],
        "hidden_layers": [{"type": "conv", "filters": 4}, {"type": "pool"}]})
    assert r.status_code == 200, r.text
    assert r.json()["n_classes"] == 4
    r = client.patch(exp.url(), headers=exp.auth, json={"features": ["x1"]})
    assert r.status_code == 422 and "which have no x1, x2 features" in r.json()["error"]


# uploads -----------------------------------------------------------------------------------


def test_an_npz_upload_trains(client: TestClient) -> None:
    d = digits()
    raw = npz(x=np.round(d.x[:400, 0] * 255).astype(np.uint8), y=d.y[:400])
    r = client.post("/api/datasets", content=raw,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"id": body["id"], "kind": "images", "problem": "classification",
                    "n_classes": 10, "n_train": 400, "n_test": 0, "shape": [1, 8, 8],
                    "use": {"dataset": {"name": "custom", "id": body["id"]},
                            "problem": "classification", "features": []}}
    exp = create(client, {**NET, **body["use"]})
    assert exp.body["n_classes"] == 10
    assert train(exp, 3)["metrics"]["train_accuracy"] > 0.3


@pytest.mark.parametrize("how", ["x-npz", "query", "magic"])
def test_npz_is_found_by_type_query_or_magic(client: TestClient, how: str) -> None:
    rng = np.random.default_rng(0)
    raw = npz(x=rng.random((20, 10, 10, 3), dtype=np.float32), y=np.arange(20) % 2)
    kwargs: dict[str, Any] = {
        "x-npz": {"headers": {"content-type": "application/x-npz"}},
        "query": {"params": {"kind": "npz"}, "headers": {"content-type": "text/plain"}},
        "magic": {}}[how]
    r = client.post("/api/datasets", content=raw, **kwargs)
    assert r.status_code == 201, r.text
    assert r.json()["shape"] == [3, 10, 10] and r.json()["n_classes"] == 2


@pytest.mark.parametrize("zipped", [False, True])
def test_mnist_idx_files_upload_as_a_form(client: TestClient, zipped: bool) -> None:
    d = digits()
    images, labels = idx(np.round(d.x[:300, 0] * 255)), idx(d.y[:300])
    if zipped:
        images, labels = gzip.compress(images), gzip.compress(labels)
    r = client.post("/api/datasets", files={"images": ("t10k-images-idx3-ubyte", images),
                                             "labels": ("t10k-labels-idx1-ubyte", labels)})
    assert r.status_code == 201, r.text
    assert r.json()["shape"] == [1, 8, 8] and r.json()["n_train"] == 300
    exp = create(client, {**NET, **r.json()["use"]})
    assert exp.body["metrics"]["train_accuracy"] is not None


def test_the_stored_upload_is_compact(client: TestClient, settings: Any) -> None:
    d = digits()
    images, labels = idx(np.round(d.x[:, 0] * 255)), idx(d.y)
    r = client.post("/api/datasets", files={"images": ("i", images), "labels": ("l", labels)})
    assert r.status_code == 201
    stored = client.app.state.service.store.load_dataset(r.json()["id"])  # type: ignore[attr-defined]
    size = len(json.dumps(stored))
    assert stored["kind"] == "images" and size < len(images), size  # base64 included


@pytest.mark.parametrize(("files", "words"), [
    ({"images": idx(np.zeros((5, 8, 8)))}, "form fields 'images' and 'labels'"),
    ({"images": idx(np.zeros((5, 8, 8))), "labels": idx(np.zeros(4))}, "5 images but 4 labels"),
    ({"images": b"\x00\x00\x09\x03" + b"\0" * 30, "labels": idx(np.zeros(5))},
     "not an IDX file of unsigned bytes"),
    ({"images": idx(np.zeros((5, 8, 8))), "labels": idx(np.array([0, 1, 3, 0, 1]))},
     "missing [2]"),
    ({"images": idx(np.zeros((5, 80, 80))), "labels": idx(np.zeros(5))},
     "3 to 64 pixels a side"),
    ({"npz": b"not a zip"}, "not an NPZ file"),
])
def test_bad_image_uploads_are_a_422_that_says_what_to_fix(client: TestClient,
                                                           files: dict[str, bytes],
                                                           words: str) -> None:
    r = client.post("/api/datasets", files={k: (k, v) for k, v in files.items()})
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]


def test_image_upload_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_images=50, max_image_values=64 * 40)
    with TestClient(create_app(settings)) as client:
        x = np.zeros((60, 8, 8), np.uint8)
        r = client.post("/api/datasets", content=npz(x=x, y=np.arange(60) % 2))
        assert r.status_code == 422 and "over the limit" in r.json()["error"]
        r = client.post("/api/datasets", files={"images": ("i", idx(x[:45])),
                                                "labels": ("l", idx(np.arange(45) % 2))})
        assert r.status_code == 422 and "over the limit of 2560" in r.json()["error"]
        r = client.post("/api/datasets", files={"images": ("i", idx(x[:40])),
                                                "labels": ("l", idx(np.arange(40) % 2))})
        assert r.status_code == 201, r.text
        # the network's pass over the upload's 40 images: 40 x 8 x 64 x 9 = 184 320
        conv = {"dataset": {"name": "custom", "id": r.json()["id"]}, "features": [],
                "hidden_layers": [{"type": "conv", "filters": 8, "kernel": 3}]}
        assert client.post("/api/experiments", json=conv).status_code == 201
    settings = make_settings(tmp_path / "c", max_pass_mults=2 * 10**6)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/datasets", content=npz(x=np.zeros((40, 8, 8), np.uint8),
                                                     y=np.arange(40) % 2))
        conv["dataset"]["id"] = r.json()["id"]  # type: ignore[index]
        conv["hidden_layers"] = [{"type": "conv", "filters": 64, "kernel": 5}]  # 4.3 M
        r = client.post("/api/experiments", json=conv)
        assert r.status_code == 422 and "one pass over the 40 images" in r.json()["error"]
    settings = make_settings(tmp_path / "b", max_upload_bytes=5_000)
    with TestClient(create_app(settings)) as client:
        big = np.random.default_rng(0).integers(0, 256, (100, 8, 8), dtype=np.uint8)
        r = client.post("/api/datasets", content=npz(x=big, y=np.arange(100) % 2))
        assert r.status_code == 413


def test_uploads_must_match_the_configs_kind(client: TestClient) -> None:
    r = client.post("/api/datasets", content=npz(x=np.zeros((10, 8, 8), np.uint8),
                                                 y=np.arange(10) % 2))
    images_id = r.json()["id"]
    r = client.post("/api/experiments", json={"dataset": {"name": "custom", "id": images_id}})
    assert r.status_code == 422 and "holds images: send features []" in r.json()["error"]
    r = client.post("/api/experiments", json={
        "dataset": {"name": "custom", "id": images_id},
        "hidden_layers": [{"type": "conv", "filters": 2}]})
    assert r.status_code == 422
    assert "send features [] for uploaded images" in r.json()["error"]
    r = client.post("/api/experiments", json={
        "dataset": {"name": "custom", "id": images_id}, "features": [],
        "hidden_layers": [{"type": "conv", "filters": 2, "kernel": 9, "padding": "valid"}]})
    assert r.status_code == 422
    assert "hidden layer 1: a 9x9 kernel does not fit its 8x8 input" in r.json()["error"]
    points_id = client.post("/api/datasets", json={"x": [[0, 0], [1, 1]], "y": [0, 1]}).json()["id"]
    r = client.post("/api/experiments", json={"dataset": {"name": "custom", "id": points_id},
                                              "features": []})
    assert r.status_code == 422 and "holds 2-D points, not images" in r.json()["error"]


# frames ------------------------------------------------------------------------------------


def test_image_frames_carry_what_the_page_draws(client: TestClient) -> None:
    exp = create(client, NET)
    train(exp, 3)
    with client.websocket_connect(exp.url().replace("/api/", "/ws/")) as ws:
        assert ws.receive_json()["type"] == "hello"
        header, grids = decode_frame(ws.receive_bytes())
    metrics = exp.get().json()["metrics"]
    assert header["epoch"] == 3 and header["metrics"] == metrics
    assert header["input"] == "images" and header["classes"] == [str(i) for i in range(10)]
    assert header["layers"] == ["conv", "pool", "conv", "pool", "dense"]
    assert {"status", "revision", "version", "grad_norms", "learning_rate"} <= set(header)
    shapes = {g["name"]: (g["dtype"], g["shape"]) for g in header["grids"]}
    assert shapes == {
        "examples": ("uint8", [16, 1, 8, 8]), "probabilities": ("float32", [16, 10]),
        "maps1": ("uint8", [8, 8, 8]), "maps2": ("uint8", [8, 4, 4]),
        "maps3": ("uint8", [16, 4, 4]), "maps4": ("uint8", [16, 2, 2]),
        "units5": ("float32", [64]), "filters1": ("float32", [8, 1, 3, 3]),
        "filters3": ("float32", [16, 8, 3, 3]), "confusion": ("int32", [10, 10])}
    server = client.app.state.service.get(exp.id)  # type: ignore[attr-defined]
    d = server.data
    assert np.array_equal(grids["examples"], np.round(d.x_test[:16] * 255).astype(np.uint8))
    assert header["example_labels"] == d.y_test[:16].tolist() and header["example"] == 0
    assert np.allclose(grids["probabilities"].sum(axis=1), 1, atol=1e-5)
    probabilities = client.post(exp.url("/predict"),
                                json={"images": d.x_test[:16].tolist()}).json()["probabilities"]
    assert np.allclose(grids["probabilities"], probabilities, atol=1e-6)
    assert np.array_equal(grids["filters1"], server.model.conv_layers[0].W)
    outs = server.model.layer_outputs(d.x_test[:1])
    assert np.allclose(grids["maps1"], outs[0][0], atol=(np.ptp(outs[0][0]) / 255 + 1e-6))
    assert np.allclose(grids["units5"], outs[4][0], atol=1e-6)
    confusion = grids["confusion"]
    assert confusion.sum() == len(d.y_test)
    assert np.array_equal(confusion.sum(axis=1), np.bincount(d.y_test, minlength=10))
    assert abs(np.trace(confusion) / confusion.sum() - metrics["test_accuracy"]) < 1e-9


def test_point_frames_are_unchanged(client: TestClient, exp: Exp) -> None:
    server = client.app.state.service.get(exp.id)  # type: ignore[attr-defined]
    header, _ = decode_frame(build_frame(server, 1, 20, 5))
    assert [g["name"] for g in header["grids"]] == [
        "output", "inputs", "layer1", "layer2", "weights0", "biases0", "weights1", "biases1",
        "weights2", "biases2"]
    assert set(header) == {"type", "version", "revision", "id", "time", "status", "message",
                           "epoch", "metrics", "learning_rate", "extent", "grad_norms", "grids",
                           "held"}


def test_image_frames_are_cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built after every training slice while viewers watch: a few ms for a LeNet-sized
    net on the digits, since the confusion matrix (a pass over the whole test set) is
    computed once per state of the weights, not once per frame. Held by counting those
    passes, not by a time: a busy machine is slower."""
    from backend.experiments import experiment as module

    passes: list[int] = []
    scores = module._scores
    monkeypatch.setattr(module, "_scores", lambda *a: (passes.append(1), scores(*a))[1])
    config = parse_config({**NET, "hidden_layers": [
        {"type": "conv", "filters": 6, "kernel": 5}, {"type": "pool", "kind": "avg"},
        {"type": "conv", "filters": 16, "kernel": 3}, {"type": "pool", "kind": "avg"},
        {"units": 64, "activation": "tanh"}, {"units": 32, "activation": "tanh"}]})
    exp = Experiment("x", config)
    times, epochs = [], set()
    for i in range(30):
        exp.train_epochs(1, deadline=time.monotonic() + 0.001)  # a slice: new weights
        epochs.add(exp.model.epoch)
        started = time.perf_counter()
        build_frame(exp, i, 100, 25)
        build_frame(exp, i, 100, 25)  # a second viewer's frame of the same weights
        times.append(time.perf_counter() - started)
    median = float(np.median(times)) * 1000
    print(f"two image frames: median {median:.2f} ms, best {min(times) * 1000:.2f} ms")
    # one pass per epoch's end (the metrics measure it with the confusion) and at most
    # one per state of the weights a frame shows: never one per frame (60 here)
    assert len(passes) <= 2 * len(epochs) + 1, (len(passes), len(epochs))


# exports and workers ----------------------------------------------------------------------


def _same_frames(client: TestClient, a: str, b: str) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    _, grids_a = decode_frame(build_frame(service.get(a), 1, 20, 5))
    _, grids_b = decode_frame(build_frame(service.get(b), 1, 20, 5))
    assert grids_a.keys() == grids_b.keys()
    for name in grids_a:
        assert np.array_equal(grids_a[name], grids_b[name]), name


def test_export_and_import_of_an_image_experiment(client: TestClient) -> None:
    exp = create(client, NET)
    train(exp, 3)
    exported = exp.get("/export").json()
    assert exported.get("data") is None
    r = client.post("/api/experiments/import", json=exported)
    assert r.status_code == 201, r.text
    assert r.json()["metrics"] == exp.get().json()["metrics"]
    _same_frames(client, exp.id, r.json()["id"])


def test_export_and_import_of_uploaded_images(client: TestClient) -> None:
    d = digits()
    raw = npz(x=np.round(d.x[:300, 0] * 255).astype(np.uint8), y=d.y[:300])
    use = client.post("/api/datasets", content=raw).json()["use"]
    exp = create(client, {**NET, **use})
    train(exp, 2)
    exported = exp.get("/export").json()
    assert exported["data"]["kind"] == "images"
    r = client.post("/api/experiments/import", json=exported)
    assert r.status_code == 201, r.text
    imported = r.json()
    assert imported["config"]["dataset"]["id"] != use["dataset"]["id"]
    assert imported["metrics"] == exp.get().json()["metrics"]
    _same_frames(client, exp.id, imported["id"])
    bad = {**exported, "data": {"kind": "images", "npz": "%%%"}}
    r = client.post("/api/experiments/import", json=bad)
    assert r.status_code == 422 and "the export's data" in r.json()["error"]
    share = exp.post("/share").json()["share_id"]
    assert client.get(f"/api/shares/{share}/frame").status_code == 200
    assert client.post(f"/api/shares/{share}/fork").status_code == 201


def test_image_experiments_train_in_worker_processes(tmp_path: Path) -> None:
    """The worker rebuilds an experiment from (config, upload, state): uploaded images
    travel to it (they pickle), and its frames stream."""
    live = LiveServer(make_settings(tmp_path, workers=1))
    try:
        d = digits()
        raw = npz(x=np.round(d.x[:300, 0] * 255).astype(np.uint8), y=d.y[:300])
        use = httpx.post(f"{live.http}/api/datasets", content=raw).json()["use"]
        body = httpx.post(f"{live.http}/api/experiments", json={**NET, **use}).json()
        auth = {"Authorization": f"Bearer {body['edit_token']}"}
        r = httpx.post(f"{live.http}/api/experiments/{body['id']}/train", headers=auth,
                       json={"epochs": 3, "wait": True}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["epoch"] == 3
        from .test_websocket import next_frame, open_ws
        ws = open_ws(live, body["id"])
        header, grids = next_frame(ws)
        ws.close()
        assert header["epoch"] == 3 and grids["confusion"].sum() == 300 - 150
    finally:
        live.stop()


def test_image_frames_and_predict_run_under_a_strict_cupy_stand_in() -> None:
    """The GPU path, where no GPU is lent: frames and predictions of an image experiment
    on arrays that, like CuPy's, refuse to mix with NumPy, agree with NumPy's."""
    from backend.engine import Backend

    from .test_engine_conv import strict_module

    config = parse_config({**FAST, "dataset": {"name": "shapes", "n_samples": 120,
                                               "classes": 4}})
    ref = Experiment("a", config)
    dev = Experiment("a", config, None, Backend(strict_module(np, "strictnp"), "gpu"))
    for exp in (ref, dev):
        exp.train_epochs(2)
    _, a = decode_frame(build_frame(ref, 1, 20, 5))
    _, b = decode_frame(build_frame(dev, 1, 20, 5))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=2e-2, err_msg=name)
    assert np.array_equal(a["confusion"], b["confusion"])
    images = ref.data.x_test[:3]
    np.testing.assert_allclose(ref.predict_images(images)["probabilities"],
                               dev.predict_images(images)["probabilities"], atol=1e-5)


def test_a_diverging_conv_net_is_stopped_with_its_last_good_weights(client: TestClient) -> None:
    exp = create(client, {**FAST, "optimizer": {"name": "sgd", "learning_rate": 10.0},
                          "init": {"name": "normal", "scale": 100},
                          "regularization": {"name": "l2", "rate": 10.0}})
    body = exp.post("/train", {"epochs": 20, "wait": True}).json()
    assert body["status"] == "diverged" and "NaN or infinite" in body["message"]
    assert exp.post("/reset").json()["status"] == "paused"


def test_the_cli_trains_on_the_digits(tmp_path: Path, capsys: Any) -> None:
    from backend.cli import main

    path = tmp_path / "net.json"
    path.write_text(json.dumps(FAST), encoding="utf-8")
    assert main(["train", "--config", str(path), "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epoch"] == 2 and result["metrics"]["test_accuracy"] > 0.5


def test_maps_of_a_test_image_or_a_drawing(client: TestClient) -> None:
    exp = create(client, NET)
    train(exp, 2)
    server = client.app.state.service.get(exp.id)  # type: ignore[attr-defined]
    d = server.data
    r = client.get(exp.url("/maps"), params={"example": 5})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    header, grids = decode_frame(r.content)
    assert header["type"] == "maps" and header["example"] == 5
    assert header["label"] == int(d.y_test[5]) and header["epoch"] == 2
    assert np.array_equal(grids["image"], np.round(d.x_test[5] * 255).astype(np.uint8))
    outs = server.model.layer_outputs(d.x_test[5:6])
    assert np.allclose(grids["units5"], outs[4][0], atol=1e-6)
    assert grids["maps3"].shape == (16, 4, 4)
    predicted = client.post(exp.url("/predict"), json={"images": d.x_test[5:6].tolist()})
    assert np.allclose(grids["probabilities"], predicted.json()["probabilities"][0], atol=1e-6)
    drawing = np.zeros((8, 8))
    drawing[1:7, 3:5] = 1.0  # a one
    r = client.post(exp.url("/maps"), json={"image": drawing.tolist()})
    assert r.status_code == 200, r.text
    header, grids = decode_frame(r.content)
    assert header["example"] is None and header["label"] is None
    assert grids["image"].shape == (1, 8, 8) and grids["image"].max() == 255
    for bad, words in [({"image": [[2.0] * 8] * 8}, "in [0, 1]"),
                       ({"image": [[0.5] * 7] * 8},
                        "image must be (1, 8, 8) or (8, 8) (channels first) for this "
                        "experiment, not (8, 7)")]:
        r = client.post(exp.url("/maps"), json=bad)
        assert r.status_code == 422 and words in r.json()["error"]
    r = client.get(exp.url("/maps"), params={"example": len(d.y_test)})
    assert r.status_code == 422 and "example must be 0.." in r.json()["error"]


def test_point_experiments_have_no_maps(client: TestClient, exp: Exp) -> None:
    r = exp.get("/maps")
    assert r.status_code == 422 and "data are points" in r.json()["error"]
    r = client.post(exp.url("/maps"), json={"image": [[0.5] * 8] * 8})
    assert r.status_code == 422 and "data are points" in r.json()["error"]


def test_a_frame_after_a_pause_mid_epoch_agrees_with_the_metrics(client: TestClient) -> None:
    """The confusion matrix goes with the metrics (the last epoch's end), also when the
    training process stopped mid-epoch and the frame is built in the server."""
    exp = create(client, {**FAST, "batch_size": 1})  # an epoch takes longer than a slice
    assert exp.post("/train", {}).status_code == 202
    deadline = time.monotonic() + 20
    while exp.get().json()["epoch"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.1)
    view = exp.post("/pause").json()
    with client.websocket_connect(exp.url().replace("/api/", "/ws/")) as ws:
        ws.receive_json()
        header, grids = decode_frame(ws.receive_bytes())
    assert header["epoch"] == view["epoch"] and header["metrics"] == view["metrics"]
    confusion = grids["confusion"]
    assert abs(np.trace(confusion) / confusion.sum() - view["metrics"]["test_accuracy"]) < 1e-9


def test_mistakes_list_the_confusion_matrix_cells_worst_first(client: TestClient) -> None:
    exp = create(client, FAST)
    train(exp, 1)
    with client.websocket_connect(exp.url().replace("/api/", "/ws/")) as ws:
        ws.receive_json()
        confusion = decode_frame(ws.receive_bytes())[1]["confusion"]
    wrong = client.get(exp.url("/mistakes"), params={"limit": 64}).json()
    assert wrong["count"] == confusion.sum() - np.trace(confusion) > 0
    sure = [m["probability"] for m in wrong["items"]]
    assert sure == sorted(sure, reverse=True)
    assert all(m["label"] != m["predicted"] for m in wrong["items"])
    worst = wrong["items"][0]
    cell = client.get(exp.url("/mistakes"), params={"true": worst["label"],
                                                    "predicted": worst["predicted"]}).json()
    assert cell["count"] == confusion[worst["label"], worst["predicted"]]
    assert cell["items"][0]["index"] == worst["index"]
    right = client.get(exp.url("/mistakes"), params={"true": 3, "predicted": 3, "limit": 1})
    assert right.json()["count"] == confusion[3, 3]
    server = client.app.state.service.get(exp.id)  # type: ignore[attr-defined]
    assert np.array_equal(np.asarray(worst["image"], np.float32),
                          server.data.x_test[worst["index"]])
    probabilities = client.post(exp.url("/predict"), json={"images": [worst["image"]]}).json()
    assert abs(probabilities["probabilities"][0][worst["predicted"]] - worst["probability"]) \
        < 1e-6
    points = create(client)
    r = client.get(points.url("/mistakes"))
    assert r.status_code == 422 and "points" in r.json()["error"]
    assert client.get(exp.url("/mistakes"), params={"limit": 65}).status_code == 422


def test_mistakes_are_worked_out_once_per_weights_and_off_the_lock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer's big net: each /mistakes took 9 to 16 s, holding the experiment's lock,
    so a pause waited 14 s; the page asks on every epoch, from every viewer."""
    exp = Experiment("m", parse_config(FAST))
    exp.train_epochs(1)
    calls: list[bool] = []
    predict = Model.predict

    def take() -> None:  # from another thread, as training would
        calls.append(exp.lock.acquire(timeout=1))
        if calls[-1]:
            exp.lock.release()

    def watched(model: Model, x: Any) -> Any:
        other = threading.Thread(target=take)
        other.start()
        other.join()
        return predict(model, x)

    monkeypatch.setattr(Model, "predict", watched)
    first = exp.mistakes()
    assert exp.mistakes() == first and calls == [True]  # once, and another took the lock
    exp.train_epochs(1)
    assert exp.mistakes()["count"] == exp.confusion().sum() - np.trace(exp.confusion())
    assert calls == [True, True]


def test_an_export_larger_than_an_upload_imports_back(client: TestClient) -> None:
    """A newcomer's 66 410-parameter digits net with Adam exported 3.9 MB (as JSON numbers
    then), and its import was refused by the 2 MB limit of uploads: a model saved here
    could not be loaded. This one has 263 018 parameters: 4.2 MB as base64."""
    exp = create(client, {"dataset": {**DIGITS, "side": 32}, "hidden_layers": [
        {"type": "conv", "filters": 16, "kernel": 3}, {"type": "pool"},
        {"units": 64, "activation": "relu"}], "optimizer": {"name": "adam"}})
    train(exp, 1)
    export = exp.get("/export").content
    assert len(export) > 2_000_000
    r = client.post("/api/experiments/import", content=export,
                    headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    twin = client.get(f"/api/experiments/{r.json()['id']}/weights").json()
    assert twin == exp.get("/weights").json()
    r = client.post("/api/experiments/import", content=b"{" + b" " * 64_000_000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "(max_import_bytes)" in r.json()["error"]


def test_a_snapshot_can_be_looked_inside_but_not_changed(client: TestClient) -> None:
    """A newcomer's snapshot of a digits net: clicking a test image, a confusion cell or
    the layers showed nothing, since a snapshot had no maps, mistakes or summary."""
    exp = create(client, FAST)
    train(exp, 1)
    share = exp.post("/share").json()["share_id"]
    train(exp, 1)  # the experiment moves on; the snapshot does not
    base = f"/api/shares/{share}"
    snapshot = client.app.state.service.shared(share)  # type: ignore[attr-defined]
    assert snapshot.epoch == 1
    header, grids = decode_frame(client.get(f"{base}/maps", params={"example": 3}).content)
    assert header["example"] == 3 and header["epoch"] == 1
    assert np.allclose(grids["probabilities"], snapshot.model.predict(
        snapshot.data.x_test[3:4])[0], atol=1e-6)
    drawing = client.post(f"{base}/maps", json={"image": np.zeros((8, 8)).tolist()})
    assert drawing.status_code == 200
    assert client.get(f"{base}/mistakes").json() == snapshot.mistakes()
    assert client.get(f"{base}/summary").json()["trainable_params"] == 17258
    assert client.get(f"{base}/maps", params={"example": 10**6}).status_code == 422
    assert client.get("/api/shares/nope/mistakes").status_code == 404
    for path in ("/train", "/reset", "/weights"):  # nothing changes a snapshot
        assert client.post(f"{base}{path}", json={}).status_code in (404, 405)
