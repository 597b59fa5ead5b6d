"""The fast lane of Model.train_batch (backend/engine/fused.py) trains exactly as the
general path does: the same bytes in every weight, optimizer slot and random stream."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.engine import Model, ModelSpec, fused
from backend.engine.group import Group

RNG = np.random.default_rng(5)
X = RNG.standard_normal((250, 7)).astype(np.float32)
LABELS = {"binary": (X[:, 0] * X[:, 1] > 0).astype(np.int64),
          "three": np.digitize(X[:, 2], [-0.5, 0.5]).astype(np.int64),
          "values": (X[:, 0] - 2 * X[:, 3]).astype(np.float64)}


def hidden(*layers: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"units": u, "activation": a} for u, a in layers]


CASES: list[tuple[dict[str, Any], str]] = [
    ({"hidden": hidden(*[(8, "tanh")] * 6)}, "binary"),
    ({"hidden": hidden((8, "relu"), (8, "relu"), (8, "sigmoid"))}, "binary"),
    ({"hidden": hidden((1, "tanh"), (2, "elu"), (2, "gelu"), (3, "softplus"))}, "binary"),
    ({"hidden": hidden((8, "swish"), (4, "leaky_relu"), (4, "linear")), "n_classes": 3},
     "three"),
    ({"hidden": []}, "binary"),
    ({"hidden": [], "n_classes": 3}, "three"),
    ({"hidden": [], "problem": "regression"}, "values"),
    ({"hidden": hidden((8, "tanh"), (8, "tanh")), "problem": "regression", "loss": "huber"},
     "values"),
    ({"hidden": hidden((8, "relu"), (8, "relu")), "output_activation": "tanh",
      "loss": "hinge"}, "binary"),
    ({"hidden": hidden((8, "tanh"),) * 3, "regularization": "elastic_net",
      "regularization_rate": 0.01}, "binary"),
    ({"hidden": hidden((8, "relu"), (4, "tanh")), "dropout": 0.3, "optimizer": "adam"},
     "binary"),
    ({"hidden": hidden((8, "tanh"),) * 3, "dtype": "float64", "optimizer": "nadam",
      "decay": 0.5}, "binary"),
    ({"hidden": hidden((8, "relu"),) * 3, "learning_rate": 1e6}, "binary"),  # NaN and inf
]


def trained(spec: ModelSpec, y: np.ndarray, batch: int | str, fast: bool) -> Model:
    model = Model(spec)
    assert model._fast is not None  # every case here fits the fast lane
    if not fast:
        model._fast = None
    for _ in range(3):
        model.fit_epoch(X, y, batch)
    return model


def same(a: Model, b: Model) -> None:
    assert [x.tobytes() for x in a.state_arrays()] == [x.tobytes() for x in b.state_arrays()]
    assert (a.optimizer.t, a.epoch) == (b.optimizer.t, b.epoch)
    assert a.dropout_rng.bit_generator.state == b.dropout_rng.bit_generator.state
    assert np.array_equal(a.grad_norms(), b.grad_norms(), equal_nan=True)


@pytest.mark.parametrize("batch", [1, 7, 10, "full"])
@pytest.mark.parametrize(("options", "labels"), CASES)
def test_the_fast_lane_trains_as_the_general_path_bit_for_bit(
        options: dict[str, Any], labels: str, batch: int | str) -> None:
    spec = ModelSpec(n_inputs=7, seed=3, **{"learning_rate": 0.05, **options})
    fast = trained(spec, LABELS[labels], batch, fast=True)
    assert fast.dense_layers[0].W.base is fast._fast.P  # it did take the lane
    same(fast, trained(spec, LABELS[labels], batch, fast=False))


def test_batches_past_the_buffer_budget_take_the_general_path_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(n_inputs=7, hidden=hidden((8, "tanh"),) * 3, seed=1)
    alone = trained(spec, LABELS["binary"], 7, fast=False)
    monkeypatch.setattr(fused, "MAX_BATCH_BYTES", 3000)  # batches of 7 no, the last 5 yes
    mixed = trained(spec, LABELS["binary"], 7, fast=True)
    assert list(mixed._fast.batches) == [5]
    same(mixed, alone)


def test_a_model_lent_to_a_group_steps_alone_on_the_groups_arrays_then_takes_them_back() -> None:
    spec = ModelSpec(n_inputs=7, hidden=hidden((8, "tanh"),) * 2, optimizer="momentum")
    models = [Model(spec), Model(spec)]
    twin = Model(spec)
    twin._fast = None
    group = Group(models)
    runs = [m.epoch_steps(X, LABELS["binary"], 10) for m in models]
    run = twin.epoch_steps(X, LABELS["binary"], 10)
    with np.errstate(all="ignore"):
        group.step(runs)
        next(run)
        next(runs[0])  # alone while lent: on the group's stacks
        next(run)
        assert models[0].dense_layers[0].W.base is group.params[0]
        group.release()
        for _ in runs[0]:
            pass
        for _ in run:
            pass
    assert models[0].dense_layers[0].W.base is models[0]._fast.P  # its own flat buffer again
    same(models[0], twin)
