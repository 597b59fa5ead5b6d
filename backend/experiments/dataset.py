"""An experiment's points: generated or uploaded, split, and turned into input features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.data import UserData, apply_features, generate, split

from .config import ExperimentConfig


@dataclass(frozen=True)
class ExperimentData:
    """Raw points (x1, x2) for drawing, feature matrices for the network."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    def features(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return apply_features(names, self.x_train), apply_features(names, self.x_test)


def build_data(config: ExperimentConfig, upload: UserData | None = None) -> ExperimentData:
    """Generate the configured data set (or take the upload) and split it."""
    ds = config.dataset
    rng = np.random.default_rng([ds.seed, 1])  # a stream apart from the generator's
    if upload is not None:
        if upload.x_test is not None and upload.y_test is not None:
            return ExperimentData(upload.x_train, upload.y_train, upload.x_test, upload.y_test,
                                  upload.n_classes)
        parts = split(upload.x_train, upload.y_train, ds.train_fraction, rng)
        return ExperimentData(*parts, n_classes=upload.n_classes)
    x, y = generate(ds.name, ds.n_samples, ds.noise, ds.seed, ds.classes)
    parts = split(x, y, ds.train_fraction, rng)
    classes = ds.classes if config.problem == "classification" else 1
    return ExperimentData(*parts, n_classes=classes)
