"""The model's contracts: determinism, serialization, summary, heads, devices, stability."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from backend.engine import DeviceError, HeadError, Model, ModelSpec, SpecError, get_backend
from backend.engine import arrays as arrays_module
from backend.engine.serialize import decode_array

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 2))
Y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def deep_spec(**over: object) -> ModelSpec:
    base = dict(n_inputs=2, hidden=[{"units": 6, "activation": "relu"}] * 3, optimizer="adam",
                learning_rate=0.01, dropout=0.2, batch_norm=True, regularization="l2",
                regularization_rate=0.001, seed=5)
    return ModelSpec(**{**base, **over})


def trained(spec: ModelSpec, epochs: int = 3) -> tuple[Model, list[float]]:
    model = Model(spec)
    curve = []
    for _ in range(epochs):
        model.fit_epoch(X, Y, batch_size=10)
        curve.append(model.loss(X, Y))
    return model, curve


def weights(model: Model) -> list[np.ndarray]:
    return [np.array(p) for p in model.params()]


def test_same_spec_and_seed_give_the_same_weights_and_curve_bit_for_bit() -> None:
    a, curve_a = trained(deep_spec())
    b, curve_b = trained(deep_spec())
    assert curve_a == curve_b
    for wa, wb in zip(weights(a), weights(b), strict=True):
        assert np.array_equal(wa, wb)


def test_another_seed_gives_other_weights() -> None:
    a, _ = trained(deep_spec(), 1)
    b, _ = trained(deep_spec(seed=6), 1)
    assert not np.array_equal(weights(a)[0], weights(b)[0])


def test_serialization_round_trip_is_bit_exact_and_training_continues_identically() -> None:
    model, _ = trained(deep_spec(optimizer="nadam"))
    data = json.loads(json.dumps(model.to_dict()))
    copy = Model.from_dict(data)
    for wa, wb in zip(weights(model), weights(copy), strict=True):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb)
    bn, bn_copy = model.layers[1], copy.layers[1]
    assert np.array_equal(bn.running_var, bn_copy.running_var)
    assert copy.epoch == model.epoch and copy.optimizer.t == model.optimizer.t
    for _ in range(2):
        model.fit_epoch(X, Y, 10)
        copy.fit_epoch(X, Y, 10)
    for wa, wb in zip(weights(model), weights(copy), strict=True):
        assert np.array_equal(wa, wb)


def test_float64_round_trip() -> None:
    model, _ = trained(deep_spec(dtype="float64", batch_norm=False), 1)
    copy = Model.from_dict(json.loads(json.dumps(model.to_dict())))
    assert all(np.array_equal(a, b) for a, b in zip(weights(model), weights(copy), strict=True))
    assert copy.params()[0].dtype == np.float64


def as_lists(a: dict[str, Any]) -> dict[str, Any]:
    """An array as files written before base64 held it: a list of numbers."""
    values = decode_array(a, tuple(a["shape"]))
    return {"dtype": a["dtype"], "shape": a["shape"], "data": values.ravel().tolist()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_arrays_travel_as_base64_and_lists_of_numbers_still_load(dtype: str) -> None:
    model, _ = trained(deep_spec(dtype=dtype, optimizer="adam", batch_norm=False), 1)
    data = model.to_dict()
    assert set(data["layers"][0]["arrays"]["W"]) == {"dtype", "shape", "base64"}
    old = json.loads(json.dumps(data))
    for layer in old["layers"]:
        layer["arrays"] = {n: as_lists(a) for n, a in layer["arrays"].items()}
    old["optimizer"]["state"] = [[as_lists(a) for a in slots]
                                 for slots in old["optimizer"]["state"]]
    assert len(json.dumps(old)) > 1.5 * len(json.dumps(data))
    for saved in (data, old):
        copy = Model.from_dict(json.loads(json.dumps(saved)))
        for wa, wb in zip(weights(model), weights(copy), strict=True):
            assert wa.dtype == wb.dtype and np.array_equal(wa, wb)
        assert all(np.array_equal(a, b) for sa, sb in zip(
            model.optimizer.state, copy.optimizer.state, strict=True)
            for a, b in zip(sa, sb, strict=True))


def test_a_saved_model_with_wrong_shapes_is_refused() -> None:
    data = Model(deep_spec()).to_dict()
    data["layers"][0]["arrays"]["W"]["shape"] = [3, 4]
    with pytest.raises(ValueError, match=r"dense.W: shape \[3, 4\] where \[2, 6\] belongs"):
        Model.from_dict(data)


def test_summary_counts_parameters() -> None:
    summary = Model(ModelSpec(n_inputs=7, hidden=[{"units": 8}] * 6, batch_norm=True)).summary()
    # dense 7x8 (no bias with batch norm) + 5 x dense 8x8 + gamma, beta per layer; out 8x1 + 1
    trainable = 7 * 8 + 5 * 64 + 6 * 16 + 9
    assert summary["trainable_params"] == trainable
    assert summary["non_trainable_params"] == 6 * 16  # running mean and variance
    assert summary["layers"][0]["output_shape"] == [None, 8]
    assert summary["layers"][-1]["output_shape"] == [None, 1]


def test_unit_outputs_give_every_hidden_unit_and_the_output() -> None:
    model = Model(ModelSpec(n_inputs=2, hidden=[{"units": 4}, {"units": 3}], n_classes=3))
    outs = model.unit_outputs(X[:10])
    assert [o.shape for o in outs] == [(10, 4), (10, 3), (10, 3)]
    np.testing.assert_allclose(outs[-1].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(outs[-1], model.predict(X[:10]))


def test_dropout_is_off_at_evaluation() -> None:
    model = Model(deep_spec(dropout=0.5, batch_norm=False))
    assert np.array_equal(model.predict(X), model.predict(X))
    z1 = model.forward(model.as_x(X), training=True)
    z2 = model.forward(model.as_x(X), training=True)
    assert not np.array_equal(z1, z2)


def test_batch_norm_uses_running_statistics_at_evaluation() -> None:
    model, _ = trained(deep_spec(dropout=0.0), 5)
    bn = model.layers[1]
    assert not np.allclose(bn.running_mean, 0.0)
    one = model.predict(X[:1])
    assert np.allclose(one, model.predict(X)[:1], atol=1e-6)  # independent of the batch


@pytest.mark.parametrize("scale", [10.0, 100.0])
def test_huge_initialization_gives_no_nan_loss(scale: float) -> None:
    for classes in (2, 4):
        spec = ModelSpec(n_inputs=2, hidden=[{"units": 8, "activation": "tanh"}] * 2,
                         init="normal", init_scale=scale, n_classes=classes)
        model = Model(spec)
        y = RNG.integers(0, classes, 64)
        result = model.evaluate(X * 100, y)
        assert np.isfinite(result["loss"]) and result["loss"] > 1.0
        model.fit_epoch(X * 100, y, 16)
        assert all(np.isfinite(p).all() for p in model.params())


def test_zeros_init_never_breaks_symmetry() -> None:
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 5, "activation": "tanh"}], init="zeros",
                     learning_rate=0.3)
    model, _ = trained(spec, 20)
    W = model.layers[0].W
    assert np.allclose(W, W[:, :1])  # every unit has the same incoming weights


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_classes": 3, "output_activation": "sigmoid"}, "need output_activation 'softmax'"),
    ({"loss": "cross_entropy"}, "needs output_activation 'softmax'"),
    ({"problem": "regression", "loss": "hinge"}, "for classification"),
    ({"output_activation": "relu"}, "cannot output a class probability"),
    ({"n_classes": 11}, "2 to 10 classes"),
    ({"output_activation": "cubic"}, "unknown activation 'cubic'"),
])
def test_heads_that_do_not_fit_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModelSpec(n_inputs=2, **kwargs)


def test_auto_heads() -> None:
    assert Model(ModelSpec(n_inputs=2)).head.loss.name == "binary_cross_entropy"
    head = Model(ModelSpec(n_inputs=2, n_classes=5)).head
    assert (head.activation.name, head.loss.name, head.n_outputs) == ("softmax",
                                                                      "cross_entropy", 5)
    head = Model(ModelSpec(n_inputs=2, problem="regression")).head
    assert (head.activation.name, head.loss.name) == ("linear", "mse")


def test_playground_head_tanh_mse_uses_signed_targets() -> None:
    model = Model(ModelSpec(n_inputs=2, output_activation="tanh", loss="mse"))
    assert model.targets(np.array([0, 1]))[:, 0].tolist() == [-1.0, 1.0]
    assert model.head.classes(np, np.array([[-0.2], [0.3]])).tolist() == [0, 1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"hidden": [{"units": 0}]}, "units must be a whole number at least 1"),
    ({"hidden": [{"units": 3, "activation": "softmax"}]}, "is not one of"),
    ({"optimizer": "adamw"}, "optimizer 'adamw'"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"dropout": 1.0}, "dropout"),
    ({"optimizer": "sgd", "optimizer_params": {"momentum": 0.9}}, "takes no momentum"),
])
def test_bad_specs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModelSpec(n_inputs=2, **kwargs)


def test_head_error_is_a_value_error() -> None:
    assert issubclass(HeadError, ValueError)


def test_gpu_without_cupy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise DeviceError("device 'gpu' needs CuPy")

    monkeypatch.setattr(arrays_module, "_cupy", missing)
    with pytest.raises(DeviceError, match="CuPy"):
        get_backend("gpu")
    auto = get_backend("auto")
    assert auto.device == "cpu" and "fell back" in auto.note
    assert get_backend("cpu").note == ""
    with pytest.raises(ValueError, match="unknown device"):
        get_backend("tpu")


def test_grad_norms_after_a_step() -> None:
    model = Model(deep_spec())
    assert model.grad_norms() == [0.0] * 4
    model.fit_epoch(X, Y, 10)
    assert all(n > 0 for n in model.grad_norms())
