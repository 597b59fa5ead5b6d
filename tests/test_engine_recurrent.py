"""Recurrent and 1-D sequence layers: every gradient against central differences in
float64, the state gradient against perturbed states of a step-by-step reference, the
forward and backward against PyTorch on the same weights (a committed fixture), and the
initialization (orthogonal Wh, LSTM forget bias 1, seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backend.engine import INITIALIZERS, OPTIMIZERS
from backend.engine.layers import Dense
from backend.engine.recurrent import (
    GRU,
    LSTM,
    SimpleRNN,
    initial_bias,
    make_recurrent,
    orthogonal,
    recurrent_init,
)
from backend.engine.seqconv import AvgPool1D, Conv1D, MaxPool1D, PerStep

from .test_engine_conv import check_layer, numerical, relative_difference

TOLERANCE = 1e-6
FIXTURE = Path(__file__).parent / "fixtures" / "torch_recurrent.npz"
M, T, C, H = 3, 6, 2, 4


def layer_of(kind: str, rng: np.random.Generator, seq: bool, act: str = "tanh",
             c: int = C, h: int = H, dtype: Any = np.float64, scale: float = 0.6) -> Any:
    """A layer with random weights of moderate size (gates neither saturated nor flat)."""
    k = {"rnn": 1, "lstm": 4, "gru": 3}[kind]

    def r(*shape: int) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(dtype)

    if kind == "rnn":
        return SimpleRNN(np, r(c, h), r(h, h), r(h), act, seq)
    if kind == "lstm":
        return LSTM(np, r(c, k * h), r(h, k * h), r(k * h), seq)
    return GRU(np, r(c, k * h), r(h, k * h), r(k * h), r(k * h), seq)


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]


# a reference from the equations, step by step ---------------------------------------------
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def reference(layer: Any, x: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """Every step's h_t (m, T, H), written from the equations one step at a time; shift
    (m, T, H) is added to each h_t as it is made (what state_grad differentiates)."""
    m, steps, _ = x.shape
    units = layer.units
    h, c, out = np.zeros((m, units)), np.zeros((m, units)), []
    for t in range(steps):
        xt = x[:, t]
        if isinstance(layer, SimpleRNN):
            h = layer.act.fn(np, xt @ layer.Wx + h @ layer.Wh + layer.b)
        elif isinstance(layer, LSTM):
            i, f, g, o = np.split(xt @ layer.Wx + h @ layer.Wh + layer.b, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:
            ar, az, an = np.split(xt @ layer.Wx + layer.bx, 3, axis=1)
            hr, hz, hn = np.split(h @ layer.Wh + layer.bh, 3, axis=1)
            r, z = sigmoid(ar + hr), sigmoid(az + hz)
            n = np.tanh(an + r * hn)
            h = (1 - z) * n + z * h
        if shift is not None:
            h = h + shift[:, t]
        out.append(h)
    return np.stack(out, axis=1)


# gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize(("kind", "act"), CASES)
def test_gradients_match_finite_differences(kind: str, act: str | None, seq: bool) -> None:
    rng = np.random.default_rng(1)
    layer = layer_of(kind, rng, seq, act or "tanh")
    check_layer(layer, rng.normal(size=(M, T, C)), rng)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize(("kind", "act"), CASES)
def test_forward_and_state_grad_match_the_reference(kind: str, act: str | None,
                                                    seq: bool) -> None:
    """forward is the step-by-step definition; state_grad[:, t] is dL/dh_t as a change of
    h_t (carried through every later step) changes L."""
    rng = np.random.default_rng(2)
    layer = layer_of(kind, rng, seq, act or "tanh")
    x = rng.normal(size=(M, T, C))
    ref = reference(layer, x)
    out = layer.forward(x, True)
    np.testing.assert_allclose(out, ref if seq else ref[:, -1], rtol=0, atol=1e-12)
    R = rng.normal(size=out.shape)
    layer.backward(R)
    shift = np.zeros((M, T, layer.units))

    def loss() -> float:
        h = reference(layer, x, shift)
        return float(((h if seq else h[:, -1]) * R).sum())

    want = numerical(loss, shift)
    assert np.abs(want[:, 0]).min() > 0  # the first step's state reaches the loss
    assert relative_difference(layer.state_grad, want) < TOLERANCE
    assert layer.state_grad.shape == (M, T, layer.units)


def test_relu_rnn_gradient_is_the_relu_one() -> None:
    """A relu RNN's gradient stops where a unit is off: the check above with tanh's
    derivative in its place would fail."""
    rng = np.random.default_rng(3)
    layer = layer_of("rnn", rng, True, "relu")
    x = rng.normal(size=(M, T, C))
    out = layer.forward(x, True)
    assert (out == 0).any() and (out > 0).any()
    layer.backward(np.ones_like(out))
    g = layer.state_grad
    assert not np.allclose(g, 1.0)  # later steps sent gradient back
    np.testing.assert_allclose(out, reference(layer, x), atol=1e-12)


# against PyTorch -----------------------------------------------------------------------------
def from_torch(case: str, data: Any, seq: bool) -> Any:
    """Our layer on PyTorch's weights. PyTorch keeps weight_ih (k H, C) and weight_hh
    (k H, H) as (out, in) with the same gate order as ours, so Wx = weight_ih^T and
    Wh = weight_hh^T; the RNN's and LSTM's two biases always add, so b = bias_ih +
    bias_hh; the GRU keeps them apart: bx = bias_ih, bh = bias_hh."""
    w = {n: data[f"{case}/{n}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    Wx, Wh = w["weight_ih"].T.copy(), w["weight_hh"].T.copy()
    if case.startswith("rnn"):
        return SimpleRNN(np, Wx, Wh, w["bias_ih"] + w["bias_hh"], case[4:], seq)
    if case == "lstm":
        return LSTM(np, Wx, Wh, w["bias_ih"] + w["bias_hh"], seq)
    return GRU(np, Wx, Wh, w["bias_ih"].copy(), w["bias_hh"].copy(), seq)


def our_torch_grads(case: str, layer: Any) -> dict[str, np.ndarray]:
    """Our gradients in PyTorch's names and layouts (a summed bias gets both)."""
    g = layer.grads
    out = {"weight_ih": g["Wx"].T, "weight_hh": g["Wh"].T}
    if case == "gru":
        out.update(bias_ih=g["bx"], bias_hh=g["bh"])
    else:
        out.update(bias_ih=g["b"], bias_hh=g["b"])
    return out


