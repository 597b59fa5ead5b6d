"""Gradient checking, as the course teaches it.

Two-sided differences (J(theta + eps) - J(theta - eps)) / (2 eps) against backprop, in
float64 with dropout off and the penalty included, reported per layer as the relative
difference ||g - g'|| / (||g|| + ||g'||): below 1e-7 right, near 1e-5 suspicious, above
1e-3 a bug.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import numpy as np

from .arrays import get_backend
from .layers import Dropout
from .model import Model

EPSILON = 1e-7
VERDICTS = ((1e-7, "right"), (1e-5, "probably right"), (1e-3, "suspicious"))


def verdict(rel: float) -> str:
    for bound, word in VERDICTS:
        if rel < bound:
            return word
    return "a bug"


def relative_difference(g: np.ndarray, g_approx: np.ndarray) -> float:
    denom = np.linalg.norm(g) + np.linalg.norm(g_approx)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - g_approx) / denom)


def float64_copy(model: Model) -> Model:
    """The same weights in float64 on the CPU, dropout off."""
    copy = Model(replace(model.spec, dtype="float64", dropout=0.0), get_backend("cpu"))
    kept = [layer for layer in model.layers if not isinstance(layer, Dropout)]
    for layer, twin in zip(kept, copy.layers, strict=True):
        for name, arr in twin.arrays().items():
            arr[...] = model.backend.to_numpy(getattr(layer, name))
    return copy


def gradient_check(model: Model, x: Any, y: Any, epsilon: float = EPSILON,
                   max_checks: int = 200, seed: int = 0) -> dict[str, Any]:
    """Compare backprop with numerical gradients on (x, y); each parameter array checks at
    most `max_checks` entries (chosen at random) so big layers stay quick."""
    steps = gradient_check_steps(model, x, y, epsilon, max_checks, seed)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def gradient_check_steps(model: Model, x: Any, y: Any, epsilon: float = EPSILON,
                         max_checks: int = 200,
                         seed: int = 0) -> Generator[None, None, dict[str, Any]]:
    """The same check one entry at a time: it yields after each, so that a caller can share
    its time with other work and stop it; the report is the generator's return value. It
    works on a copy taken at the start: the model may train on meanwhile."""
    m = float64_copy(model)
    x = np.asarray(model.backend.to_numpy(model.as_x(x)), dtype=np.float64)
    t = m.targets(y)
    m.backward(m.forward(x, training=True), t)
    rng = np.random.default_rng(seed)
    layers: dict[int, dict[str, Any]] = {}
    for (i, name, p), g in zip(m.named_params(), m.grads(), strict=True):
        flat, gflat = p.reshape(-1), g.reshape(-1)
        idx = np.arange(flat.size)
        if flat.size > max_checks:
            idx = np.sort(rng.choice(flat.size, max_checks, replace=False))
        approx = np.empty(idx.size)
        for j, k in enumerate(idx):
            old = flat[k]
            flat[k] = old + epsilon
            plus = m.cost(x, t)
            flat[k] = old - epsilon
            minus = m.cost(x, t)
            flat[k] = old
            approx[j] = (plus - minus) / (2 * epsilon)
            yield
        rel = relative_difference(gflat[idx], approx)
        entry = layers.setdefault(i, {"index": i, "layer": m.layers[i].describe(),
                                      "params": {}, "_g": [], "_a": []})
        entry["params"][name] = {"relative_difference": rel, "checked": int(idx.size),
                                 "size": int(flat.size)}
        entry["_g"].append(gflat[idx])
        entry["_a"].append(approx)
    report = []
    all_g, all_a = [], []
    for entry in layers.values():
        g, a = np.concatenate(entry.pop("_g")), np.concatenate(entry.pop("_a"))
        all_g.append(g)
        all_a.append(a)
        rel = relative_difference(g, a)
        report.append({**entry, "relative_difference": rel, "verdict": verdict(rel)})
    rel = relative_difference(np.concatenate(all_g), np.concatenate(all_a))
    return {"epsilon": epsilon, "relative_difference": rel, "verdict": verdict(rel),
            "layers": report}
