"""Data set generators: pure functions of (n, noise, rng, classes) -> (x (n, 2), y (n,)).

The first six follow the TensorFlow Playground's geometry (its dataset.ts) on the square
[-6, 6]^2, noise 0..0.5 being its 0..50 %. Classification labels are class indices
0..k-1 (int64); for its two-class sets the Playground's +1 is class 1 and its -1 class 0.
Regression targets are float64, roughly in [-1, 1] as in the Playground.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import DataError

Problem = Literal["classification", "regression"]
Points = tuple[np.ndarray, np.ndarray]
Generator = Callable[[int, float, np.random.Generator, int], Points]
MAX_CLASSES = 10
MAX_NOISE = 0.5


@dataclass(frozen=True)
class Dataset:
    """A registered generator with what a caller must know to validate a request."""

    name: str
    problem: Problem
    fn: Generator
    description: str
    min_classes: int = 2
    max_classes: int = 2
    label: str = ""  # the name people read ("Regression: plane"); the page shows it


DATASETS: dict[str, Dataset] = {}


def dataset(name: str, problem: Problem, description: str, max_classes: int = 2, *,
            label: str) -> Callable[[Generator], Generator]:
    """Register a generator under `name`; the registry order is the menu order."""

    def add(fn: Generator) -> Generator:
        DATASETS[name] = Dataset(name, problem, fn, description, 2, max_classes, label)
        return fn

    return add


def _shares(n: int, k: int) -> list[int]:
    """n points dealt to k groups as evenly as possible, the first groups one larger."""
    return [n // k + (j < n % k) for j in range(k)]


@dataset("circle", "classification", "a disc of one class inside a ring of the other",
         label="Circle")
def circle(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """Half inside r < 2.5, half in the ring 3.5..5; labelled by the jittered point."""
    radius = 5.0
    n_in, n_out = _shares(n, 2)
    r = np.concatenate([rng.uniform(0, radius * 0.5, n_in),
                        rng.uniform(radius * 0.7, radius, n_out)])
    angle = rng.uniform(0, 2 * math.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    y = (np.hypot(*(x + jitter).T) < radius * 0.5).astype(np.int64)
    return x, y


@dataset("xor", "classification", "four quadrants: same signs one class, mixed the other",
         label="XOR")
def xor(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """Points kept 0.3 off the axes; class 1 where the jittered x1 * x2 >= 0."""
    padding = 0.3
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, padding, -padding)
    noisy = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)
    return x, y


@dataset("gauss", "classification", "two gaussian clouds, wider with noise",
         label="Gaussian")
def gauss(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """Class 1 around (2, 2), class 0 around (-2, -2); variance 0.5 at noise 0 to 4 at 0.5."""
    variance = 0.5 + (4.0 - 0.5) * noise / MAX_NOISE
    n1, n0 = _shares(n, 2)
    centres = np.concatenate([np.tile([2.0, 2.0], (n1, 1)), np.tile([-2.0, -2.0], (n0, 1))])
    x = centres + rng.normal(0, math.sqrt(variance), (n, 2))
    y = np.concatenate([np.ones(n1, np.int64), np.zeros(n0, np.int64)])
    return x, y


@dataset("spiral", "classification", "interleaved spiral arms, one per class", MAX_CLASSES,
         label="Spiral")
def spiral(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """k arms of 1.75 turns out to r = 5, arm j turned by 2 pi j / k.

    With two arms the labels are the Playground's: the arm at angle 0 is class 1 and the
    arm at pi class 0; with more arms, arm j is class j.
    """
    xs, ys = [], []
    for arm, m in enumerate(_shares(n, classes)):
        s = np.arange(m) / max(m, 1)
        r = s * 5
        t = 1.75 * s * 2 * math.pi + 2 * math.pi * arm / classes
        points = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        xs.append(points + rng.uniform(-1, 1, (m, 2)) * noise)
        ys.append(np.full(m, 1 - arm if classes == 2 else arm, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


@dataset("reg-plane", "regression", "a tilted plane: y = (x1 + x2) / 10",
         label="Regression: plane")
def reg_plane(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """The Playground maps x1 + x2 in [-10, 10] onto [-1, 1], from the jittered point."""
    x = rng.uniform(-6, 6, (n, 2))
    jitter = rng.uniform(-6, 6, (n, 2)) * noise
    return x, (x + jitter).sum(axis=1) / 10.0


# (centre x, centre y, sign) of the Playground's six bumps
_REG_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
                  (4, -2.5, -1))


@dataset("reg-gauss", "regression", "six bumps, up and down",
         label="Regression: gaussians")
def reg_gauss(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """Each bump falls linearly from +-1 at its centre to 0 at distance 2; the largest wins."""
    x = rng.uniform(-6, 6, (n, 2))
    noisy = x + rng.uniform(-6, 6, (n, 2)) * noise
    label = np.zeros(n)
    for cx, cy, sign in _REG_GAUSSIANS:
        d = np.hypot(noisy[:, 0] - cx, noisy[:, 1] - cy)
        value = sign * np.clip(1.0 - d / 2.0, 0.0, 1.0)
        label = np.where(np.abs(value) > np.abs(label), value, label)
    return x, label


@dataset("moons", "classification", "two interleaving half circles",
         label="Moons")
def moons(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """scikit-learn's make_moons scaled by 3.5 about its centre; gaussian noise 3 * noise."""
    n0, n1 = _shares(n, 2)
    t0 = np.linspace(0, math.pi, n0)
    t1 = np.linspace(0, math.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = (np.concatenate([upper, lower]) - [0.5, 0.25]) * 3.5
    x += rng.normal(0, 3 * noise, x.shape)
    return x, np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])