@pytest.mark.parametrize("case", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_matches_pytorch(case: str) -> None:
    data = np.load(FIXTURE)
    x = data[f"{case}/x"]
    for seq, loss in ((True, "seq"), (False, "last")):
        layer = from_torch(case, data, seq)
        out = layer.forward(x.copy(), True)
        want = data[f"{case}/out"] if seq else data[f"{case}/h_n"]
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-10)
        dx = layer.backward(data[f"{case}/R_{loss}"].copy())
        np.testing.assert_allclose(dx, data[f"{case}/{loss}_dx"], rtol=0, atol=1e-10)
        for name, g in our_torch_grads(case, layer).items():
            np.testing.assert_allclose(g, data[f"{case}/{loss}_d{name}"], rtol=0, atol=1e-10,
                                       err_msg=f"{case} {loss} {name}")
    np.testing.assert_allclose(data[f"{case}/out"][:, -1], data[f"{case}/h_n"], atol=1e-15)


def test_lstm_gates_rebuild_pytorchs_cell_state() -> None:
    """trace's gates are the real ones: c_t = f c_{t-1} + i g from them gives PyTorch's c_n,
    and h_t = o tanh(c_t) its states."""
    data = np.load(FIXTURE)
    layer = from_torch("lstm", data, True)
    tr = layer.trace(data["lstm/x"])
    g = tr["gates"]
    c = np.zeros_like(g["input"][:, 0])
    for t in range(g["input"].shape[1]):
        c = g["forget"][:, t] * c + g["input"][:, t] * g["candidate"][:, t]
        np.testing.assert_allclose(g["output"][:, t] * np.tanh(c), tr["states"][:, t],
                                   atol=1e-12)
    np.testing.assert_allclose(c, data["lstm/c_n"], rtol=0, atol=1e-10)


