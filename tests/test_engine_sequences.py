"""Whole sequence models: built from their layer entries, gradient-checked end to end
(conv and pool along time, recurrent layers, dense at every step, outputs per step),
clipping, tracing that changes nothing, counts, and a strict CuPy stand-in."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from backend.engine import Backend, Model, ModelSpec, get_backend, gradient_check
from backend.engine.model import clip_global_norm

from .test_engine_conv import strict_module

STACKS: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "conv-pool-lstm-steps-gru": ([
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "tanh"},
        {"type": "pool", "kind": "avg", "size": 2},
        {"type": "lstm", "units": 4, "return_sequences": True},
        {"units": 3, "activation": "sigmoid"},
        {"type": "gru", "units": 3}], False),
    "rnn-per-step": ([{"type": "rnn", "units": 4, "activation": "tanh",
                       "return_sequences": True}], True),
    "gru-steps-dense-per-step": ([{"type": "gru", "units": 3, "return_sequences": True},
                                  {"units": 2, "activation": "tanh"}], True),
    "dense-flattens-the-input": ([{"units": 4}], False),
    "conv-valid-stride-then-dense": ([{"type": "conv", "filters": 2, "kernel": 3,
                                       "stride": 2, "padding": "valid"},
                                      {"units": 3}], False),
}


def spec(name: str, **over: Any) -> ModelSpec:
    hidden, per_step = STACKS[name]
    problem = "regression" if per_step else "classification"
    return ModelSpec(**{"n_inputs": 16, "input_shape": (8, 2), "hidden": hidden,
                        "problem": problem, "n_classes": 3, "per_step": per_step,
                        "optimizer": "adam", "learning_rate": 0.01, **over})


def data(name: str, m: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, 8, 2))
    y = rng.normal(size=(m, 8)) if STACKS[name][1] else rng.integers(0, 3, m)
    return x, y


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_whole_sequence_models_check_against_finite_differences(name: str,
                                                                batch_norm: bool) -> None:
    model = Model(spec(name, batch_norm=batch_norm, dtype="float64",
                       regularization="l2", regularization_rate=0.01))
    x, y = data(name)
    report = gradient_check(model, x, y, max_checks=40)
    assert report["relative_difference"] < 1e-6, report


@pytest.mark.parametrize("name", STACKS)
def test_counts_from_the_entries_are_the_built_models(name: str) -> None:
    s = spec(name)
    params, mults = s.counts(1 if s.problem == "regression" else 3)
    assert params == Model(s).summary()["trainable_params"]
    assert mults > 0


def test_per_step_outputs_and_targets() -> None:
    model = Model(spec("rnn-per-step"))
    x, y = data("rnn-per-step", m=6)
    assert model.forward(model.as_x(x)).shape == (6, 8, 1)
    assert model.targets(y).shape == (6, 8, 1)
    before = model.loss(x, y)
    for _ in range(60):
        model.fit_epoch(x, y, 3)
    assert model.loss(x, y) < before / 2
    assert model.predict(x).shape == (6, 8, 1)


def test_clipping_bounds_the_global_norm_and_keeps_the_direction() -> None:
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 4)) * 10, rng.normal(size=5) * 10]
    before = [g.copy() for g in grads]
    norm = clip_global_norm(np, grads, 2.0)
    assert norm == pytest.approx(np.sqrt(sum((g ** 2).sum() for g in before)))
    assert np.sqrt(sum((g ** 2).sum() for g in grads)) == pytest.approx(2.0)
    for g, b in zip(grads, before, strict=True):
        np.testing.assert_allclose(g, b * 2.0 / norm)
    small = [np.ones(2) * 0.1]
    clip_global_norm(np, small, 2.0)
    np.testing.assert_array_equal(small[0], np.ones(2) * 0.1)  # under the limit: as it was


def test_a_clipped_step_moves_the_weights_by_at_most_the_limit_with_sgd() -> None:
    s = spec("rnn-per-step", optimizer="sgd", learning_rate=1.0, clip_norm=0.05,
             recurrent_init="init", init="normal", init_scale=3.0)
    model = Model(s)
    x, y = data("rnn-per-step", m=4)
    before = [p.copy() for p in model.params()]
    model.train_batch(model.as_x(x), model.targets(y), 1.0)
    moved = np.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.params(), before,
                                                               strict=True)))
    assert moved == pytest.approx(0.05, rel=1e-4)
    assert model._fast is None  # a clipped model never takes the unclipped fast lane


def test_tracing_changes_nothing_that_training_left() -> None:
    model = Model(spec("gru-steps-dense-per-step", dropout=0.3, batch_norm=True))
    x, y = data("gru-steps-dense-per-step", m=6)
    model.fit_epoch(x, y, 3)
    snapshot, grads = model.snapshot(), [g.copy() for g in model.grads()]
    trace = model.sequence_trace(x[:2], y[:2])
    assert trace["gradient"].shape == (2, 8) and (trace["gradient"] > 0).all()
    assert trace["layers"][0]["states"].shape == (2, 8, 3)
    assert set(trace["layers"][0]["gates"]) == {"update", "reset", "candidate"}
    after = model.snapshot()
    for a, b in zip(snapshot.arrays, after.arrays, strict=True):
        np.testing.assert_array_equal(a, b)
    assert snapshot.rng == after.rng and snapshot.t == after.t
    for a, b in zip(grads, model.grads(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_gradient_through_time_is_each_examples_own() -> None:
    model = Model(spec("rnn-per-step", dtype="float64"))
    x, y = data("rnn-per-step", m=3)
    both = model.sequence_trace(x, y)["gradient"]
    for i in range(3):
        np.testing.assert_allclose(model.sequence_trace(x[i:i + 1], y[i:i + 1])["gradient"][0],
                                   both[i])


def test_a_sequence_model_runs_under_a_strict_cupy_stand_in_and_agrees_with_numpy() -> None:
    s = spec("conv-pool-lstm-steps-gru", dropout=0.2, batch_norm=True, clip_norm=1.0)
    x, y = data("conv-pool-lstm-steps-gru", m=12)
    ref, dev = Model(s), Model(s, Backend(strict_module(np, "strictnp"), "gpu"))
    for model in (ref, dev):
        model.fit_epoch(x, y, 4)
    for a, b in zip(ref.params(), dev.params(), strict=True):
        np.testing.assert_allclose(np.asarray(a), b.get(), rtol=1e-4, atol=1e-5)
    trace = dev.sequence_trace(x[:2], y[:2])
    assert type(trace["layers"][0]["states"]) is np.ndarray
    np.testing.assert_allclose(trace["gradient"], ref.sequence_trace(x[:2], y[:2])["gradient"],
                               rtol=1e-3, atol=1e-6)
    data_ = dev.to_dict()
    back = Model.from_dict(json.loads(json.dumps(data_)), get_backend("cpu"))
    assert back.loss(x, y) == pytest.approx(ref.loss(x, y), rel=1e-4)


def test_recurrent_evaluation_goes_in_chunks_with_the_same_answer() -> None:
    s = spec("gru-steps-dense-per-step", dtype="float64")
    model = Model(s)
    x, _ = data("gru-steps-dense-per-step", m=7)
    whole = model.forward(model.as_x(x))
    model._eval_chunk = 3  # as a big data set would get
    np.testing.assert_allclose(model.forward(model.as_x(x)), whole, rtol=1e-12)
    assert Model(spec("rnn-per-step"))._eval_chunk is not None  # bounded whatever the set


def test_the_penalty_counts_recurrent_weights_but_no_bias() -> None:
    s = spec("rnn-per-step", regularization="l2", regularization_rate=0.1, dtype="float64")
    model = Model(s)
    layer = model.recurrent_layers[0]
    assert [name for owner, name in model.weights if owner is layer] == ["Wx", "Wh"]
    expected = 0.1 * sum(model.regularizer.penalty(np, w, 0.5) for w in (
        layer.Wx, layer.Wh, model.layers[-1].W))
    assert model.penalty() == pytest.approx(expected)
