"""Train/test split after a seeded shuffle, as the Playground does."""

from __future__ import annotations

import numpy as np

from .errors import DataError

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def split(x: np.ndarray, y: np.ndarray, train_fraction: float,
          rng: np.random.Generator) -> Split:
    if not 0.1 <= train_fraction <= 0.9:
        raise DataError("train_fraction must be between 0.1 and 0.9")
    n = len(y)
    order = rng.permutation(n)
    cut = min(n, max(1, int(n * train_fraction)))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]
