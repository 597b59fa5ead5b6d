"""Backprop against two-sided numerical differences, in float64 (course: < 1e-7 is right)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from backend.engine import ACTIVATIONS, REGULARIZERS, Model, ModelSpec, gradient_check

TOLERANCE = 1e-6
HIDDEN_ACTIVATIONS = [name for name, act in ACTIVATIONS.items() if act.hidden]


def check(spec: ModelSpec, y: np.ndarray | None = None, n: int = 12) -> dict:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, spec.n_inputs))
    if y is None:
        y = rng.integers(0, spec.n_classes, n) if spec.problem == "classification" \
            else rng.normal(size=n)
    report = gradient_check(Model(spec), x, y)
    assert report["relative_difference"] < TOLERANCE, report
    for layer in report["layers"]:
        assert layer["relative_difference"] < TOLERANCE, layer
    return report


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_every_hidden_activation(activation: str) -> None:
    check(ModelSpec(n_inputs=3, hidden=[{"units": 4, "activation": activation},
                                        {"units": 3, "activation": activation}],
                    dtype="float64", seed=3))


@pytest.mark.parametrize(("problem", "classes", "output", "loss"), [
    ("classification", 2, "sigmoid", "binary_cross_entropy"),
    ("classification", 4, "softmax", "cross_entropy"),
    ("classification", 4, "softmax", "mse"),
    ("classification", 2, "tanh", "mse"),
    ("classification", 2, "tanh", "hinge"),
    ("classification", 2, "linear", "hinge"),
    ("classification", 2, "sigmoid", "mse"),
    ("regression", 2, "linear", "mse"),
    ("regression", 2, "linear", "mae"),
    ("regression", 2, "linear", "huber"),
    ("regression", 2, "tanh", "huber"),
])
def test_every_loss(problem: str, classes: int, output: str, loss: str) -> None:
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 5, "activation": "tanh"}], problem=problem,
                     n_classes=classes, output_activation=output, loss=loss,
                     loss_params={"delta": 0.3} if loss == "huber" else {},
                     dtype="float64", seed=1, init="normal", init_scale=1.0)
    check(spec)


@pytest.mark.parametrize("regularization", REGULARIZERS.names())
def test_every_regularizer(regularization: str) -> None:
    report = check(ModelSpec(n_inputs=2, hidden=[{"units": 6, "activation": "tanh"}],
                             regularization=regularization, regularization_rate=0.3,
                             dtype="float64"))
    assert {layer["layer"] for layer in report["layers"]} == {"dense 2->6", "dense 6->1"}


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_batch_norm(activation: str) -> None:
    report = check(ModelSpec(n_inputs=3, hidden=[{"units": 5, "activation": activation}] * 3,
                             batch_norm=True, n_classes=3, dtype="float64"), n=20)
    names = {name for layer in report["layers"] for name in layer["params"]}
    assert names == {"W", "b", "gamma", "beta"}  # b only on the output layer


def test_dropout_is_turned_off_for_the_check() -> None:
    check(ModelSpec(n_inputs=2, hidden=[{"units": 6, "activation": "relu"}] * 2, dropout=0.5,
                    regularization="l2", regularization_rate=0.1))


def test_float32_model_is_checked_in_float64() -> None:
    report = check(ModelSpec(n_inputs=2, hidden=[{"units": 4, "activation": "sigmoid"}]))
    assert report["verdict"] == "right"


def test_a_wrong_derivative_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    tanh = ACTIVATIONS.get("tanh")
    broken = replace(tanh, der=lambda xp, z, a: 1.0 - a)  # should be 1 - a^2
    monkeypatch.setitem(ACTIVATIONS._items, "tanh", broken)
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 4, "activation": "tanh"}], dtype="float64")
    rng = np.random.default_rng(0)
    report = gradient_check(Model(spec), rng.normal(size=(10, 2)), rng.integers(0, 2, 10))
    assert report["relative_difference"] > 1e-3
    assert report["layers"][0]["verdict"] == "a bug"
