"""Train/test split after a seeded shuffle, as the Playground does."""

from __future__ import annotations

import numpy as np

from .errors import DataError

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
MIN_TRAIN_FRACTION = 0.1
MAX_TRAIN_FRACTION = 0.9


def split(x: np.ndarray, y: np.ndarray, train_fraction: float,
          rng: np.random.Generator) -> Split:
    """-> (x_train, y_train, x_test, y_test): the first floor(n * fraction) shuffled points
    train, the rest test; at least one point always trains."""
    if not MIN_TRAIN_FRACTION <= train_fraction <= MAX_TRAIN_FRACTION:  # also refuses NaN
        raise DataError(f"train_fraction must be between {MIN_TRAIN_FRACTION} and "
                        f"{MAX_TRAIN_FRACTION}, not {train_fraction}")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} points but y has {len(y)} labels")
    n = len(y)
    order = rng.permutation(n)
    cut = min(n, max(1, int(n * train_fraction)))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]
