"""Every lesson's claim really happens when its presets run."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from backend.data import DATASETS
from backend.experiments.config import parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.lessons import LESSONS

ROOT = Path(__file__).resolve().parents[1]


def train(config: dict[str, Any], epochs: int) -> Experiment:
    exp = Experiment("lesson", parse_config(config))
    exp.train_epochs(epochs)
    return exp


def run(lesson: str) -> list[Experiment]:
    return [train(preset.config, preset.epochs) for preset in LESSONS[lesson].presets]


def reseeded(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same preset on another split of the data, from other starting weights."""
    return {**config, "seed": seed, "dataset": {**config["dataset"], "seed": seed}}


def stated_percentages(lesson: str) -> list[float]:
    """The "about N %" of a lesson's text, in order, as fractions."""
    return [int(n) / 100 for n in re.findall(r"about (\d+) %", LESSONS[lesson].text)]


def spelled(n: int) -> str:
    """A count as the lessons write it: 61 706."""
    return f"{n:,}".replace(",", " ")


def n_params(exp: Experiment) -> int:
    return exp.model.summary()["trainable_params"]


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


def test_lesson_dense_vs_conv() -> None:
    presets = LESSONS["dense-vs-conv"].presets
    dense, small, conv = run("dense-vs-conv")
    text = LESSONS["dense-vs-conv"].text
    counts = [n_params(e) for e in (dense, small, conv)]
    assert counts == [4810, 1210, 1370] and all(spelled(n) in text for n in counts)
    assert conv.model.summary()["layers"][0]["trainable_params"] == 80  # 8 x (3 x 3 + 1)
    assert 3 * n_params(conv) < n_params(dense)  # "under a third"
    accuracy = [e.metrics["test_accuracy"] for e in (dense, small, conv)]
    # the text's "about 97 %" (64 units), "about 98 %" (conv), "about 96 %" (16 units)
    stated = stated_percentages("dense-vs-conv")
    assert [accuracy[0], accuracy[2], accuracy[1]] == pytest.approx(stated, abs=0.01)
    assert accuracy[2] >= accuracy[0] > accuracy[1]
    # not one lucky split: on other splits, from other starting weights, the conv net
    # still does at least as well as the big dense net and better than the small one
    for seed in (1, 2):
        d, s, c = (train(reseeded(p.config, seed), p.epochs).metrics["test_accuracy"]
                   for p in presets)
        assert c >= d and c > s


# A line along each direction, and the direction at right angles to it.
LINES = {"-": ("horizontal line", "|"), "|": ("vertical line", "-"),
         "\\": ("diagonal \\", "/"), "/": ("diagonal /", "\\")}


def orientation(W: np.ndarray, direction: str) -> np.ndarray:
    """(filters, 1, k, k) -> per filter, in -1..1: near +1 for a stripe or edge along the
    direction (its weights change only across it), near -1 for one at right angles, near 0
    for speckle."""
    w = W[:, 0]
    steps = {"-": (w[:, :, 1:], w[:, :, :-1]), "|": (w[:, 1:], w[:, :-1]),
             "\\": (w[:, 1:, 1:], w[:, :-1, :-1]), "/": (w[:, 1:, :-1], w[:, :-1, 1:])}
    along, across = (((a - b) ** 2).sum(axis=(1, 2))
                     for a, b in (steps[direction], steps[LINES[direction][1]]))
    return (across - along) / (across + along)


def line_answers(exp: Experiment) -> dict[str, np.ndarray]:
    """Each first-layer filter's strongest answer (the peak of its feature map), averaged
    over the test set's lines of each direction."""
    d = exp.data
    peaks = exp.model.layer_outputs(d.x_test)[0].max(axis=(2, 3))
    return {direction: peaks[d.y_test == d.labels.index(name)].mean(axis=0)
            for direction, (name, _) in LINES.items()}


def best_ratios(answers: dict[str, np.ndarray]) -> list[float]:
    """Per direction, the most any filter answers its lines over those at right angles."""
    return [float((answers[d] / answers[LINES[d][1]]).max()) for d in LINES]


