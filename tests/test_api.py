"""REST: every route's normal use and its errors, through the real app."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.errors import MEANING
from backend.api.schemas import MIN_SPEED
from backend.settings import Settings

from .conftest import SMALL, Exp, create, make_settings


def test_meta_lists_the_registries_and_limits(client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    names = {key: [e["name"] for e in meta[key]] for key in
             ("datasets", "features", "activations", "optimizers", "initializers", "losses")}
    assert {"circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"} <= set(
        names["datasets"])
    assert names["features"][:7] == ["x1", "x2", "x1_squared", "x2_squared", "x1_x2",
                                     "sin_x1", "sin_x2"]
    assert "adam" in names["optimizers"]
    adam = next(o for o in meta["optimizers"] if o["name"] == "adam")
    assert adam["params"]["beta1"]["default"] == 0.9
    assert meta["limits"]["max_layers"] >= 6 and meta["limits"]["max_units"] >= 8
    assert client.get("/healthz").json()["status"] == "ok"


def test_create_and_get(client: TestClient, exp: Exp) -> None:
    assert len(exp.id) >= 22 and len(exp.token) >= 32
    body = exp.get().json()
    assert body["status"] == "paused" and body["epoch"] == 0
    assert body["config"]["hidden_layers"][0] == {"units": 4, "activation": "tanh"}
    assert set(body["metrics"]) >= {"train_loss", "test_loss", "train_accuracy",
                                    "test_accuracy"}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"dataset": {"name": "moon"}}, "dataset.name", "allowed"),
    ({"hidden_layers": [{"units": 100000}]}, "hidden_layers.0.units", "at most"),
    ({"hidden_layers": [{"units": 2}] * 1000}, "hidden_layers", "at most"),
    ({"hidden_layers": [{"units": -1}]}, "hidden_layers.0.units", "greater than"),
    ({"optimizer": {"name": "sgd", "learning_rate": "fast"}}, "optimizer.learning_rate", ""),
    ({"optimizer": {"name": "sgd", "beta1": 0.9}}, "optimizer", "takes"),
    ({"features": ["x3"]}, "features", "allowed"),
    ({"features": []}, "features", ""),
    ({"dataset": {"name": "reg-plane"}}, "", "regression"),
    ({"dataset": {"name": "blobs", "classes": 11}}, "dataset.classes", "10"),
    ({"batch_size": 0}, "batch_size", "at least 1"),
    ({"dropout": 1.5}, "dropout", ""),
    ({"unknown": 1}, "unknown", "not permitted"),
    ({"loss": "cross_entropy"}, "", "softmax"),
])
def test_bad_configs_get_a_422_that_names_the_field(client: TestClient, change: dict[str, Any],
                                                    field: str, words: str) -> None:
    r = client.post("/api/experiments", json={**SMALL, **change})
    assert r.status_code == 422, r.text
    body = r.json()
    assert words in body["error"]
    assert any(d["field"].startswith(field) for d in body["details"])


def test_nan_and_huge_numbers_are_refused(client: TestClient) -> None:
    for rate in ("NaN", "Infinity", 1e308):
        r = client.post("/api/experiments", content=(
            f'{{"optimizer": {{"name": "sgd", "learning_rate": {rate}}}}}'),
            headers={"content-type": "application/json"})
        assert r.status_code == 422, (rate, r.text)


def test_changes_need_the_edit_token(client: TestClient, exp: Exp) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": exp.token}):
        r = client.post(exp.url("/step"), headers=headers)
        assert r.status_code == 403
        assert "edit token" in r.json()["error"]
    assert exp.get().json()["epoch"] == 0


def test_unknown_experiment_is_404(client: TestClient) -> None:
    r = client.get("/api/experiments/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]


def test_train_with_wait_learns_circle(client: TestClient, exp: Exp) -> None:
    before = exp.get().json()["metrics"]["test_loss"]
    r = exp.post("/train", {"epochs": 150, "wait": True})
    assert r.status_code == 200
    body = r.json()
    assert body["epoch"] == 150 and body["status"] == "paused"
    assert body["metrics"]["test_loss"] < before
    assert body["metrics"]["test_accuracy"] >= 0.9
    history = exp.get("/history").json()
    assert len(history["rows"]) == 151 and history["rows"][-1]["epoch"] == 150


def test_train_in_the_background_then_pause(client: TestClient, exp: Exp) -> None:
    r = exp.post("/train", {"wait": False})
    assert r.status_code == 202 and r.json()["running"]
    deadline = time.monotonic() + 10
    while exp.get().json()["epoch"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    r = exp.post("/pause")
    paused_at = r.json()["epoch"]
    assert r.json()["status"] == "paused" and paused_at >= 5
    # a step goes after anything still under way: it starts from the epoch paused at
    assert exp.post("/step").json()["epoch"] == paused_at + 1


def test_train_for_n_epochs_in_the_background(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 20})
    deadline = time.monotonic() + 10
    while exp.get().json()["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exp.get().json()["epoch"] == 20


def test_train_bounds(client: TestClient, exp: Exp) -> None:
    assert exp.post("/train", {"epochs": 10**9, "wait": True}).status_code == 422
    assert exp.post("/train", {"wait": True}).status_code == 422
    assert exp.post("/train", {"epochs": 0}).status_code == 422


def test_step_and_reset(client: TestClient, exp: Exp) -> None:
    assert exp.post("/step").json()["epoch"] == 1
    assert exp.post("/step", {"epochs": 4}).json()["epoch"] == 5
    w_trained = exp.get("/weights").json()
    body = exp.post("/reset").json()
    assert body["epoch"] == 0
    w_fresh = exp.get("/weights").json()
    assert w_fresh != w_trained
    assert w_fresh == create(client).get("/weights").json()  # same config and seed


def test_patch_hyperparameters_keep_the_weights(client: TestClient, exp: Exp) -> None:
    exp.post("/step", {"epochs": 3})
    before = exp.get("/weights").json()["layers"]
    r = client.patch(exp.url(), json={"optimizer": {"learning_rate": 0.1},
                                      "hidden_layers": [{"units": 4, "activation": "relu"},
                                                        {"units": 2, "activation": "tanh"}],
                                      "regularization": {"name": "l2", "rate": 0.01},
                                      "dataset": {"noise": 0.2}}, headers=exp.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weights_kept"] is True and body["epoch"] == 3
    assert body["config"]["optimizer"]["learning_rate"] == 0.1
    assert exp.get("/weights").json()["layers"] == before


def test_patch_structure_starts_fresh(client: TestClient, exp: Exp) -> None:
    exp.post("/step", {"epochs": 3})
    r = client.patch(exp.url(), json={"hidden_layers": [{"units": 5}]}, headers=exp.auth)
    body = r.json()
    assert body["weights_kept"] is False and body["epoch"] == 0
    assert len(exp.get("/weights").json()["layers"]) == 2


def test_a_bad_patch_changes_nothing(client: TestClient, exp: Exp) -> None:
    exp.post("/step", {"epochs": 2})
    before = exp.get().json()
    r = client.patch(exp.url(), json={"optimizer": {"learning_rate": -1},
                                      "hidden_layers": [{"units": 3}]}, headers=exp.auth)
    assert r.status_code == 422 and "learning_rate" in r.json()["error"]
    assert exp.get().json() == before


def test_delete(client: TestClient, exp: Exp) -> None:
    assert client.delete(exp.url(), headers=exp.auth).status_code == 204
    assert exp.get().status_code == 404


def test_predict(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 150, "wait": True})
    r = exp.client.post(exp.url("/predict"), json={"x": [[0, 0], [5, 5], [-4.5, 0.5]]})
    body = r.json()
    assert body["classes"] == [1, 0, 0]  # circle: inside is class 1
    assert np.allclose(np.sum(body["probabilities"], axis=1), 1)
    assert len(body["outputs"]) == 3


@pytest.mark.parametrize("x", [[[1, 2, 3]], [[1]], [], "abc", [["a", 1]], [[1e308, 1]],
                               [[0, 0]] * 20000])
def test_predict_validates(client: TestClient, exp: Exp, x: Any) -> None:
    r = exp.client.post(exp.url("/predict"), json={"x": x})
    assert r.status_code in (413, 422), r.text
    assert r.json()["error"]


def test_boundary_has_the_output_and_every_neuron(client: TestClient, exp: Exp) -> None:
    body = exp.get("/boundary?resolution=20").json()
    assert np.asarray(body["output"]).shape == (1, 20, 20)
    assert [np.asarray(g).shape for g in body["layers"]] == [(4, 20, 20), (2, 20, 20)]
    out = np.asarray(body["output"])[0]
    # row 0 is the top (y = +6), column 0 the left (x = -6): matches /predict there
    corner = exp.client.post(exp.url("/predict"), json={"x": [[-5.7, 5.7]]}).json()
    assert out[0, 0] == pytest.approx(corner["outputs"][0][0], rel=1e-5)
    assert exp.get("/boundary?resolution=100000").status_code == 422


def test_edit_a_weight_changes_the_output(client: TestClient, exp: Exp) -> None:
    before = exp.client.post(exp.url("/predict"), json={"x": [[1, 1]]}).json()["outputs"]
    r = client.patch(exp.url("/weights"), json={"layer": 2, "source": 0, "target": 0,
                                                "value": 3.5}, headers=exp.auth)
    assert r.status_code == 200, r.text
    assert r.json()["layers"][2]["W"][0][0] == 3.5
    r = client.patch(exp.url("/weights"), json={"layer": 2, "target": 0, "value": -1.25},
                     headers=exp.auth)
    assert r.json()["layers"][2]["b"][0] == -1.25
    after = exp.client.post(exp.url("/predict"), json={"x": [[1, 1]]}).json()["outputs"]
    assert after != before
    for bad in ({"layer": 9, "target": 0, "value": 1}, {"layer": 0, "source": 5, "target": 0,
                                                         "value": 1},
                {"layer": 0, "target": 7, "value": 1}):
        r = client.patch(exp.url("/weights"), json=bad, headers=exp.auth)
        assert r.status_code == 422 and r.json()["error"]


def test_gradient_check_and_summary(client: TestClient, exp: Exp) -> None:
    report = exp.get("/gradient-check?points=16").json()
    assert report["relative_difference"] < 1e-6 and report["verdict"] == "right"
    assert len(report["layers"]) == 3
    summary = exp.get("/summary").json()
    assert summary["trainable_params"] == 2 * 4 + 4 + 4 * 2 + 2 + 2 + 1


def test_export_import_round_trip_is_exact(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 10, "wait": True})
    exported = exp.get("/export").json()
    r = client.post("/api/experiments/import", json=exported)
    assert r.status_code == 201, r.text
    twin = Exp(client, r.json())
    assert twin.id != exp.id
    assert twin.get("/weights").json() == exp.get("/weights").json()
    assert twin.get().json()["metrics"] == exp.get().json()["metrics"]
    assert twin.get("/history").json() == exp.get("/history").json()
    exp.post("/step", {"epochs": 5})
    twin.post("/step", {"epochs": 5})
    assert twin.get("/weights").json() == exp.get("/weights").json()


@pytest.mark.parametrize("broken", [{}, {"format": "x"}, {"format":
                                     "neural-playground-experiment/1", "config": {}}])
def test_import_refuses_garbage(client: TestClient, broken: dict[str, Any]) -> None:
    r = client.post("/api/experiments/import", json=broken)
    assert r.status_code == 422 and r.json()["error"]


def test_upload_csv_and_train_on_it(client: TestClient) -> None:
    rng = np.random.default_rng(1)
    pts = rng.uniform(-3, 3, (120, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a > b)}" for a, b in pts)
    r = client.post("/api/datasets", content="x1,x2,y\n" + rows,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    upload = r.json()
    assert upload["n_classes"] == 2 and upload["n_train"] == 120
    config = {**SMALL, "dataset": {"name": "custom", "id": upload["id"], "train_fraction": 0.8}}
    exp = create(client, config)
    exp.post("/train", {"epochs": 100, "wait": True})
    assert exp.get().json()["metrics"]["test_accuracy"] >= 0.9
    assert len(exp.get("/points").json()["x_test"]) == 24
    assert exp.get("/points").json()["own_split"] is False


def test_upload_json_with_test_split_and_errors(client: TestClient) -> None:
    body = {"x": [[0, 0], [1, 1], [2, 2], [3, 3]], "y": [0, 1, 0, 2],
            "x_test": [[1, 0]], "y_test": [1]}
    r = client.post("/api/datasets", json=body)
    assert r.status_code == 201 and r.json()["n_classes"] == 3
    # the config says the upload's 3 classes, not the 2 it was sent with
    exp = create(client, {**SMALL, "dataset": {"name": "custom", "id": r.json()["id"]}})
    assert exp.get().json()["config"]["dataset"]["classes"] == 3
    assert exp.get("/points").json()["own_split"] is True  # the ratio does not split it
    r = client.patch(exp.url(), json={"seed": 4}, headers=exp.auth)
    assert r.status_code == 200 and r.json()["config"]["dataset"]["classes"] == 3
    r = client.post("/api/datasets", content='{"x": [[0, 0], [1, NaN]], "y": [0, 1]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "x[1][1]" in r.json()["error"]
    r = client.post("/api/datasets", content="x1,x2,y\n1,2,0\n3,abc,1\n",
                    headers={"content-type": "text/csv"})
    assert r.status_code == 422 and "abc" in r.json()["error"]
    r = client.post("/api/datasets", content="x" * 3_000_000,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 413
    assert r.json()["error"] == ("the request body is over 2000000 bytes, the server's limit "
                                 "(max_upload_bytes): send a smaller file")
    config = {**SMALL, "dataset": {"name": "custom", "id": "missing"}}
    r = client.post("/api/experiments", json=config)
    assert r.status_code == 422 and "upload" in r.json()["error"]


def test_share_is_a_snapshot_and_fork_continues_from_it(client: TestClient, exp: Exp) -> None:
    exp.post("/train", {"epochs": 10, "wait": True})
    r = exp.post("/share")
    assert r.status_code == 201
    share_id = r.json()["share_id"]
    assert r.json()["url"] == f"/s/{share_id}"
    snapshot = client.get(f"/api/shares/{share_id}").json()
    exp.post("/train", {"epochs": 10, "wait": True})
    assert client.get(f"/api/shares/{share_id}").json() == snapshot
    assert snapshot["epoch"] == 10
    r = client.post(f"/api/shares/{share_id}/fork")
    assert r.status_code == 201
    fork = Exp(client, r.json())
    assert fork.get().json()["epoch"] == 10
    assert client.get("/api/shares/nope").status_code == 404


def test_divergence_is_a_state_not_a_crash(client: TestClient) -> None:
    config = {**SMALL, "problem": "regression", "dataset": {"name": "reg-plane"},
              "optimizer": {"name": "sgd", "learning_rate": 10.0}, "batch_size": 1,
              "init": {"name": "normal", "scale": 10}}
    exp = create(client, config)
    exp.post("/train", {"epochs": 200, "wait": True})
    body = exp.get().json()
    assert body["status"] == "diverged"
    assert "learning rate" in body["message"]
    assert all(v is None or np.isfinite(v) for v in body["metrics"].values())
    weights = exp.get("/weights").json()["layers"]
    assert np.isfinite(np.asarray(weights[0]["W"])).all()
    r = exp.post("/train", {"epochs": 1})
    assert r.status_code == 422 and "diverged" in r.json()["error"]
    assert exp.post("/reset").json()["status"] == "paused"


def test_no_page_loads_anything_from_outside(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404  # swagger-ui would come from a CDN
    assert client.get("/openapi.json").json()["info"]["title"] == "Neural Playground"


def test_training_nobody_watches_stops_after_a_while(tmp_path: Any) -> None:
    from backend.api.app import create_app

    from .conftest import make_settings

    with TestClient(create_app(make_settings(tmp_path, idle_stop=0.3))) as c:
        exp = create(c)
        exp.post("/train", {})
        deadline = time.monotonic() + 10
        while exp.get().json()["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        body = exp.get().json()
        assert body["status"] == "paused" and "nobody watched" in body["message"]


def test_running_experiments_are_limited(tmp_path: Any) -> None:
    from backend.api.app import create_app

    from .conftest import make_settings

    with TestClient(create_app(make_settings(tmp_path, max_running=2))) as c:
        exps = [create(c) for _ in range(3)]
        assert exps[0].post("/train", {}).status_code == 202
        assert exps[1].post("/train", {}).status_code == 202
        r = exps[2].post("/train", {})
        assert r.status_code == 429 and "limit" in r.json()["error"]
        exps[0].post("/pause")
        assert exps[2].post("/train", {}).status_code == 202
        for e in exps:
            e.post("/pause")


def test_dataset_preview_for_thumbnails(client: TestClient) -> None:
    body = client.get("/api/datasets/preview", params={"name": "blobs", "classes": 3}).json()
    assert len(body["x"]) == 200 and set(body["y"]) == {0, 1, 2}
    assert client.get("/api/datasets/preview", params={"name": "nope"}).status_code == 422
    assert client.get("/api/datasets/preview", params={"name": "circle", "n": 10**6}
                      ).status_code == 422


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for path in ("/", "/api/meta", "/frontend/main.js", "/api/experiments/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_a_failing_save_is_shown_not_swallowed(client: TestClient, exp: Exp,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.experiments.store import StoreError

    def full(*args: Any) -> None:
        raise StoreError("cannot save to data/playground.sqlite3: database or disk is full")

    monkeypatch.setattr(client.app.state.service.store, "save_experiment", full)
    exp.post("/train", {})
    deadline = time.monotonic() + 10
    while "not saved" not in exp.get().json()["message"] and time.monotonic() < deadline:
        time.sleep(0.05)
    body = exp.get().json()
    assert "disk is full" in body["message"] and body["running"]
    r = exp.post("/pause")
    assert r.status_code == 507 and "disk is full" in r.json()["error"]


def test_running_experiments_per_client_address_are_limited(tmp_path: Any) -> None:
    from backend.api.app import create_app

    from .conftest import make_settings

    with TestClient(create_app(make_settings(tmp_path, max_running_per_client=2))) as c:
        exps = [create(c) for _ in range(3)]
        assert [e.post("/train", {}).status_code for e in exps] == [202, 202, 429]
        assert "per address" in exps[2].post("/train", {}).json()["error"]
        for e in exps[:2]:
            e.post("/pause")


def test_changing_the_features_trains_on_the_new_ones(client: TestClient, exp: Exp) -> None:
    r = client.patch(exp.url(), json={"features": ["x1", "x2", "x1_x2"]}, headers=exp.auth)
    assert r.json()["weights_kept"] is False
    r = exp.post("/step", {"epochs": 2})
    assert r.status_code == 200 and r.json()["epoch"] == 2
    assert len(exp.get("/weights").json()["layers"][0]["W"]) == 3
    assert exp.get("/boundary?resolution=10").status_code == 200


def test_an_upload_far_outside_the_plane_is_scaled_into_it_and_learned(
        client: TestClient) -> None:
    """An upload spanning +-500 collapsed onto a line and could not be learned."""
    from backend.data import generate

    x, y = generate("circle", 300, 0.0, 1, 2)
    raw = x * 100  # about +-500
    ds = client.post("/api/datasets", json={"x": raw.tolist(), "y": y.tolist()}).json()
    exp = create(client, {**SMALL, "dataset": {"name": "custom", "id": ds["id"]},
                          "features": ["x1", "x2", "x1_squared", "x2_squared"],
                          "optimizer": {"name": "sgd", "learning_rate": 0.1}})
    view = exp.get().json()
    assert view["extent"] == 6 and view["data_scale"] == pytest.approx(6 / np.abs(raw).max())
    points = exp.get("/points").json()
    assert np.abs(np.asarray(points["x_train"])).max() <= 6 + 1e-9
    assert points["scale"] == view["data_scale"]
    body = exp.post("/train", {"epochs": 100, "wait": True}).json()
    assert body["metrics"]["test_accuracy"] >= 0.9
    # predict takes the data's own units: the centre is one class, the rim the other
    classes = exp.post("/predict", {"x": [[0, 0], [480, 0]]}).json()["classes"]
    inside = int(y[np.argmin(np.abs(x).sum(axis=1))])
    assert classes == [inside, 1 - inside]


def test_a_paced_run_trains_at_its_speed_and_stops_at_its_epoch(client: TestClient,
                                                                  exp: Exp) -> None:
    """A teacher's pace: at most `speed` epochs a second, and exactly `epochs` of them."""
    # Only the pace's ceiling is held: a busy machine may train slower, never faster.
    start = time.monotonic()
    body = exp.post("/train", {"epochs": 12, "speed": 20, "wait": True}).json()
    assert body["epoch"] == 12 and time.monotonic() - start >= 0.45
    start = time.monotonic()
    assert exp.post("/train", {"speed": 10}).status_code == 202
    deadline = start + 60  # a hang guard: it trains on
    while (epochs := exp.get().json()["epoch"] - 12) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    took = time.monotonic() - start
    exp.post("/pause")
    assert epochs <= 10 * took + 1, (epochs, took)
    r = exp.post("/train", {"epochs": 20_000, "speed": 1, "wait": True})
    assert r.status_code == 422 and "wait: false" in r.json()["error"]