def test_gru_gates_rebuild_its_states() -> None:
    data = np.load(FIXTURE)
    layer = from_torch("gru", data, True)
    tr = layer.trace(data["gru/x"])
    z, n, states = tr["gates"]["update"], tr["gates"]["candidate"], tr["states"]
    h = np.zeros_like(states[:, 0])
    for t in range(states.shape[1]):
        h = (1 - z[:, t]) * n[:, t] + z[:, t] * h
        np.testing.assert_allclose(h, states[:, t], atol=1e-12)
    np.testing.assert_allclose(states, data["gru/out"], rtol=0, atol=1e-10)


# shapes, trace, dtypes -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_shapes_and_trace(kind: str) -> None:
    rng = np.random.default_rng(4)
    init = INITIALIZERS.get("glorot")
    names = {"rnn": set(), "lstm": {"input", "forget", "output", "candidate"},
             "gru": {"update", "reset", "candidate"}}[kind]
    x = rng.normal(size=(M, 9, C)).astype(np.float32)
    for seq in (False, True):
        layer = make_recurrent(np, kind, rng, init, 0.0, (9, C), 6, np.float32,
                               return_sequences=seq)
        assert layer.shape == ((9, 6) if seq else (6,)) and layer.units == 6
        out = layer.forward(x, True)
        assert out.shape == ((M, 9, 6) if seq else (M, 6)) and out.dtype == np.float32
        dx = layer.backward(np.ones_like(out))
        assert dx.shape == x.shape and dx.dtype == np.float32
        assert all(layer.grads[n].shape == getattr(layer, n).shape
                   and layer.grads[n].dtype == np.float32 for n in layer.param_names)
        tr = layer.trace(x)
        assert set(tr["gates"]) == names
        assert tr["states"].shape == (M, 9, 6)
        np.testing.assert_array_equal(tr["states"][:, -1], layer.forward(x, False)[:, -1]
                                      if seq else layer.forward(x, False))
        for name, g in tr["gates"].items():
            assert g.shape == (M, 9, 6)
            low = -1.0 if name == "candidate" else 0.0
            assert (g >= low).all() and (g <= 1.0).all(), name
        assert layer.config()["return_sequences"] is seq


def test_evaluation_between_forward_and_backward_changes_nothing() -> None:
    """Evaluation and trace keep their own buffers: the training pass's survive them."""
    rng = np.random.default_rng(5)
    layer = layer_of("gru", rng, True)
    x = rng.normal(size=(M, T, C))
    out = layer.forward(x, True)
    R = rng.normal(size=out.shape)
    layer.backward(R)
    want = {n: g.copy() for n, g in layer.grads.items()}
    layer.forward(x, True)
    layer.trace(rng.normal(size=(M, T, C)))
    layer.forward(rng.normal(size=(M, T, C)), False)
    layer.backward(R)
    for n, g in want.items():
        np.testing.assert_array_equal(layer.grads[n], g)


def test_first_layer_skips_the_input_gradient() -> None:
    rng = np.random.default_rng(6)
    for kind in ("rnn", "lstm", "gru"):
        layer = layer_of(kind, rng, False)
        layer.input_grad = False
        out = layer.forward(rng.normal(size=(M, T, C)), True)
        assert layer.backward(np.ones_like(out)) is None
        assert set(layer.grads) == set(layer.param_names)


def test_a_float32_gru_learns_to_echo_the_last_step_with_adam() -> None:
    """GRU (return_sequences) -> per-step dense, trained with the project's Adam to output
    x_{t-1} at step t: the mean squared error falls far below the untrained one."""
    rng = np.random.default_rng(7)
    gru = make_recurrent(np, "gru", rng, INITIALIZERS.get("glorot"), 0.0, (10, 1), 8,
                         np.float32, return_sequences=True)
    head = PerStep(np, (rng.normal(size=(8, 1)) * 0.3).astype(np.float32),
                   np.zeros(1, np.float32), steps=10)
    layers = [gru, head]
    params = [getattr(layer, n) for layer in layers for n in layer.param_names]
    adam = OPTIMIZERS.get("adam")()
    adam.bind(np, params)
    x = rng.normal(size=(64, 10, 1)).astype(np.float32)
    y = np.concatenate([np.zeros((64, 1, 1), np.float32), x[:, :-1]], axis=1)

    def mse() -> float:
        return float(((head.forward(gru.forward(x, False), False) - y) ** 2).mean())

    before = mse()
    for _ in range(300):
        out = head.forward(gru.forward(x, True), True)
        gru.backward(head.backward((2 * (out - y) / out.size).astype(np.float32)))
        grads = [layer.grads[n] for layer in layers for n in layer.param_names]
        adam.step(np, params, grads, 0.02)
    assert mse() < 0.1 * before


