"""Each optimizer's first steps against values worked out by hand from its formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.engine import OPTIMIZERS, Model, ModelSpec

LR = 0.1
G1, G2 = 0.5, -0.2  # the gradients of two successive steps
W0 = 1.0


def run(name: str, **hyper: float) -> list[float]:
    opt = OPTIMIZERS.get(name)(**hyper)
    w = np.array([W0])
    opt.bind(np, [w])
    out = []
    for g in (G1, G2):
        opt.step(np, [w], [np.array([g])], LR)
        out.append(float(w[0]))
    return out


def test_sgd() -> None:
    assert run("sgd") == pytest.approx([1 - 0.05, 1 - 0.05 + 0.02])


def test_momentum_library_form() -> None:
    # v1 = 0.5, w1 = 1 - 0.05; v2 = 0.9 * 0.5 - 0.2 = 0.25, w2 = 0.95 - 0.025
    assert run("momentum", momentum=0.9) == pytest.approx([0.95, 0.925])


def test_momentum_course_form() -> None:
    # v1 = 0.1 * 0.5 = 0.05, w1 = 0.995; v2 = 0.9 * 0.05 + 0.1 * -0.2 = 0.025, w2 = 0.9925
    assert run("momentum", momentum=0.9, ema=1) == pytest.approx([0.995, 0.9925])


def test_nesterov() -> None:
    # v1 = 0.5, w1 = 1 - 0.1 (0.5 + 0.45) = 0.905
    # v2 = 0.45 - 0.2 = 0.25, w2 = 0.905 - 0.1 (-0.2 + 0.225) = 0.9025
    assert run("nesterov", momentum=0.9) == pytest.approx([0.905, 0.9025])


def test_adagrad() -> None:
    w1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    w2 = w1 - 0.1 * -0.2 / (math.sqrt(0.25 + 0.04) + 1e-8)
    assert run("adagrad") == pytest.approx([w1, w2])


def test_rmsprop() -> None:
    s1 = 0.1 * 0.25
    w1 = 1 - 0.1 * 0.5 / (math.sqrt(s1) + 1e-8)
    s2 = 0.9 * s1 + 0.1 * 0.04
    w2 = w1 - 0.1 * -0.2 / (math.sqrt(s2) + 1e-8)
    assert run("rmsprop", rho=0.9) == pytest.approx([w1, w2])


def test_adam_is_bias_corrected() -> None:
    # step 1: m^ = g, v^ = g^2, so the step is lr * sign(g) whatever the scale of g
    m1, v1 = 0.1 * 0.5, 0.001 * 0.25
    w1 = 1 - 0.1 * (m1 / 0.1) / (math.sqrt(v1 / 0.001) + 1e-8)
    assert w1 == pytest.approx(0.9)
    m2, v2 = 0.9 * m1 + 0.1 * -0.2, 0.999 * v1 + 0.001 * 0.04
    c1, c2 = 1 - 0.9**2, 1 - 0.999**2
    w2 = w1 - 0.1 * (m2 / c1) / (math.sqrt(v2 / c2) + 1e-8)
    assert run("adam") == pytest.approx([w1, w2])


def test_nadam() -> None:
    m1, v1 = 0.05, 0.00025
    mbar1 = 0.9 * m1 / (1 - 0.9**2) + 0.1 * 0.5 / (1 - 0.9)
    w1 = 1 - 0.1 * mbar1 / (math.sqrt(v1 / 0.001) + 1e-8)
    m2, v2 = 0.9 * m1 - 0.02, 0.999 * v1 + 0.001 * 0.04
    mbar2 = 0.9 * m2 / (1 - 0.9**3) + 0.1 * -0.2 / (1 - 0.9**2)
    w2 = w1 - 0.1 * mbar2 / (math.sqrt(v2 / (1 - 0.999**2)) + 1e-8)
    assert run("nadam") == pytest.approx([w1, w2])


def test_adadelta() -> None:
    eps = 1e-6
    S1 = 0.1 * 0.25
    dx1 = math.sqrt(eps) / math.sqrt(S1 + eps) * 0.5
    D1 = 0.1 * dx1**2
    w1 = 1 - 0.1 * dx1
    S2 = 0.9 * S1 + 0.1 * 0.04
    dx2 = math.sqrt(D1 + eps) / math.sqrt(S2 + eps) * -0.2
    assert run("adadelta") == pytest.approx([w1, w1 - 0.1 * dx2])


def test_every_optimizer_is_tested_by_hand() -> None:
    tested = {name.removeprefix("test_").split("_")[0] for name in globals()
              if name.startswith("test_")}
    assert set(OPTIMIZERS.names()) <= tested


def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(ValueError, match="takes no beta1"):
        OPTIMIZERS.get("sgd")(beta1=0.9)


def test_adam_steps_count_mini_batches() -> None:
    spec = ModelSpec(n_inputs=2, hidden=[{"units": 3}], optimizer="adam", learning_rate=0.01)
    model = Model(spec)
    x = np.zeros((25, 2))
    model.fit_epoch(x, np.zeros(25, dtype=int), batch_size=10)
    assert model.optimizer.t == 3  # 10 + 10 + 5


def test_learning_rate_decay() -> None:
    spec = ModelSpec(n_inputs=2, learning_rate=0.3, decay=0.5)
    model = Model(spec)
    rates = []
    for _ in range(3):
        rates.append(model.learning_rate)
        model.fit_epoch(np.zeros((4, 2)), np.zeros(4, dtype=int))
    assert rates == pytest.approx([0.3, 0.3 / 1.5, 0.3 / 2.0])