def test_truncated_json_says_where_it_breaks(client: TestClient) -> None:
    r = client.post("/api/experiments", content=b'{"dataset": {"na',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"] == ("the body is not valid JSON at character 13 (Unterminated "
                                 "string starting at)")


def test_options_and_405_name_every_method_of_the_path(client: TestClient, exp: Exp) -> None:
    """Bug: OPTIONS on an experiment said `Allow: GET`, hiding its PATCH and DELETE."""
    for path, methods in [(exp.url(), "GET, PATCH, DELETE, OPTIONS"),
                          (exp.url("/weights"), "GET, PATCH, OPTIONS"),
                          ("/api/experiments", "POST, OPTIONS"),
                          ("/api/classes/c/students/e", "DELETE, OPTIONS")]:
        r = client.options(path)
        assert (r.status_code, r.headers["allow"]) == (204, methods), path
        r = client.put(path, json={})
        assert (r.status_code, r.headers["allow"]) == (405, methods), path
        assert r.json()["error"] == f"PUT is not allowed here; this path takes {methods}"
    assert exp.get().json()["revision"] == exp.body["revision"]


@pytest.mark.parametrize(("tail", "method", "body", "field"), [
    ("/weights", "PATCH", {"layer": 2, "target": 0, "value": False}, "value"),
    ("/weights", "PATCH", {"layer": True, "target": 0, "value": 1.0}, "layer"),
    ("/weights", "PATCH", {"layer": 2, "source": "0", "target": 0, "value": 1.0}, "source"),
    ("/train", "POST", {"epochs": True}, "epochs"),
    ("/train", "POST", {"epochs": 5, "wait": "true"}, "wait"),
    ("/train", "POST", {"epochs": 5, "speed": True}, "speed"),
    ("/step", "POST", {"epochs": 2.0}, "epochs"),
    ("/predict", "POST", {"x": [[True, 0]]}, "x.0.0"),
])
def test_numbers_and_booleans_are_strict(client: TestClient, exp: Exp, tail: str, method: str,
                                         body: dict[str, Any], field: str) -> None:
    """Bug: PATCH /weights took `"value": false` as 0 (and a train `"epochs": true` as 1)."""
    weights = exp.get("/weights").json()
    r = client.request(method, exp.url(tail), json=body, headers=exp.auth)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["details"]] == [field]
    assert exp.get("/weights").json() == weights
    assert not exp.get().json()["running"]


