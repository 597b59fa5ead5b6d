"""Input features computed from the raw point (x1, x2), as in the TensorFlow Playground."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class Feature:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    label: str
    description: str


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("x1", lambda a, b: a, "X₁", "the first coordinate"),
    Feature("x2", lambda a, b: b, "X₂", "the second coordinate"),
    Feature("x1_squared", lambda a, b: a * a, "X₁²", "x1 squared"),
    Feature("x2_squared", lambda a, b: b * b, "X₂²", "x2 squared"),
    Feature("x1_x2", lambda a, b: a * b, "X₁X₂", "the product x1 x2"),
    Feature("sin_x1", lambda a, b: np.sin(a), "sin(X₁)", "sine of x1"),
    Feature("sin_x2", lambda a, b: np.sin(b), "sin(X₂)", "sine of x2"),
    Feature("cos_x1", lambda a, b: np.cos(a), "cos(X₁)", "cosine of x1"),
    Feature("cos_x2", lambda a, b: np.cos(b), "cos(X₂)", "cosine of x2"),
)}


def apply_features(names: list[str], x: np.ndarray) -> np.ndarray:
    """(m, 2) raw points -> (m, len(names)) feature columns, in the order given."""
    if not names:
        raise DataError("choose at least one input feature")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise DataError(f"unknown feature {unknown[0]!r}; allowed: {', '.join(FEATURES)}")
    if len(set(names)) != len(names):
        raise DataError("each feature may be chosen once")
    x = np.asarray(x, dtype=np.float64)
    a, b = x[:, 0], x[:, 1]
    return np.stack([FEATURES[n].fn(a, b) for n in names], axis=1)
