"""Every lesson's claim really happens when its presets run."""

from __future__ import annotations

import numpy as np
import pytest

from backend.experiments.config import parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.lessons import LESSONS


def run(lesson: str) -> list[Experiment]:
    out = []
    for preset in LESSONS[lesson].presets:
        exp = Experiment("lesson", parse_config(preset.config))
        exp.train_epochs(preset.epochs)
        out.append(exp)
    return out


def test_every_lesson_has_a_test() -> None:
    tested = {name.removeprefix("test_lesson_").replace("_", "-") for name in globals()
              if name.startswith("test_lesson_")}
    assert tested == set(LESSONS)


def test_lesson_linear() -> None:
    gauss, circle, hidden = (e.metrics["test_accuracy"] for e in run("linear"))
    assert gauss >= 0.95 and circle <= 0.7 and hidden >= 0.95


def test_lesson_xor() -> None:
    plain, product, hidden = (e.metrics["test_accuracy"] for e in run("xor"))
    assert 0.3 <= plain <= 0.7 and product >= 0.95 and hidden >= 0.9


def test_lesson_initialization() -> None:
    zeros, small, he = run("initialization")
    W = zeros.model.dense_layers[1].W
    assert np.allclose(W, W[0, 0])  # every unit identical: symmetry never broken
    assert zeros.metrics["train_loss"] == pytest.approx(np.log(2), abs=0.01)
    assert small.metrics["train_loss"] > 0.6  # still barely moving
    assert he.metrics["train_loss"] < 0.1 and he.metrics["test_accuracy"] >= 0.95


def test_lesson_learning_rate() -> None:
    small, right, large = run("learning-rate")
    start = small.history.rows[0]["train_loss"]
    assert small.metrics["train_loss"] > 0.5 * start  # barely moved in 100 epochs
    assert right.metrics["train_loss"] < 0.05 * start
    assert large.status == "diverged" and "learning rate" in large.message


def test_lesson_overfitting() -> None:
    plain, l2, dropout = (e.metrics for e in run("overfitting"))
    assert plain["train_loss"] < 0.05 and plain["test_loss"] > 10 * plain["train_loss"] + 1
    for regularized in (l2, dropout):
        assert regularized["test_loss"] < plain["test_loss"] / 2
        assert regularized["test_accuracy"] > plain["test_accuracy"]


def test_lesson_mini_batch() -> None:
    mini, full = run("mini-batch")
    assert mini.metrics["train_loss"] < 0.6 * full.metrics["train_loss"]


def test_lesson_optimizers() -> None:
    sgd, momentum, adam = (e.metrics["train_loss"] for e in run("optimizers"))
    assert momentum < 0.7 * sgd and adam < 0.3 * sgd


def test_lesson_vanishing_gradients() -> None:
    sigmoid, relu, normed = run("vanishing-gradients")
    norms = sigmoid.model.grad_norms()
    assert norms[0] < 1e-3 * norms[-1]
    assert sigmoid.metrics["test_accuracy"] <= 0.6
    assert relu.metrics["test_accuracy"] >= 0.95 and normed.metrics["test_accuracy"] >= 0.95


def test_lesson_multi_class() -> None:
    blobs, spiral = run("multi-class")
    assert blobs.data.n_classes == 4 and blobs.metrics["test_accuracy"] >= 0.9
    assert spiral.data.n_classes == 3 and spiral.metrics["test_accuracy"] >= 0.85