def test_a_pace_too_slow_to_train_is_refused(client: TestClient, exp: Exp) -> None:
    """Bug: `{"speed": 5e-324}` held one of the server's running slots with 0 epochs, for
    ever; a paced run now trains an epoch at least every 1 / MIN_SPEED seconds."""
    for speed in (5e-324, MIN_SPEED / 2, 0):
        r = exp.post("/train", {"epochs": 5, "speed": speed})
        assert r.status_code == 422, r.text
        assert r.json()["details"][0]["field"] == "speed"
        assert f"greater than or equal to {MIN_SPEED}" in r.json()["error"]
    assert not exp.get().json()["running"] and client.get("/healthz").json()["running"] == 0
    speed = client.get("/openapi.json").json()["components"]["schemas"]["TrainRequest"]
    assert numbers(speed["properties"]["speed"]) == (MIN_SPEED, 10_000)
    assert exp.post("/train", {"epochs": 5, "speed": MIN_SPEED}).status_code == 202
    exp.post("/pause")


def numbers(node: dict[str, Any]) -> tuple[Any, Any]:
    """(minimum, maximum) of a schema's number, or (minItems, maxItems) of its array (the
    branch that is not null)."""
    branch = next(b for b in node.get("anyOf", [node]) if b.get("type") != "null")
    if branch["type"] == "array":
        return branch.get("minItems"), branch.get("maxItems")
    return branch.get("minimum"), branch.get("maximum")