def cosine_to(W: np.ndarray, start: np.ndarray) -> np.ndarray:
    a, b = W.reshape(len(W), -1), start.reshape(len(start), -1)
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_lesson_first_filters() -> None:
    out = []
    for preset in LESSONS["first-filters"].presets:
        exp = Experiment("lesson", parse_config(preset.config))
        out.append((exp, exp.model.conv_layers[0].W.copy(), line_answers(exp)))
        exp.train_epochs(preset.epochs)
    (l2, start, answers0), (plain, plain_start, _) = out
    # random speckle at the start: no filter has a direction or answers one line twice as
    # strongly as the line at right angles
    assert all(np.abs(orientation(start, d)).max() < 0.5 for d in LINES)
    assert max(best_ratios(answers0)) < 2
    # trained with L2: for each of the four directions a stripe along it, and a filter that
    # answers its lines at least 3 times as strongly as those at right angles
    W = l2.model.conv_layers[0].W
    assert all(orientation(W, d).max() > 0.9 for d in LINES)
    assert min(best_ratios(line_answers(l2))) >= 3
    # without L2: nearly as accurate, but the filters stay close to their random start
    # and none is that clean a stripe
    stated = stated_percentages("first-filters")  # "about 94 % ... against about 96 %"
    assert [plain.metrics["test_accuracy"], l2.metrics["test_accuracy"]] == \
        pytest.approx(stated, abs=0.01)
    assert cosine_to(plain.model.conv_layers[0].W, plain_start).mean() > 0.7
    assert cosine_to(W, start).mean() < 0.5
    assert all(orientation(plain.model.conv_layers[0].W, d).max() < 0.9 for d in LINES)
    # not one lucky start: they form from other weights, on other shapes, too
    preset = LESSONS["first-filters"].presets[0]
    assert min(best_ratios(line_answers(train(reseeded(preset.config, 1), preset.epochs)))) >= 3


LENET5 = [{"type": "conv", "filters": 6, "kernel": 5, "padding": "valid", "activation": "tanh"},
          {"type": "pool", "kind": "avg", "size": 2},
          {"type": "conv", "filters": 16, "kernel": 5, "padding": "valid", "activation": "tanh"},
          {"type": "pool", "kind": "avg", "size": 2},
          {"units": 120, "activation": "tanh"}, {"units": 84, "activation": "tanh"}]


def test_lesson_lenet_5() -> None:
    text = LESSONS["lenet-5"].text
    preset = LESSONS["lenet-5"].presets[0].config
    layers = parse_config({**preset, "hidden_layers": LENET5}).hidden_layers
    assert parse_config(preset).hidden_layers == layers and preset["dataset"]["side"] == 32
    # at the digits' own 8 x 8 the second conv does not fit, as the text says
    with pytest.raises(ValidationError, match="5x5 kernel does not fit its 2x2 input"):
        parse_config({**preset, "dataset": {"name": "digits"}})
    (lenet,) = run("lenet-5")
    summary = lenet.model.summary()
    maps = [r["output_shape"][1:] for r in summary["layers"] if r["kind"] in ("conv", "avg_pool")]
    assert maps == [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5]]  # the text's maps
    params = {kind: [r["trainable_params"] for r in summary["layers"] if r["kind"] == kind]
              for kind in ("conv", "dense")}
    assert summary["trainable_params"] == 61706 and spelled(61706) in text
    assert params["dense"][0] == 48120 and spelled(48120) in text
    assert sum(params["conv"]) == 2572 and spelled(2572) in text
    assert lenet.history.rows[0]["train_loss"] == pytest.approx(math.log(10), abs=0.05)
    (stated,) = stated_percentages("lenet-5")
    assert lenet.metrics["test_accuracy"] == pytest.approx(stated, abs=0.01)
    # not one lucky start: another split and other weights learn as well
    other = train(reseeded(preset, 1), LESSONS["lenet-5"].presets[0].epochs)
    assert other.metrics["test_accuracy"] >= stated - 0.015


def test_the_pages_what_to_try_diverges_where_it_says() -> None:
    """Bug: the page's "What to try" said "set the learning rate to 3 and watch it diverge",
    which the default data (the circle) never does: tanh and a sigmoid output saturate. It
    names its data now, and there, from the page's default network, the run diverges."""
    page = (ROOT / "templates" / "index.html").read_text()
    said = re.search(r"on ([^,;]+), set the learning rate to ([\d.]+) and watch it\s+diverge",
                     page)
    assert said, "the claim is gone from the page: keep this test in step with it"
    label, lr = said.group(1), float(said.group(2))
    (name,) = [d.name for d in DATASETS.values() if d.label == label]
    config = {"problem": DATASETS[name].problem, "dataset": {"name": name},
              "optimizer": {"learning_rate": lr}}
    exp = train(config, 20)
    assert exp.status == "diverged" and "learning rate" in exp.message
    # and the lesson's third preset says the same with its own network
    large = LESSONS["learning-rate"].presets[2]
    assert large.config["optimizer"]["learning_rate"] == lr
    assert large.config["dataset"]["name"] == name


# Sequences ----------------------------------------------------------------------------------
def per_step_error(exp: Experiment, n: int = 50) -> np.ndarray:
    """Mean |prediction - target| at each step over n test waves, as the /sequence view
    (Experiment.sequence_view) gives them to the page."""
    views = [exp.sequence_view(k) for k in range(n)]
    return np.mean([np.abs(np.array(v["output"])[:, 0] - np.array(v["target"]))
                    for v in views], axis=0)


