"""Convolution and pooling: against a naive convolution, against numerical gradients
(float64, relative difference < 1e-6), in whole models (spec, summary, learning, saving),
and under a strict stand-in for CuPy."""

from __future__ import annotations

import json
import types
from typing import Any

import numpy as np
import pytest

from backend.engine import (
    OPTIMIZERS,
    Backend,
    Model,
    ModelSpec,
    SpecError,
    get_backend,
    gradient_check,
)
from backend.engine import model as model_module
from backend.engine.conv import AvgPool2D, Conv2D, Flatten, MaxPool2D, conv_output_size

TOLERANCE = 1e-6


# a naive convolution and numerical gradients --------------------------------------------
def naive_conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int) -> np.ndarray:
    """The definition, one output pixel at a time."""
    m, c, h, w = x.shape
    f, _, k, _ = W.shape
    xp = np.zeros((m, c, h + 2 * p, w + 2 * p))
    xp[:, :, p:p + h, p:p + w] = x
    ho, wo = (h - k + 2 * p) // s + 1, (w - k + 2 * p) // s + 1
    out = np.zeros((m, f, ho, wo))
    for n in range(m):
        for o in range(f):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, :, i * s:i * s + k, j * s:j * s + k]
                    out[n, o, i, j] = (window * W[o]).sum() + b[o]
    return out


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical(f: Any, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of arr."""
    g = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return g


def check_layer(layer: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    """L = sum(forward(x) * R): backward(R) against numerical dL/dx and dL/dparams."""
    out = layer.forward(x, True)
    R = rng.normal(size=out.shape)
    dx = layer.backward(R.copy())
    grads = {n: g.copy() for n, g in layer.grads.items()}  # the next forward may reuse them

    def loss() -> float:
        return float((layer.forward(x, True) * R).sum())

    rel = relative_difference(dx, numerical(loss, x))
    assert rel < TOLERANCE, ("x", rel)
    for name in layer.param_names:
        rel = relative_difference(grads[name], numerical(loss, getattr(layer, name)))
        assert rel < TOLERANCE, (name, rel)


CONV_CASES = [  # channels, filters, height, width, kernel, stride, padding
    (1, 2, 6, 6, 3, 1, "same"),
    (3, 4, 7, 6, 3, 1, "same"),
    (2, 3, 7, 7, 3, 2, "same"),
    (3, 2, 8, 8, 5, 2, "same"),
    (2, 3, 7, 9, 5, 1, "same"),
    (2, 2, 10, 9, 3, 3, "same"),
    (2, 3, 6, 7, 3, 1, "valid"),
    (4, 2, 9, 8, 3, 2, "valid"),
    (1, 5, 8, 8, 5, 1, "valid"),
    (2, 2, 5, 5, 1, 1, "valid"),
]


@pytest.mark.parametrize(("c", "f", "h", "w", "k", "s", "padding"), CONV_CASES)
def test_conv_forward_agrees_with_a_naive_convolution(c, f, h, w, k, s, padding) -> None:
    rng = np.random.default_rng(1)
    x, W, b = rng.normal(size=(3, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    layer = Conv2D(np, W, b, s, padding, (c, h, w))
    p = (k - 1) // 2 if padding == "same" else 0
    out = layer.forward(x, False)
    assert out.shape[1:] == layer.shape == (f, (h - k + 2 * p) // s + 1, (w - k + 2 * p) // s + 1)
    np.testing.assert_allclose(out, naive_conv(x, W, b, s, p), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("c", "f", "h", "w", "k", "s", "padding"), CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_gradients(c, f, h, w, k, s, padding, bias) -> None:
    rng = np.random.default_rng(2)
    layer = Conv2D(np, rng.normal(size=(f, c, k, k)), rng.normal(size=f) if bias else None,
                   s, padding, (c, h, w))
    check_layer(layer, rng.normal(size=(2, c, h, w)), rng)


def test_output_sizes_follow_the_course_formula() -> None:
    # (n - f + 2p) / s + 1, rounded down; 'same' keeps n at stride 1 and gives ceil(n / s)
    assert conv_output_size(28, 5, 1, "valid") == 24
    assert conv_output_size(32, 5, 1, "valid") == 28
    for n in range(3, 12):
        for s in (1, 2, 3):
            assert conv_output_size(n, 3, s, "same") == -(-n // s)
            assert conv_output_size(n, 3, s, "valid") == (n - 3) // s + 1


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize(("h", "w", "size"), [(4, 4, 2), (5, 7, 2), (6, 6, 3), (3, 3, 1)])
def test_pool_gradients(cls, h, w, size) -> None:
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * h * w).reshape(2, 3, h, w) / 7.0  # distinct: no ties
    layer = cls(np, size, (3, h, w))
    out = layer.forward(x, True)
    assert out.shape == (2, 3, h // size, w // size)
    check_layer(layer, x, rng)


def test_pool_forward_values() -> None:
    x = np.arange(2 * 5 * 5, dtype=np.float64).reshape(1, 2, 5, 5)
    top_left = x[0, 0, :2, :2]
    mx, avg = MaxPool2D(np, 2, (2, 5, 5)), AvgPool2D(np, 2, (2, 5, 5))
    for training in (True, False):
        assert mx.forward(x, training)[0, 0, 0, 0] == top_left.max()
        assert avg.forward(x, training)[0, 0, 0, 0] == top_left.mean()
    assert mx.forward(x, False).shape == (1, 2, 2, 2)  # the 5th row and column are dropped


def test_max_pool_ties_send_the_gradient_to_the_first_largest_only() -> None:
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :2, 2:] = [[1.0, 3.0], [3.0, 2.0]]  # a tie between (0, 3) and (1, 2)
    layer = MaxPool2D(np, 2, (1, 4, 4))
    layer.forward(x, True)
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = layer.backward(dout)
    expected = np.zeros((4, 4))
    expected[0, 0] = 1.0  # an all-zero window: its first position
    expected[0, 3] = 2.0  # the tie: the first in row-major order
    expected[2, 0] = 3.0
    expected[2, 2] = 4.0
    np.testing.assert_array_equal(dx[0, 0], expected)
    # the same again (consistent), and every window passes on exactly its gradient
    layer.forward(x, True)
    np.testing.assert_array_equal(layer.backward(dout)[0, 0], expected)
    assert dx.sum() == dout.sum()


@pytest.mark.parametrize("size", [2, 3])
def test_max_pool_with_many_ties_agrees_with_a_naive_first_argmax(size: int) -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(3, 2, 7, 8)).astype(np.float64)  # ties everywhere
    layer = MaxPool2D(np, size, (2, 7, 8))
    out = layer.forward(x, True)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    expected = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*out.shape):
        window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
        a, b = divmod(int(window.argmax()), size)  # numpy: the first largest, row-major
        assert out[n, c, i, j] == window.max()
        expected[n, c, i * size + a, j * size + b] = dout[n, c, i, j]
    np.testing.assert_array_equal(dx, expected)


def test_flatten_round_trip() -> None:
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    layer = Flatten(np, (3, 2, 2))
    out = layer.forward(x, True)
    assert out.shape == (2, 12) and np.array_equal(out[1], x[1].ravel())  # NCHW order
    assert np.array_equal(layer.backward(out), x)


# whole models ----------------------------------------------------------------------------
def conv_spec(hidden: list[dict] | None = None, shape: tuple[int, int, int] = (1, 8, 8),
              **over: Any) -> ModelSpec:
    hidden = hidden if hidden is not None else [
        {"type": "conv", "filters": 4, "kernel": 3, "activation": "relu"},
        {"type": "pool", "kind": "max", "size": 2},
        {"units": 8, "activation": "tanh"}]
    base: dict[str, Any] = dict(n_inputs=int(np.prod(shape)), input_shape=shape, hidden=hidden,
                                optimizer="adam", learning_rate=0.01, seed=3)
    return ModelSpec(**{**base, **over})


def check_model(spec: ModelSpec, n: int = 6) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, spec.n_inputs))
    y = rng.integers(0, spec.n_classes, n)
    report = gradient_check(Model(spec), x, y, max_checks=60)
    assert report["relative_difference"] < TOLERANCE, report
    for layer in report["layers"]:
        assert layer["relative_difference"] < TOLERANCE, layer


@pytest.mark.parametrize(("pool", "activation", "batch_norm", "regularization"), [
    ("max", "tanh", False, "none"),
    ("avg", "sigmoid", True, "l2"),
    ("max", "softplus", True, "l1"),
])
def test_conv_pool_dense_model_loss_gradient(pool, activation, batch_norm, regularization) -> None:
    spec = conv_spec([
        {"type": "conv", "filters": 3, "kernel": 3, "stride": 1, "padding": "same",
         "activation": activation},
        {"type": "pool", "kind": pool, "size": 2},
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": "valid",
         "activation": activation},
        {"units": 5, "activation": "tanh"}], shape=(2, 9, 9), n_classes=3, dtype="float64",
        batch_norm=batch_norm, regularization=regularization, regularization_rate=0.01)
    check_model(spec)


def test_conv_straight_into_the_output() -> None:
    check_model(conv_spec([{"type": "conv", "filters": 2, "kernel": 5, "padding": "valid",
                            "activation": "elu"}], shape=(1, 6, 6), dtype="float64"))


def test_lenet5_parameters_and_shapes() -> None:
    lenet = [{"type": "conv", "filters": 6, "kernel": 5, "padding": "valid", "activation": "tanh"},
             {"type": "pool", "kind": "avg", "size": 2},
             {"type": "conv", "filters": 16, "kernel": 5, "padding": "valid",
              "activation": "tanh"},
             {"type": "pool", "kind": "avg", "size": 2},
             {"units": 120, "activation": "tanh"}, {"units": 84, "activation": "tanh"}]
    rgb = Model(conv_spec(lenet, shape=(3, 32, 32), n_classes=10)).summary()
    grey = Model(conv_spec(lenet, shape=(1, 32, 32), n_classes=10)).summary()
    assert (rgb["total_params"], grey["total_params"]) == (62006, 61706)
    shapes = [(r["kind"], r["output_shape"][1:], r["trainable_params"]) for r in grey["layers"]]
    assert shapes[:7] == [("conv", [6, 28, 28], 156), ("activation", [6, 28, 28], 0),
                          ("avg_pool", [6, 14, 14], 0), ("conv", [16, 10, 10], 2416),
                          ("activation", [16, 10, 10], 0), ("avg_pool", [16, 5, 5], 0),
                          ("flatten", [400], 0)]
    assert conv_spec(lenet, shape=(1, 32, 32), n_classes=10).layer_shapes() == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,)]


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8 x 8 images of one horizontal (class 0) or vertical (class 1) bar of 3 to 8
    pixels at a random place, on noise: pixels in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, size=(n, 1, 8, 8))
    y = rng.integers(0, 2, n)
    length = rng.integers(3, 9, n)
    start = rng.integers(0, 9 - length)
    line = rng.integers(0, 8, n)
    for i in range(n):  # building the data, not the engine
        cells = slice(start[i], start[i] + length[i])
        if y[i] == 0:
            x[i, 0, line[i], cells] = 1.0
        else:
            x[i, 0, cells, line[i]] = 1.0
    return x.astype(np.float32), y


def test_a_small_conv_net_learns_bars_quickly() -> None:
    x, y = bars(600, 0)
    xt, yt = bars(300, 1)
    model = Model(conv_spec(n_classes=2, learning_rate=0.01))
    for _ in range(8):  # quickly: in 8 epochs
        model.fit_epoch(x.reshape(600, -1), y, batch_size=32)  # flat input works too
    assert model.evaluate(xt, yt)["accuracy"] >= 0.97


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_trains_a_conv_net(optimizer: str) -> None:
    x, y = bars(128, 2)
    spec = conv_spec(optimizer=optimizer, learning_rate=0.3 if optimizer == "adadelta" else 0.01,
                     batch_norm=True, dropout=0.1, regularization="l2",
                     regularization_rate=0.001, init="he")
    model = Model(spec)
    before = model.loss(x, y)
    for _ in range(3):
        model.fit_epoch(x, y, 16)
    assert model.loss(x, y) < before
    assert all(np.isfinite(np.asarray(p)).all() for p in model.params())


def test_initializers_use_the_conv_fan_in() -> None:
    spec = conv_spec([{"type": "conv", "filters": 64, "kernel": 5, "activation": "relu"}],
                     shape=(8, 8, 8), init="he")
    W = Model(spec).conv_layers[0].W
    assert W.shape == (64, 8, 5, 5)
    assert abs(W.std() / np.sqrt(2.0 / (8 * 25)) - 1.0) < 0.05
    zeros = Model(conv_spec(init="zeros")).conv_layers[0].W
    assert not zeros.any()


def test_the_same_seed_gives_the_same_conv_net_and_curve() -> None:
    x, y = bars(64, 4)
    runs = []
    for _ in range(2):
        model = Model(conv_spec(dropout=0.2, batch_norm=True))
        curve = []
        for _ in range(2):
            model.fit_epoch(x, y, 16)
            curve.append(model.loss(x, y))
        runs.append((curve, [np.array(p) for p in model.params()]))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_save_load_round_trip_is_bit_exact_and_training_continues_identically() -> None:
    x, y = bars(64, 5)
    model = Model(conv_spec(batch_norm=True, optimizer="nadam"))
    model.fit_epoch(x, y, 16)
    data = json.loads(json.dumps(model.to_dict()))
    assert [layer["kind"] for layer in data["layers"]] == [
        "conv", "batch_norm", "activation", "max_pool", "flatten", "dense", "batch_norm",
        "activation", "dense"]
    copy = Model.from_dict(data)
    assert all(np.array_equal(a, b) for a, b in zip(model.params(), copy.params(), strict=True))
    model.fit_epoch(x, y, 16)
    copy.fit_epoch(x, y, 16)
    assert all(np.array_equal(a, b) for a, b in zip(model.params(), copy.params(), strict=True))
    assert model.loss(x, y) == copy.loss(x, y)


def test_a_saved_conv_model_with_wrong_shapes_is_refused_and_leaves_the_model_alone() -> None:
    model = Model(conv_spec())
    before = [np.array(a) for a in model.state_arrays()]
    data = Model(conv_spec()).to_dict()
    data["layers"][0]["arrays"]["W"]["shape"] = [4, 1, 5, 5]
    with pytest.raises(ValueError, match=r"conv.W: shape \[4, 1, 5, 5\] where \[4, 1, 3, 3\]"):
        model.load_dict(data)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.state_arrays(), strict=True))


def test_snapshot_restore_copy_and_carry() -> None:
    x, y = bars(64, 6)
    model = Model(conv_spec(batch_norm=True))
    state = model.snapshot()
    first = model.loss(x, y)
    model.fit_epoch(x, y, 16)
    twin = model.copy()
    model.restore(state)
    assert model.loss(x, y) == first and twin.loss(x, y) != first
    other = Model(conv_spec(batch_norm=True, seed=9, learning_rate=0.1))
    other.carry_from(twin, optimizer=True)
    assert other.loss(x, y) == twin.loss(x, y)
    with pytest.raises(ValueError, match="differ in structure"):
        Model(conv_spec([{"type": "conv", "filters": 5}, {"units": 8}])).carry_from(twin, False)


def test_inputs_flat_nchw_or_one_channel_hw_give_the_same_output() -> None:
    x, _ = bars(10, 7)
    model = Model(conv_spec())
    a = model.predict(x)
    assert np.array_equal(a, model.predict(x.reshape(10, 64)))
    assert np.array_equal(a, model.predict(x.reshape(10, 8, 8)))
    with pytest.raises(ValueError, match=r"takes \(1, 8, 8\)"):
        model.predict(np.zeros((2, 8, 8, 2)))


def test_evaluation_goes_in_chunks_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = bars(50, 8)
    model = Model(conv_spec(batch_norm=True))
    model.fit_epoch(x, y, 10)
    whole = model.predict(x)
    monkeypatch.setattr(model_module, "EVAL_CHUNK_BYTES", 4 * 9 * 8 * 10 * 7)  # 8 rows of 10
    small = Model(model.spec)
    small.load_dict(model.to_dict())
    assert small._eval_chunk == 7
    np.testing.assert_allclose(small.predict(x), whole, rtol=1e-6)
    outs = small.layer_outputs(x)
    assert [o.shape for o in outs] == [(50, 4, 8, 8), (50, 4, 4, 4), (50, 8), (50, 1)]
    np.testing.assert_allclose(outs[-1], whole, rtol=1e-6)


def test_dense_only_specs_are_unchanged() -> None:
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 3, "activation": "relu"}])
    data = spec.to_dict()
    assert data["hidden"] == [{"units": 3, "activation": "relu"}] and "input_shape" not in data
    assert [layer.kind for layer in Model(spec).layers] == ["dense", "activation", "dense"]
    # a dense net may take images too: they are flattened
    images = Model(conv_spec([{"units": 4}]))
    assert [layer.kind for layer in images.layers] == ["dense", "activation", "dense"]
    assert images.predict(bars(3, 0)[0]).shape == (3, 1)


def test_conv_spec_round_trip() -> None:
    spec = conv_spec()
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["input_shape"] == [1, 8, 8]
    assert data["hidden"] == [
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": "same",
         "activation": "relu"},
        {"type": "pool", "kind": "max", "size": 2},
        {"units": 8, "activation": "tanh"}]
    assert ModelSpec.from_dict(data) == spec
    assert ModelSpec.from_dict(data).to_dict() == spec.to_dict()


@pytest.mark.parametrize(("over", "message"), [
    ({"input_shape": None, "n_inputs": 64}, "need images or sequences as input"),
    ({"hidden": [{"units": 4}, {"type": "conv", "filters": 2}]}, "cannot follow a dense"),
    ({"hidden": [{"type": "conv", "filters": 2, "kernel": 4}]}, "needs an odd kernel"),
    ({"hidden": [{"type": "conv", "filters": 2, "kernel": 9, "padding": "valid"}]},
     "does not fit its 8x8 input"),
    ({"hidden": [{"type": "conv", "filters": 0}]}, "filters must be a whole number"),
    ({"hidden": [{"type": "conv", "filters": 2, "stride": 1.5}]}, "stride must be"),
    ({"hidden": [{"type": "conv", "filters": 2, "padding": "full"}]},
     "padding 'full' is not one of same, valid"),
    ({"hidden": [{"type": "conv", "filters": 2, "activation": "softmax"}]}, "activation"),
    ({"hidden": [{"type": "pool", "kind": "min"}]}, "kind 'min' is not one of max, avg"),
    ({"hidden": [{"type": "pool", "size": 3}, {"type": "pool", "size": 3}]},
     "a 3x3 pool does not fit its 2x2 input"),
    ({"hidden": [{"type": "deconv"}]},
     "type 'deconv' is not one of dense, conv, pool, rnn, lstm, gru"),
    ({"hidden": [{"type": "pool", "units": 3}]}, "a pool layer takes no units"),
    ({"hidden": [{"type": "conv"}]}, "a conv layer needs filters"),
    ({"n_inputs": 60}, "n_inputs must be channels x height x width = 64"),
    ({"input_shape": (1, 8, 8, 1)}, "input_shape must be three whole numbers"),
])
def test_bad_conv_specs_are_refused(over: dict, message: str) -> None:
    base: dict[str, Any] = dict(n_inputs=64, input_shape=(1, 8, 8),
                                hidden=[{"type": "conv", "filters": 2}])
    with pytest.raises(SpecError, match=message):
        ModelSpec(**{**base, **over})


# a strict stand-in for CuPy ----------------------------------------------------------------
class StrictArray(np.ndarray):
    """Like a CuPy array: refuses to mix with NumPy arrays (an operation, a function) and
    has .get() for the way back; numpy scalars are fine, as in CuPy."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        _refuse(inputs + (out or ()))
        args = [i.view(np.ndarray) if isinstance(i, StrictArray) else i for i in inputs]
        if out:
            kwargs["out"] = tuple(o.view(np.ndarray) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _strict(result)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} on a device array: use the backend's xp")

    def get(self) -> np.ndarray:
        return np.array(self.view(np.ndarray))


def _refuse(values: Any) -> None:
    for v in values:
        if isinstance(v, np.ndarray) and not isinstance(v, StrictArray):
            raise TypeError("a NumPy array mixed with a device array (CuPy refuses that)")


def _strict(result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_strict(r) for r in result)
    if isinstance(result, np.ndarray):
        return result.view(StrictArray)
    return result


def _unwrap(value: Any) -> Any:
    if isinstance(value, StrictArray):
        return value.view(np.ndarray)
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    return value


def strict_module(source: Any, name: str) -> types.ModuleType:
    """numpy's functions, taking and giving StrictArrays (np.asarray on a NumPy array is
    the way onto the device, as cupy.asarray is)."""
    module = types.ModuleType(name)

    def lookup(attr: str) -> Any:
        value = getattr(source, attr)
        if isinstance(value, types.ModuleType):
            return strict_module(value, f"{name}.{attr}")
        if callable(value) and not isinstance(value, type):
            def call(*args: Any, **kwargs: Any) -> Any:
                args = tuple(_unwrap(a) for a in args)
                kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
                return _strict(value(*args, **kwargs))
            return call
        return value

    module.__getattr__ = lookup  # type: ignore[method-assign]
    return module


def test_strict_array_refuses_numpy_like_cupy() -> None:
    xp = strict_module(np, "strictnp")
    a = xp.ones(3)
    with pytest.raises(TypeError, match="mixed"):
        a + np.ones(3)
    with pytest.raises(TypeError, match="device array"):
        np.concatenate([a, a])
    assert float((a * np.float32(2)).sum()) == 6.0


def test_conv_net_runs_under_a_strict_cupy_stand_in_and_agrees_with_numpy() -> None:
    x, y = bars(48, 9)
    spec = conv_spec([
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "kind": "max", "size": 2},
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": "same"},
        {"type": "pool", "kind": "avg", "size": 2},
        {"units": 6, "activation": "tanh"}], n_classes=3, batch_norm=True, dropout=0.2,
        regularization="l2", regularization_rate=0.001)
    y = y + (x.sum(axis=(1, 2, 3)) > np.median(x.sum(axis=(1, 2, 3))))
    ref, dev = Model(spec), Model(spec, Backend(strict_module(np, "strictnp"), "gpu"))
    assert isinstance(dev.params()[0], StrictArray)
    for model in (ref, dev):
        model.fit_epoch(x, y, 16)
    for a, b in zip(ref.params(), dev.params(), strict=True):
        np.testing.assert_allclose(np.asarray(a), b.get(), rtol=1e-5, atol=1e-6)
    assert dev.evaluate(x, y)["loss"] == pytest.approx(ref.evaluate(x, y)["loss"], rel=1e-5)
    outs = dev.layer_outputs(x[:2])
    assert type(outs[0]) is np.ndarray and outs[1].shape == (2, 3, 4, 4)
    data = dev.to_dict()
    assert Model.from_dict(json.loads(json.dumps(data)), get_backend("cpu")).loss(x, y) \
        == pytest.approx(dev.loss(x, y), rel=1e-5)