def test_the_schema_holds_the_bounds_this_server_enforces(tmp_path: Any) -> None:
    """Bug: `resolution <= 200` and the config's limits were checked but not documented."""
    limits = {"max_grid_resolution": 50, "max_epochs_per_call": 70, "max_predict_points": 30,
              "max_samples": 400, "max_layers": 4, "max_units": 6}
    with TestClient(create_app(make_settings(tmp_path, **limits))) as client:
        doc = client.get("/openapi.json").json()
        meta = client.get("/api/meta").json()
        exp = create(client)
        boundary = doc["paths"]["/api/experiments/{exp_id}/boundary"]["get"]["parameters"]
        resolution = next(p["schema"] for p in boundary if p["name"] == "resolution")
        assert numbers(resolution) == (2, 50)
        assert exp.get("/boundary?resolution=51").status_code == 422
        assert exp.get("/boundary?resolution=50").status_code == 200
        schemas = doc["components"]["schemas"]
        assert numbers(schemas["TrainRequest"]["properties"]["epochs"]) == (1, 70)
        assert exp.post("/train", {"epochs": 71}).status_code == 422
        x = schemas["PredictRequest"]["properties"]["x"]
        assert numbers(x) == (1, 30)
        assert numbers(x["anyOf"][0]["items"]) == (2, 2)
        assert numbers(x["anyOf"][0]["items"]["items"]) == (-1e6, 1e6)
        assert exp.client.post(exp.url("/predict"), json={"x": [[0, 0]] * 31}).status_code == 422
    config = {"n_samples": schemas["DatasetConfig"], "noise": schemas["DatasetConfig"],
              "train_fraction": schemas["DatasetConfig"], "classes": schemas["DatasetConfig"],
              "learning_rate": schemas["OptimizerConfig"], "decay": schemas["OptimizerConfig"],
              "batch_size": schemas["ExperimentConfig"], "dropout": schemas["ExperimentConfig"],
              "seed": schemas["ExperimentConfig"]}
    for name, (low, high) in meta["bounds"].items():
        model = schemas["RegularizationConfig"] if name == "regularization_rate" else config[name]
        field = "rate" if name == "regularization_rate" else name
        assert numbers(model["properties"][field]) == (low, high), name
    assert meta["bounds"]["n_samples"] == [2, 400]
    assert "default" not in schemas["DatasetConfig"]["properties"]["n_samples"]  # 500 > 400
    layer = schemas["LayerConfig"]["properties"]
    for kind in meta["layer_types"]:
        for name, info in kind["fields"].items():
            if info["min"] is not None:
                assert numbers(layer[name]) == (info["min"], info["max"]), name
    assert numbers(schemas["ExperimentConfig"]["properties"]["hidden_layers"])[1] == 4
    names = schemas["OptimizerConfig"]["properties"]["name"]
    assert names["enum"] == [o["name"] for o in meta["optimizers"]]