def test_lesson_rnn_sine() -> None:
    """Checked on seeds 0, 1, 2 (other waves, other starting weights): tanh test loss 0.0020
    to 0.0024, sigmoid 0.0042 to 0.0065 (1.7 to 3.2 times tanh's); repeating the current
    value 0.048 to 0.051; error at the first step 0.19 to 0.20, at most 0.021 to 0.027 from
    the eighth on. Seed 0 here, seed 1 below."""
    text = LESSONS["rnn-sine"].text
    presets = LESSONS["rnn-sine"].presets
    for seed in (0, 1):
        tanh, sigmoid = (train(reseeded(p.config, seed), p.epochs) for p in presets)
        assert [p.config["hidden_layers"][0]["activation"] for p in presets] == \
            ["tanh", "sigmoid"]
        assert tanh.config.optimizer.clip_norm == 1.0
        loss, d = tanh.metrics["test_loss"], tanh.data
        squared = float(((tanh.model.sequence_trace(d.x_test)["output"][..., 0] - d.y_test)
                         ** 2).mean())
        assert loss == pytest.approx(squared, rel=1e-3)  # the loss is the squared error
        assert loss < 0.003 and "below 0.003" in text
        repeat = float(((d.x_test[:, :, 0] - d.y_test) ** 2).mean())  # "repeating the value"
        assert repeat == pytest.approx(0.05, abs=0.005) and loss < repeat / 15
        assert sigmoid.metrics["test_loss"] > 1.5 * loss
        error = per_step_error(tanh)
        assert error[0] == pytest.approx(0.2, abs=0.03)  # "about 0.2" at the first step
        assert error[7:].max() < 0.03  # "under 0.03 from the eighth step on"


def state_separation(exp: Experiment) -> np.ndarray:
    """Per step: the distance between the mean state of the test sines and that of the test
    triangles, over their spread (the root of the mean of the two classes' total variance)."""
    d = exp.data
    states = exp.model.sequence_trace(d.x_test)["layers"][0]["states"]
    shown = exp.sequence_view(3)["layers"][0]["states"]  # what the page draws: the same
    assert np.allclose(shown, states[3], atol=1e-4)
    a, b = states[d.y_test == 0], states[d.y_test == 1]
    spread = np.sqrt((a.var(axis=0).sum(-1) + b.var(axis=0).sum(-1)) / 2)
    return np.linalg.norm(a.mean(axis=0) - b.mean(axis=0), axis=-1) / spread


def test_lesson_sine_vs_triangle() -> None:
    """Checked on seeds 0, 1, 2: 99.0 %, 98.8 %, 96.4 % right; separation after 5 steps
    0.15 to 0.18, at the last step 2.3 to 3.1. Seed 0 here, seed 1 below."""
    (preset,) = LESSONS["sine-vs-triangle"].presets
    (stated,) = stated_percentages("sine-vs-triangle")
    for seed in (0, 1):
        gru = train(reseeded(preset.config, seed), preset.epochs)
        assert list(gru.data.labels) == ["sine", "triangle"]
        assert gru.model.summary()["layers"][0]["kind"] == "gru"
        accuracy = gru.metrics["test_accuracy"]
        if seed == 0:
            assert accuracy == pytest.approx(stated, abs=0.01)
        assert accuracy >= stated - 0.03
        separation = state_separation(gru)
        assert separation[4] < 0.3 and separation[-1] > 1.5


def gradient_ratio(exp: Experiment, n: int = 20) -> float:
    """The gradient through time at the first step over that at the last, the median over n
    test sequences, as the /sequence view gives it to the page's log-scale bars (which
    rounded it to 4 decimals once, drawing 1e-12 as 0)."""
    g = np.median([exp.sequence_view(k)["gradient"] for k in range(n)], axis=0)
    return float(g[0] / g[-1])


