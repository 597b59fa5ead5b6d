"""Networks of one shape trained as one program (backend/engine/group.py): each ends with
the weights it would have alone, whatever its optimizer, rate, penalty, dropout or place
in its epoch, and one that diverges changes nothing for the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.engine import Backend, Model, ModelSpec
from backend.engine.group import Group, group_key
from backend.engine.model import Epoch

from .test_engine_conv import StrictArray, strict_module

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "nadam"]
PENALTIES = [("none", 0.0, {}), ("l2", 0.01, {}), ("l1", 0.003, {}),
             ("elastic_net", 0.005, {"l1_ratio": 0.3}), ("l2", 0.0, {})]
N, BATCH = 60, 6


def spec(i: int, optimizer: str, **over: Any) -> ModelSpec:
    """Member i: its own seed, rate, decay, penalty, dropout and hyperparameters."""
    reg, rate, params = PENALTIES[i % len(PENALTIES)]
    hyper = {"momentum": {"ema": float(i % 2), "momentum": 0.8 + 0.05 * (i % 3)},
             "nesterov": {"momentum": 0.85 + 0.03 * i}, "rmsprop": {"rho": 0.9 - 0.05 * i},
             "adam": {"beta1": 0.9 - 0.1 * (i % 2)}}.get(optimizer, {})
    base: dict[str, Any] = {
        "n_inputs": 5, "hidden": [{"units": 7, "activation": "tanh"},
                                  {"units": 6, "activation": "relu"},
                                  {"units": 4, "activation": "sigmoid"}],
        "optimizer": optimizer, "optimizer_params": hyper,
        "learning_rate": 0.02 * (i + 1) if optimizer not in ("adadelta",) else 1.0,
        "decay": 0.1 * i, "regularization": reg, "regularization_rate": rate,
        "regularization_params": params, "dropout": (0.0, 0.25, 0.1)[i % 3], "seed": i}
    return ModelSpec(**{**base, **over})


def data(i: int, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(100 + i)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


class Twin:
    """A network trained alone and its twin trained in a group, epoch after epoch."""

    def __init__(self, i: int, make: Any, n: int = N, batch: int = BATCH) -> None:
        self.x, self.y = data(i, n)
        self.batch = batch
        self.alone, self.grouped = make(i), make(i)
        self.runs = [self._epoch(self.alone), self._epoch(self.grouped)]

    def _epoch(self, model: Model) -> Epoch:
        return model.epoch_steps(self.x, self.y, self.batch)

    def current(self) -> tuple[Epoch, Epoch]:
        """The epochs in progress, a new one where the last finished."""
        for j, model in enumerate((self.alone, self.grouped)):
            if self.runs[j].finished:
                self.runs[j] = self._epoch(model)
        return self.runs[0], self.runs[1]

    def both_alone(self, batches: int) -> None:
        for _ in range(batches):
            for run in self.current():
                next(run)

    def assert_same(self) -> None:
        a, b = self.alone, self.grouped
        assert (a.epoch, a.optimizer.t) == (b.epoch, b.optimizer.t)
        assert a.shuffle_rng.bit_generator.state == b.shuffle_rng.bit_generator.state
        assert a.dropout_rng.bit_generator.state == b.dropout_rng.bit_generator.state
        for x, y in zip(a.state_arrays(), b.state_arrays(), strict=True):
            np.testing.assert_allclose(np.asarray(y), x, rtol=1e-5, atol=1e-7)


def train_together(twins: list[Twin], batches: int, group: Group | None = None) -> Group:
    """`batches` steps: the alone ones by next(), the others as one group."""
    group = group or Group([t.grouped for t in twins])
    with np.errstate(all="ignore"):
        for _ in range(batches):
            runs = [t.current() for t in twins]
            for alone, _ in runs:
                next(alone)
            group.step([grouped for _, grouped in runs])
    return group


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_network_in_a_group_ends_with_the_weights_it_would_have_alone(
        optimizer: str) -> None:
    """Five networks, each with its own data, seed, learning rate and decay, penalty
    (none, L2, L1, elastic net, a rate of 0), dropout and hyperparameters, at different
    places in different epochs when they meet: several epochs as a group give each the
    weights, optimizer state, step count and random streams of its training alone."""
    twins = [Twin(i, lambda i: Model(spec(i, optimizer))) for i in range(5)]
    for i, twin in enumerate(twins):  # 0, 1 epoch and some batches, alone
        twin.both_alone(i * 4)
    assert len({group_key(t.grouped, N, BATCH) for t in twins}) == 1
    assert len({(t.runs[1].start, t.grouped.epoch) for t in twins}) > 3
    group = train_together(twins, 4 * N // BATCH)
    for twin in twins:
        twin.assert_same()
    assert [t.grouped.epoch for t in twins] == [4, 4, 4, 5, 5]
    # a member alone, then back in its group, then released: still the same as alone
    twins[2].both_alone(3)
    train_together(twins, 7, group)
    group.release()
    for twin in twins:
        twin.both_alone(5)
        twin.assert_same()


def test_a_released_model_owns_its_arrays_again() -> None:
    twins = [Twin(i, lambda i: Model(spec(i, "adam"))) for i in range(3)]
    group = train_together(twins, 5)
    first = twins[0].grouped
    assert first.dense_layers[0].W.base is group.params[0]  # a view of the stack
    group.release()
    assert all(layer.W.base is None and layer.b.base is None for t in twins
               for layer in t.grouped.dense_layers)
    assert all(s.base is None for t in twins for slots in t.grouped.optimizer.state
               for s in slots)
    before = np.array(twins[1].grouped.dense_layers[0].W)
    first.dense_layers[0].W[...] = 0.0
    assert np.array_equal(twins[1].grouped.dense_layers[0].W, before)


def test_a_network_that_diverges_in_a_group_diverges_as_alone_and_alone() -> None:
    """A rate of 1e6 turns one member's weights to NaN: exactly as alone (NaN where its
    twin has NaN), while the others keep the finite weights they would have alone."""
    def make(i: int) -> Model:
        return Model(spec(i, "momentum", learning_rate=1e6 if i == 1 else 0.05, decay=0.0))

    twins = [Twin(i, make) for i in range(4)]
    train_together(twins, 3 * N // BATCH)
    wild = twins[1]
    assert not all(np.isfinite(a).all() for a in wild.alone.params())
    wild.assert_same()  # NaN where alone has NaN (assert_allclose: equal_nan)
    for twin in twins[:1] + twins[2:]:
        assert all(np.isfinite(a).all() for a in twin.grouped.state_arrays())
        twin.assert_same()


def test_uneven_batches_step_together_only_in_step() -> None:
    """With 50 points in batches of 6 the last batch has 2: networks at different places
    cannot stack their batches (their keys differ); at the same place they can, the
    short batch included."""
    make = lambda i: Model(spec(i, "rmsprop"))  # noqa: E731
    twins = [Twin(i, make, n=50) for i in range(3)]
    keys = {group_key(t.grouped, 50, BATCH, t.runs[1].start) for t in twins}
    assert len(keys) == 1
    train_together(twins, 3 * 9 + 4)  # 9 batches an epoch, the last of 2
    for twin in twins:
        twin.assert_same()
    twins[0].both_alone(1)
    starts = [t.runs[1].start for t in twins]
    assert group_key(twins[0].grouped, 50, BATCH, starts[0]) != \
        group_key(twins[1].grouped, 50, BATCH, starts[1])
    with pytest.raises(ValueError, match="differ in size"):
        Group([t.grouped for t in twins]).step([t.runs[1] for t in twins])


def test_what_a_group_shares() -> None:
    """Rate, penalty, dropout, seed and hyperparameters may differ within a group; the
    layers, input width, problem and head, optimizer kind, dtype, epoch length and batch
    size may not, and batch norm and convolutions are not grouped at all."""
    key = group_key(Model(spec(0, "adam")), N, BATCH)
    assert key is not None
    for i in range(1, 5):
        assert group_key(Model(spec(i, "adam")), N, BATCH) == key
    others = [spec(0, "sgd"), spec(0, "adam", hidden=[{"units": 7, "activation": "tanh"}] * 3),
              spec(0, "adam", n_inputs=4), spec(0, "adam", n_classes=3),
              spec(0, "adam", loss="mse"), spec(0, "adam", dtype="float64"),
              spec(0, "adam", output_activation="linear", loss="mse"),
              spec(0, "adam", problem="regression", n_classes=1)]  # linear + mse too
    keys = [group_key(Model(s), N, BATCH) for s in others]
    assert None not in keys and len({key, *keys}) == len(others) + 1  # all differ
    assert group_key(Model(spec(0, "adam")), N + 6, BATCH) != key
    assert group_key(Model(spec(0, "adam")), N, "full") != key
    assert group_key(Model(spec(0, "adam", batch_norm=True)), N, BATCH) is None
    conv = ModelSpec(n_inputs=16, input_shape=(1, 4, 4), hidden=[
        {"type": "conv", "filters": 2, "kernel": 3}, {"units": 3}])  # type: ignore[list-item]
    assert group_key(Model(conv), N, BATCH) is None


def test_a_group_runs_under_a_strict_cupy_stand_in_and_agrees_with_numpy() -> None:
    """On a GPU the group's arrays never mix with NumPy ones (CuPy refuses that), and it
    trains as on the CPU."""
    device = Backend(strict_module(np, "strictnp"), "gpu")
    twins = [Twin(i, lambda i: Model(spec(i, "nadam"), device)) for i in range(3)]
    for twin in twins:
        twin.alone = Model(spec(twins.index(twin), "nadam"))
        twin.runs[0] = twin.alone.epoch_steps(twin.x, twin.y, BATCH)
    assert isinstance(twins[0].grouped.params()[0], StrictArray)
    train_together(twins, 2 * N // BATCH + 3)
    for twin in twins:
        for a, b in zip(twin.alone.state_arrays(), twin.grouped.state_arrays(), strict=True):
            np.testing.assert_allclose(b.get(), a, rtol=1e-5, atol=1e-7)


def test_a_group_scores_its_members_as_each_scores_itself() -> None:
    """One batched pass gives each member (all, or some) Model.evaluate's numbers, for
    classification and regression."""
    for over in ({}, {"problem": "regression", "n_classes": 1}):
        twins = [Twin(i, lambda i, over=over: Model(spec(i, "sgd", **over))) for i in range(4)]
        group = train_together(twins, 13)
        xs = [data(10 + i, 40)[0] for i in range(4)]
        ys = [x[:, 2] if over else (x[:, 2] > 0).astype(int) for x in xs]
        for members in ([0, 1, 2, 3], [1, 3]):
            scores = group.evaluate(members, [xs[k] for k in members], [ys[k] for k in members])
            assert scores == [twins[k].grouped.evaluate(xs[k], ys[k]) for k in members]
            assert scores == [twins[k].alone.evaluate(xs[k], ys[k]) for k in members]