def test_every_route_documents_the_errors_it_can_answer(client: TestClient) -> None:
    """Bug: 400, 401, 403, 404, 409, 413, 429, 503 and 507 were undocumented on most routes,
    and the 422 documented was FastAPI's {"detail"}, not the {"error"} the server sends."""
    doc = client.get("/openapi.json").json()
    error = {"$ref": "#/components/schemas/ErrorBody"}
    statuses = {}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            statuses[f"{method.upper()} {path}"] = set(op["responses"])
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == error
                    assert answer["description"] == MEANING[int(status)]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert all("503" in s for s in statuses.values())
    assert {"404", "422", "507"} <= statuses["GET /api/experiments/{exp_id}"]
    assert {"400", "403", "404", "413", "422", "507"} <= statuses["PATCH /api/experiments/{exp_id}"]
    assert {"202", "429"} <= statuses["POST /api/experiments/{exp_id}/train"]
    assert {"401", "403", "404"} <= statuses["GET /api/classes/{class_id}"]
    assert "409" in statuses["POST /api/classes/{class_id}/join"]
    teacher = doc["paths"]["/api/classes/{class_id}"]["get"]["responses"]["401"]
    assert "WWW-Authenticate" in teacher["headers"]


def test_every_page_has_the_one_head_with_its_own_module(client: TestClient) -> None:
    """The pages share one <head> (templates/base.html): the stylesheet, the icon, a title
    of their own and their own module, nothing from outside."""
    import re

    cls = client.post("/api/classes", json={"name": "Year 10", "config": SMALL}).json()
    pages = {"/": ("Neural Playground", "main"), "/lessons": ("Lessons - ", "lessons"),
             "/classes/new": ("New class - ", "classnew"),
             f"/c/{cls['id']}": ("Join Year 10 - ", "join"),
             f"/c/{cls['id']}/teacher": ("Year 10 (teacher) - ", "class"),
             "/s/nope": ("No such snapshot - ", None), "/c/nope": ("No such class - ", None)}
    for path, (title, module) in pages.items():
        text = client.get(path).text
        head = text[:text.index("</head>")]
        assert re.search(r"<title>([^<]*)</title>", head)[1].startswith(title), path
        assert head.count('href="/static/playground.css') == 1, path
        modules = re.findall(r'<script type="module" src="/frontend/(\w+)\.js', head)
        assert modules == ([module] if module else []), path
        assert "http" not in head and text.rstrip().endswith("</html>"), path


def test_fastapi_telemetry_is_off_whatever_the_environment(settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI's own OpenTelemetry would add exporters with this variable set: nothing
    may leave the machine."""
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    config = create_app(settings)._telemetry  # FastAPI's resolved telemetry settings
    assert not any(config[k] for k in ("tracing", "metrics", "logs", "operation_spans",
                                       "auto_configure"))