def test_lesson_vanishing_gradients_rnn() -> None:
    """Checked on seeds 0, 1, 2, fresh networks: first / last step of the gradient through
    time, small weights: RNN 4e-17 to 7e-14, LSTM 1.3e-5 to 2.9e-5; large: RNN 2.7e3 to
    1.2e4, LSTM 1.2 to 2.3; orthogonal RNN 4.4e-4 to 5.1e-3. Trained 40 epochs with
    orthogonal W: LSTM 98.8 to 99.6 %, RNN 59 to 69 %; large weights: RNN 49 to 52 %.
    Seeds 0 and 1 here."""
    lesson = LESSONS["vanishing-gradients-rnn"]
    stated = stated_percentages("vanishing-gradients-rnn")  # LSTM 99, RNN at large weights 50
    for seed in (0, 1):
        exps = [Experiment("lesson", parse_config(reseeded(p.config, seed)))
                for p in lesson.presets]
        _, small_lstm, large_rnn, _, orth_rnn, orth_lstm = exps
        assert [e.model.summary()["layers"][0]["kind"] for e in exps] == ["rnn", "lstm"] * 3
        ratios = [gradient_ratio(e) for e in exps]
        assert ratios[0] < 1e-12  # the RNN's gradient has vanished
        forget = np.array(small_lstm.sequence_view(0)["layers"][0]["gates"]["forget"])
        assert forget.mean() == pytest.approx(0.73, abs=0.02)  # sigmoid(1): its bias
        assert 1e-6 < ratios[1] < 1e-4 and ratios[1] > 1e6 * ratios[0]  # about 1e-5
        assert ratios[2] > 1000  # the RNN's explodes
        assert 1 / 3 < ratios[3] < 3  # the LSTM's within a factor 3
        assert 1e-4 < ratios[4] < 1e-2  # orthogonal: between
        for exp, preset in ((orth_rnn, lesson.presets[4]), (orth_lstm, lesson.presets[5]),
                            (large_rnn, lesson.presets[2])):
            exp.train_epochs(preset.epochs)
        lstm, rnn, large = (e.metrics["test_accuracy"] for e in (orth_lstm, orth_rnn, large_rnn))
        if seed == 0:
            assert [lstm, large] == pytest.approx(stated, abs=0.01)
        assert lstm >= 0.97 and rnn < 0.75 and large <= 0.56
    assert "below 1e-12" in lesson.text and "over 1 000 times" in lesson.text


def test_lesson_exploding_gradients() -> None:
    """Checked on seeds 0, 1, 2: first / last step of the gradient at the start 3.6e3 to
    5e7; without clipping the loss is NaN or infinite in the first epoch; clipped, the test
    loss after 30 epochs is 0.015 to 0.018. Seeds 0 and 1 here."""
    plain_preset, clipped_preset = LESSONS["exploding-gradients"].presets
    assert plain_preset.config["optimizer"]["clip_norm"] is None
    for seed in (0, 1):
        plain = Experiment("lesson", parse_config(reseeded(plain_preset.config, seed)))
        W = plain.model.recurrent_layers[0].Wh
        assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(2, abs=0.5)
        assert gradient_ratio(plain) > 1000
        plain.train_epochs(plain_preset.epochs)
        assert plain.status == "diverged" and "NaN or infinite at epoch 1" in plain.message
        assert "Try gradient clipping (optimizer.clip_norm)" in plain.message
        clipped = train(reseeded(clipped_preset.config, seed), clipped_preset.epochs)
        assert clipped.status == "paused" and clipped.metrics["test_loss"] < 0.03
    # "no step is then longer than the learning rate": one batch from the exploding start
    exp = Experiment("lesson", parse_config(clipped_preset.config))
    model, d = exp.model, exp.data
    before = [p.copy() for p in model.params()]
    with np.errstate(all="ignore"):
        model.train_batch(d.x_train[:10], model.targets(d.y_train[:10]), 0.01)
    step = np.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.params(), before,
                                                             strict=True)))
    assert 0 < step <= 0.01 * (1 + 1e-4)


@pytest.mark.slow
def test_lesson_mnist1d() -> None:
    """20 epochs at seed 0, the stated figures (16 s on an idle core, the GRU most of it),
    and the cheap nets again on seed 1. At 20 epochs seeds 0, 1, 2 gave dense 0.68, 0.64,
    0.66, conv 0.91, 0.92, 0.89, GRU 0.94, 0.96, 0.94 and the RNN 0.19, 0.12, 0.09: the
    RNN is where a last bit of float32 rounding shows most (docs/lessons.md)."""
    presets = LESSONS["mnist1d"].presets
    exps = run("mnist1d")
    assert all(len(e.data.y_train) == 4000 and len(e.data.y_test) == 1000 for e in exps)
    assert [p.config["batch_size"] for p in presets] == [100] * 4
    dense, conv, gru, rnn = (e.metrics["test_accuracy"] for e in exps)
    assert [dense, conv, gru] == pytest.approx(stated_percentages("mnist1d"), abs=0.03)
    assert gru > conv > dense > rnn and rnn < 0.2  # chance: 10 classes
    assert [e.model.recurrent_layers[0].units for e in (exps[2], exps[3])] == [32, 32]
    d, c, r = (train(reseeded(presets[i].config, 1), presets[i].epochs)
               .metrics["test_accuracy"] for i in (0, 1, 3))
    # another split: dense 0.64 (0.66 on seed 2), the RNN 0.11, at chance still
    assert c > d > r and d == pytest.approx(dense, abs=0.05) and r < 0.2