@dataset("flower", "classification", "the course's planar petals: two classes, eight petals",
         label="Flower")
def flower(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """load_planar_dataset of Andrew Ng's course, scaled by 1.4; noise 0 is its own 0.2."""
    xs, ys = [], []
    spread = 0.2 + noise
    for j, m in enumerate(_shares(n, 2)):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, m) + rng.normal(0, spread, m)
        r = 4 * np.sin(4 * t) + rng.normal(0, spread, m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) * 1.4)
        ys.append(np.full(m, j, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


@dataset("blobs", "classification", "k gaussian blobs on a circle", MAX_CLASSES,
         label="Blobs")
def blobs(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """Centres on a circle of radius 4, turned by pi / 4 so no blob sits on an axis at k = 2."""
    y = np.arange(n) % classes
    angle = 2 * math.pi * y / classes + math.pi / 4
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + rng.normal(0, 0.6 + 3 * noise, (n, 2)), y.astype(np.int64)


@dataset("gaussian_quantiles", "classification",
         "rings of one gaussian cloud, each class an equal share", MAX_CLASSES,
         label="Gaussian quantiles")
def gaussian_quantiles(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    """scikit-learn's make_gaussian_quantiles; std 1.6 keeps the cloud inside the square.

    Classes go by the rank of the distance from the origin, jittered by noise, so each
    ring holds an equal share and noise 0 gives clean rings.
    """
    x = rng.normal(0, 1.6, (n, 2))
    d = np.hypot(*(x + rng.normal(0, 2 * noise, (n, 2))).T)
    ranks = np.argsort(np.argsort(d, kind="stable"), kind="stable")
    return x, (ranks * classes // n).astype(np.int64)


def _whole(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DataError(f"{field} must be a whole number, not {value!r}")
    return int(value)


def _classes_allowed(spec: Dataset) -> str:
    if spec.min_classes == spec.max_classes:
        return str(spec.min_classes)
    return f"between {spec.min_classes} and {spec.max_classes}"


def generate(name: str, n_samples: int, noise: float = 0.0, seed: int = 0,
             classes: int = 2) -> Points:
    """Validated entry point: the same arguments give the same points.

    `classes` only matters for classification sets; regression sets ignore it.
    """
    spec = DATASETS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    n = _whole(n_samples, "n_samples")
    if n < 1:
        raise DataError(f"n_samples must be at least 1, not {n}")
    if isinstance(noise, bool) or not isinstance(noise, int | float | np.floating):
        raise DataError(f"noise must be a number between 0 and {MAX_NOISE}, not {noise!r}")
    if not 0.0 <= noise <= MAX_NOISE:  # also refuses NaN
        raise DataError(f"noise must be between 0 and {MAX_NOISE}, not {noise}")
    if _whole(seed, "seed") < 0:
        raise DataError(f"seed must be at least 0, not {seed}")
    k = _whole(classes, "classes")
    if spec.problem == "classification" and not spec.min_classes <= k <= spec.max_classes:
        raise DataError(f"classes must be {_classes_allowed(spec)} for {name}, not {k}")
    x, y = spec.fn(n, float(noise), np.random.default_rng(int(seed)), k)
    return x.astype(np.float64), y