# initialization ------------------------------------------------------------------------------
def test_lstm_forget_bias_is_one_and_wh_is_orthogonal_per_block() -> None:
    layer = make_recurrent(np, "lstm", np.random.default_rng(8), INITIALIZERS.get("glorot"),
                           0.0, (T, 3), 5, np.float32)
    b = layer.b
    np.testing.assert_array_equal(b[5:10], 1.0)
    np.testing.assert_array_equal(np.delete(b, np.s_[5:10]), 0.0)
    for k in range(4):
        block = layer.Wh[:, 5 * k:5 * (k + 1)].astype(np.float64)
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-6)
    assert not np.allclose(layer.Wh[:, :5], layer.Wh[:, 5:10])  # each block its own draw
    np.testing.assert_array_equal(initial_bias("gru", 3), 0.0)
    np.testing.assert_array_equal(initial_bias("rnn", 3), 0.0)


def test_orthogonal_is_orthogonal_and_seeded() -> None:
    q = orthogonal(np.random.default_rng(9), 7)
    np.testing.assert_allclose(q.T @ q, np.eye(7), atol=1e-12)
    np.testing.assert_allclose(q @ q.T, np.eye(7), atol=1e-12)
    np.testing.assert_array_equal(q, orthogonal(np.random.default_rng(9), 7))


def test_recurrent_init_draws_per_block_from_the_initializer() -> None:
    """Wx's gate blocks each get fan_in n_in and fan_out units; Wh's blocks the config's
    initializer (units, units) only when orthogonal_wh is False."""
    calls: list[tuple[int, int]] = []
    base = INITIALIZERS.get("he")

    def sample(rng: np.random.Generator, shape: tuple[int, ...], i: int, o: int,
               s: float) -> np.ndarray:
        calls.append((i, o))
        return base.sample(rng, shape, i, o, s)

    init = type(base)("recording", sample, "")
    Wx, Wh = recurrent_init(np.random.default_rng(10), init, 0.0, 3, 6, 3, True)
    assert calls == [(3, 6)] * 3 and Wx.shape == (3, 18) and Wh.shape == (6, 18)
    calls.clear()
    Wx, Wh = recurrent_init(np.random.default_rng(10), init, 0.0, 3, 6, 3, False)
    assert calls == [(3, 6)] * 3 + [(6, 6)] * 3
    block = Wh[:, :6]
    assert not np.allclose(block.T @ block, np.eye(6), atol=0.1)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_same_seed_same_weights(kind: str) -> None:
    def build(seed: int) -> Any:
        return make_recurrent(np, kind, np.random.default_rng(seed), INITIALIZERS.get("glorot"),
                              0.0, (T, C), 4, np.float32)

    a, b, c = build(11), build(11), build(12)
    for n in a.param_names:
        np.testing.assert_array_equal(getattr(a, n), getattr(b, n))
    assert not np.array_equal(a.Wx, c.Wx) and not np.array_equal(a.Wh, c.Wh)


# 1-D convolution, pooling, per-step dense --------------------------------------------------------
def naive_conv1d(x: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int) -> np.ndarray:
    """The definition, one output step at a time: (m, T, C) -> (m, T', F)."""
    m, steps, c = x.shape
    f, _, k = W.shape
    xp = np.zeros((m, steps + 2 * p, c))
    xp[:, p:p + steps] = x
    to = (steps - k + 2 * p) // s + 1
    out = np.zeros((m, to, f))
    for t in range(to):
        window = xp[:, t * s:t * s + k]  # (m, k, C)
        out[:, t] = np.einsum("mkc,fck->mf", window, W) + b
    return out


@pytest.mark.parametrize(("k", "s", "padding"),
                         [(3, 1, "same"), (3, 2, "valid"), (5, 2, "same"), (1, 1, "valid"),
                          (2, 3, "valid")])
