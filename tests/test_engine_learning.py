"""Networks really learn the data sets (and fail where the course says they must)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.data import apply_features, generate, split
from backend.engine import Model, ModelSpec

PLAYGROUND_FEATURES = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]


def data(name: str, features: list[str], n: int = 500, noise: float = 0.0,
         classes: int = 2) -> tuple[np.ndarray, ...]:
    x, y = generate(name, n, noise, seed=0, classes=classes)
    xt, yt, xs, ys = split(x, y, 0.5, np.random.default_rng([0, 1]))
    return apply_features(features, xt), yt, apply_features(features, xs), ys


def train(spec: ModelSpec, d: tuple[np.ndarray, ...], epochs: int, batch: int | str = 10,
          stop_at: float | None = None) -> dict[str, float]:
    xt, yt, xs, ys = d
    model = Model(spec)
    for epoch in range(1, epochs + 1):
        model.fit_epoch(xt, yt, batch)
        if stop_at is not None and epoch % 25 == 0 and \
                model.evaluate(xs, ys)["accuracy"] >= stop_at:
            break
    return model.evaluate(xs, ys)


def tanh_layers(n: int, units: int = 8) -> list[dict]:
    return [{"units": units, "activation": "tanh"}] * n


def test_spiral_with_six_layers_of_eight_tanh_units() -> None:
    d = data("spiral", PLAYGROUND_FEATURES)
    spec = ModelSpec(n_inputs=7, hidden=tanh_layers(6), learning_rate=0.03)
    assert train(spec, d, 600, stop_at=0.95)["accuracy"] >= 0.9


def test_xor_without_a_hidden_layer_stays_near_chance() -> None:
    d = data("xor", ["x1", "x2"])
    result = train(ModelSpec(n_inputs=2, learning_rate=0.1), d, 100)
    assert 0.3 <= result["accuracy"] <= 0.7


def test_xor_with_the_product_feature_learns_without_a_hidden_layer() -> None:
    d = data("xor", ["x1", "x2", "x1_x2"])
    assert train(ModelSpec(n_inputs=3, learning_rate=0.1), d, 100)["accuracy"] >= 0.95


def test_xor_with_a_hidden_layer_learns() -> None:
    d = data("xor", ["x1", "x2"])
    spec = ModelSpec(n_inputs=2, hidden=tanh_layers(1, 6), learning_rate=0.03)
    assert train(spec, d, 300, stop_at=0.95)["accuracy"] >= 0.9


def test_four_class_blobs() -> None:
    d = data("blobs", ["x1", "x2"], classes=4, noise=0.1)
    spec = ModelSpec(n_inputs=2, hidden=tanh_layers(2, 6), n_classes=4, learning_rate=0.03)
    assert train(spec, d, 100, stop_at=0.97)["accuracy"] >= 0.9


def test_regression_on_reg_gauss() -> None:
    d = data("reg-gauss", ["x1", "x2"])
    _, yt, _, ys = d
    baseline = float(np.mean((ys - yt.mean()) ** 2))
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 16, "activation": "relu"}] * 2,
                     problem="regression", optimizer="adam", learning_rate=0.01, init="he")
    result = train(spec, d, 500)
    assert result["loss"] < 0.15 * baseline


def test_circle_with_the_playground_head_tanh_mse() -> None:
    d = data("circle", ["x1", "x2"])
    spec = ModelSpec(n_inputs=2, hidden=tanh_layers(2, 4), output_activation="tanh",
                     loss="mse", init="uniform", learning_rate=0.03)
    assert train(spec, d, 200, stop_at=0.97)["accuracy"] >= 0.9


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                       "nadam", "adadelta"])
def test_every_optimizer_learns_circle(optimizer: str) -> None:
    lr = {"adadelta": 1.0, "adagrad": 0.1}.get(optimizer, 0.01)
    spec = ModelSpec(n_inputs=2, hidden=tanh_layers(1, 6), optimizer=optimizer,
                     learning_rate=lr)
    assert train(spec, data("circle", ["x1", "x2"]), 200, stop_at=0.97)["accuracy"] >= 0.9


def test_batch_norm_dropout_and_l2_still_learn() -> None:
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 8, "activation": "relu"}] * 3,
                     batch_norm=True, dropout=0.1, regularization="l2",
                     regularization_rate=1e-3, optimizer="adam", learning_rate=0.01,
                     init="he")
    assert train(spec, data("circle", ["x1", "x2"]), 200, batch=25,
                 stop_at=0.97)["accuracy"] >= 0.9


def test_three_class_spiral_with_relu_and_adam() -> None:
    d = data("spiral", PLAYGROUND_FEATURES, n=600, classes=3)
    spec = ModelSpec(n_inputs=7, hidden=[{"units": 16, "activation": "relu"}] * 4,
                     n_classes=3, optimizer="adam", learning_rate=0.005, init="he")
    assert train(spec, d, 1500, stop_at=0.9)["accuracy"] >= 0.85
