"""Input features computed from the raw point (x1, x2), as in the TensorFlow Playground.

The first seven are the Playground's; the cosines complete the sines. The registry order
is the order the page lists them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DataError

Column = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Feature:
    """One input column: `fn(x1, x2)` elementwise, `label` as the page draws it."""

    name: str
    fn: Column
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


def check_features(names: list[str]) -> None:
    """Refuse an empty, unknown or repeated choice, naming what is allowed."""
    if not names:
        raise DataError(f"choose at least one input feature from: {', '.join(FEATURES)}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise DataError(f"unknown feature {unknown[0]!r}; allowed: {', '.join(FEATURES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"each feature may be chosen once; repeated: {', '.join(repeated)}")


def apply_features(names: list[str], x: np.ndarray) -> np.ndarray:
    """(m, 2) raw points -> (m, len(names)) float64 feature columns, in the order given."""
    check_features(names)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise DataError(f"points must have the shape (m, 2), not {x.shape}")
    a, b = x[:, 0], x[:, 1]
    return np.stack([FEATURES[n].fn(a, b) for n in names], axis=1)