def test_conv1d_is_the_definition_and_its_gradients_check(k: int, s: int, padding: str) -> None:
    rng = np.random.default_rng(13)
    W, b = rng.normal(size=(4, C, k)), rng.normal(size=4)
    layer = Conv1D(np, W, b, s, padding, (11, C))
    x = rng.normal(size=(M, 11, C))
    p = (k - 1) // 2 if padding == "same" else 0
    want = naive_conv1d(x, W, b, s, p)
    assert layer.shape == want.shape[1:]
    np.testing.assert_allclose(layer.forward(x, False), want, atol=1e-12)
    check_layer(layer, x, rng)


def test_conv1d_same_keeps_the_length_and_refuses_an_even_kernel() -> None:
    rng = np.random.default_rng(14)
    layer = Conv1D(np, rng.normal(size=(3, 2, 5)), rng.normal(size=3), 1, "same", (12, 2))
    assert layer.shape == (12, 3)
    assert layer.forward(rng.normal(size=(M, 12, 2)), False).shape == (M, 12, 3)
    with pytest.raises(ValueError, match="odd kernel"):
        Conv1D(np, rng.normal(size=(3, 2, 4)), None, 1, "same", (12, 2))


@pytest.mark.parametrize("cls", [MaxPool1D, AvgPool1D])
def test_pool1d_windows_and_gradients(cls: Any) -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(M, 11, C))  # 11 steps, size 3: the last two are dropped
    layer = cls(np, 3, (11, C))
    assert layer.shape == (3, C)
    out = layer.forward(x, True)
    windows = x[:, :9].reshape(M, 3, 3, C)
    np.testing.assert_allclose(out, windows.max(axis=2) if cls is MaxPool1D
                               else windows.mean(axis=2))
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dx[:, 9:], 0.0)
    check_layer(layer, x, rng)


def test_max_pool1d_sends_a_tie_to_the_first() -> None:
    layer = MaxPool1D(np, 2, (4, 1))
    x = np.array([[[1.0], [1.0], [0.0], [2.0]]])
    out = layer.forward(x, True)
    np.testing.assert_array_equal(out[0, :, 0], [1.0, 2.0])
    np.testing.assert_array_equal(layer.backward(np.array([[[5.0], [7.0]]]))[0, :, 0],
                                  [5.0, 0.0, 0.0, 7.0])


def test_per_step_dense_is_dense_at_every_step() -> None:
    rng = np.random.default_rng(16)
    W, b = rng.normal(size=(C, 5)), rng.normal(size=5)
    layer = PerStep(np, W, b, steps=T)
    assert layer.shape == (T, 5)
    x = rng.normal(size=(M, T, C))
    out = layer.forward(x, True)
    dense = Dense(np, W, b)
    for t in range(T):
        np.testing.assert_allclose(out[:, t], dense.forward(x[:, t], False), atol=1e-12)
    check_layer(layer, x, rng)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(("c", "h"), [(1, 8), (3, 16), (9, 4)])
def test_gradients_with_and_without_the_folded_input(kind: str, c: int, h: int) -> None:
    """A step's product takes x_t and the bias too where the input is narrow beside the
    units (c=1, h=8 and c=3, h=16 fold; c=9, h=4 does not): both ways check, against
    the reference and central differences."""
    rng = np.random.default_rng(17)
    for seq in (False, True):
        layer = layer_of(kind, rng, seq, c=c, h=h, scale=0.4)
        assert layer._folds(c) == (4 * (c + 1) <= h)
        x = rng.normal(size=(2, 5, c))
        out = layer.forward(x, False)
        np.testing.assert_allclose(out[:, -1] if seq else out, reference(layer, x)[:, -1],
                                   atol=1e-12)
        check_layer(layer, x, rng)


