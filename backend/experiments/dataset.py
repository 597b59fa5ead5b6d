"""An experiment's points: generated or uploaded, split, and turned into input features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.data import UserData, apply_features, generate, split

from .config import ExperimentConfig

PLANE = 6.0  # the plane shown is [-6, 6]^2, as in the TensorFlow Playground


@dataclass(frozen=True)
class ExperimentData:
    """Points (x1, x2) on the plane, for drawing; feature matrices for the network."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    scale: float = 1.0  # plane units per unit of the uploaded points; 1: as they came

    def features(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return apply_features(names, self.x_train), apply_features(names, self.x_test)


def build_data(config: ExperimentConfig, upload: UserData | None = None) -> ExperimentData:
    """Generate the configured data set (or take the upload) and split it."""
    ds = config.dataset
    rng = np.random.default_rng([ds.seed, 1])  # a stream apart from the generator's
    if upload is not None:
        s = fit_scale(upload)
        if upload.x_test is not None and upload.y_test is not None:
            return ExperimentData(upload.x_train * s, upload.y_train, upload.x_test * s,
                                  upload.y_test, upload.n_classes, s)
        x, y, x_test, y_test = split(upload.x_train, upload.y_train, ds.train_fraction, rng)
        return ExperimentData(x * s, y, x_test * s, y_test, upload.n_classes, s)
    x, y = generate(ds.name, ds.n_samples, ds.noise, ds.seed, ds.classes)
    parts = split(x, y, ds.train_fraction, rng)
    classes = ds.classes if config.problem == "classification" else 1
    return ExperimentData(*parts, n_classes=classes)


def fit_scale(upload: UserData) -> float:
    """Points far outside the plane are scaled into it: at +-500, tanh units saturate and
    the features x1^2, sin x1 ... mean nothing, so such a set could not be learned."""
    parts = [upload.x_train] + ([upload.x_test] if upload.x_test is not None else [])
    biggest = max(float(np.abs(p).max(initial=0.0)) for p in parts)
    return PLANE / biggest if biggest > PLANE else 1.0


def plane_points(resolution: int, extent: float = PLANE) -> np.ndarray:
    """Cell centres of a grid over the plane, row by row from the top (y = +extent) down,
    x left to right: where every grid of the frames and /boundary is taken."""
    step = 2 * extent / resolution
    c = -extent + step * (np.arange(resolution) + 0.5)
    xs, ys = np.meshgrid(c, c[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)