def test_every_layer_runs_under_a_strict_cupy_stand_in_and_agrees_with_numpy() -> None:
    """Through xp only: no NumPy array mixed in, no NumPy function on a device array."""
    from tests.test_engine_conv import StrictArray, strict_module

    xp = strict_module(np, "strictnp")
    rng = np.random.default_rng(18)
    x = rng.normal(size=(M, 8, 3)).astype(np.float32)
    builders = [
        lambda q: make_recurrent(q, "rnn", np.random.default_rng(0), INITIALIZERS.get("he"),
                                 0.0, (8, 3), 5, np.float32, "relu", True),
        lambda q: make_recurrent(q, "lstm", np.random.default_rng(0),
                                 INITIALIZERS.get("glorot"), 0.0, (8, 3), 5, np.float32),
        lambda q: make_recurrent(q, "lstm", np.random.default_rng(0),
                                 INITIALIZERS.get("glorot"), 0.0, (8, 3), 16, np.float32,
                                 return_sequences=True),  # the folded input
        lambda q: make_recurrent(q, "gru", np.random.default_rng(0),
                                 INITIALIZERS.get("glorot"), 0.0, (8, 3), 5, np.float32,
                                 return_sequences=True),
        lambda q: make_recurrent(q, "gru", np.random.default_rng(0),
                                 INITIALIZERS.get("glorot"), 0.0, (8, 3), 16, np.float32),
        lambda q: Conv1D(q, q.asarray(rng.normal(size=(4, 3, 3)).astype(np.float32)),
                         q.zeros(4, dtype=np.float32), 2, "same", (8, 3)),
        lambda q: MaxPool1D(q, 3, (8, 3)),
        lambda q: AvgPool1D(q, 3, (8, 3)),
        lambda q: PerStep(q, q.asarray(np.ones((3, 2), np.float32)), q.zeros(2, np.float32)),
    ]
    for build in builders:
        ref, dev = build(np), build(xp)
        if isinstance(dev, Conv1D):  # the same weights on both sides
            ref.W[...] = dev.W.get()
        out, dout = ref.forward(x, True), dev.forward(xp.asarray(x), True)
        assert isinstance(dout, StrictArray)
        np.testing.assert_allclose(dout.get(), out, rtol=1e-5, atol=1e-6)
        R = rng.normal(size=out.shape).astype(np.float32)
        np.testing.assert_allclose(dev.backward(xp.asarray(R)).get(), ref.backward(R),
                                   rtol=1e-5, atol=1e-6)
        for n in ref.param_names:
            np.testing.assert_allclose(dev.grads[n].get(), ref.grads[n], rtol=1e-4, atol=1e-6)
        if hasattr(dev, "trace"):
            assert isinstance(dev.trace(xp.asarray(x))["states"], StrictArray)
            assert isinstance(dev.state_grad, StrictArray)


@pytest.mark.parametrize(("kind", "act"), CASES)
def test_one_step_and_changing_batch_and_length(kind: str, act: str | None) -> None:
    """T = 1 (no recurrence at all) and batches of other sizes and lengths between calls:
    the kept buffers follow the shape."""
    rng = np.random.default_rng(19)
    for seq in (False, True):
        layer = layer_of(kind, rng, seq, act or "tanh")
        for m, steps in ((2, 1), (5, 7), (3, 2), (5, 7)):
            x = rng.normal(size=(m, steps, C))
            np.testing.assert_allclose(layer.forward(x, False)[:, -1] if seq
                                       else layer.forward(x, False),
                                       reference(layer, x)[:, -1], atol=1e-12)
            if steps == 1:
                check_layer(layer, x, rng)


@pytest.mark.parametrize("steps_per_chunk", [1, 2, 3])
@pytest.mark.parametrize(("c", "h"), [(1, 8), (9, 4)])
def test_lstm_weight_gradients_in_chunks_of_steps(monkeypatch: pytest.MonkeyPatch,
                                                  steps_per_chunk: int, c: int,
                                                  h: int) -> None:
    """The LSTM sums its weight gradients a chunk of steps at a time: chunks of 1, 2 and
    3 steps over T = 7 (the last one short) give the finite differences' gradients."""
    from backend.engine import recurrent

    monkeypatch.setattr(recurrent, "_LSTM_CHUNK", steps_per_chunk * 4 * h * 2)
    rng = np.random.default_rng(20)
    for seq in (False, True):
        layer = layer_of("lstm", rng, seq, c=c, h=h, scale=0.4)
        check_layer(layer, rng.normal(size=(2, 7, c)), rng)


def test_evaluation_buffers_are_not_kept() -> None:
    """An evaluation may cover a whole data set: the layer keeps no buffer of its size."""
    rng = np.random.default_rng(21)
    for kind in ("rnn", "lstm", "gru"):
        layer = layer_of(kind, rng, True)
        layer.forward(rng.normal(size=(M, T, C)), True)
        kept = sum(a.nbytes for a in layer._bufs.values())
        layer.forward(rng.normal(size=(500, T, C)), False)
        layer.trace(rng.normal(size=(500, T, C)))
        assert sum(a.nbytes for a in layer._bufs.values()) == kept
