"""Data set generators: pure functions of (n, noise, rng, classes) -> (x (n, 2), y (n,)).

The first six follow the TensorFlow Playground's geometry (its dataset.ts) on the square
[-6, 6]^2, noise 0..0.5 being its 0..50 %. Classification labels are class indices
0..k-1; for its two-class sets the Playground's +1 is class 1 and its -1 class 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DataError

Points = tuple[np.ndarray, np.ndarray]
Generator = Callable[[int, float, np.random.Generator, int], Points]
MAX_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    name: str
    problem: str
    fn: Generator
    description: str
    min_classes: int = 2
    max_classes: int = 2


DATASETS: dict[str, Dataset] = {}


def dataset(name: str, problem: str, description: str, max_classes: int = 2,
            ) -> Callable[[Generator], Generator]:
    def add(fn: Generator) -> Generator:
        DATASETS[name] = Dataset(name, problem, fn, description, 2, max_classes)
        return fn

    return add


def _halves(n: int) -> tuple[int, int]:
    return n - n // 2, n // 2


@dataset("circle", "classification", "a disc of one class inside a ring of the other")
def circle(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    radius = 5.0
    n_in, n_out = _halves(n)
    r = np.concatenate([rng.uniform(0, radius * 0.5, n_in),
                        rng.uniform(radius * 0.7, radius, n_out)])
    angle = rng.uniform(0, 2 * math.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    y = (np.hypot(*(x + jitter).T) < radius * 0.5).astype(np.int64)
    return x, y


@dataset("xor", "classification", "four quadrants: same signs one class, mixed the other")
def xor(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    padding = 0.3
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, padding, -padding)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    noisy = x + jitter
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)
    return x, y


@dataset("gauss", "classification", "two gaussian clouds, wider with noise")
def gauss(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    variance = 0.5 + (4.0 - 0.5) * noise / 0.5
    n1, n0 = _halves(n)
    centres = np.concatenate([np.tile([2.0, 2.0], (n1, 1)), np.tile([-2.0, -2.0], (n0, 1))])
    x = centres + rng.normal(0, math.sqrt(variance), (n, 2))
    y = np.concatenate([np.ones(n1, np.int64), np.zeros(n0, np.int64)])
    return x, y


@dataset("spiral", "classification", "interleaved spiral arms, one per class", MAX_CLASSES)
def spiral(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    xs, ys = [], []
    for arm, count in enumerate(np.array_split(np.arange(n), classes)):
        m = len(count)
        i = np.arange(m)
        r = i / max(m, 1) * 5
        delta = 2 * math.pi * arm / classes
        t = 1.75 * i / max(m, 1) * 2 * math.pi + delta
        pts = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        xs.append(pts + rng.uniform(-1, 1, (m, 2)) * noise)
        # two arms as in the Playground: the arm at angle 0 is its +1, our class 1
        label = (1 - arm) if classes == 2 else arm
        ys.append(np.full(m, label, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


@dataset("reg-plane", "regression", "a tilted plane: y = (x1 + x2) / 10")
def reg_plane(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    x = rng.uniform(-6, 6, (n, 2))
    jitter = rng.uniform(-6, 6, (n, 2)) * noise
    return x, (x + jitter).sum(axis=1) / 10.0


_REG_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
                  (4, -2.5, -1))


@dataset("reg-gauss", "regression", "six bumps, up and down")
def reg_gauss(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    x = rng.uniform(-6, 6, (n, 2))
    noisy = x + rng.uniform(-6, 6, (n, 2)) * noise
    label = np.zeros(n)
    for cx, cy, sign in _REG_GAUSSIANS:
        d = np.hypot(noisy[:, 0] - cx, noisy[:, 1] - cy)
        value = sign * np.clip(1.0 - d / 2.0, 0.0, 1.0)
        label = np.where(np.abs(value) > np.abs(label), value, label)
    return x, label


@dataset("moons", "classification", "two interleaving half circles")
def moons(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    n0, n1 = _halves(n)
    t0 = np.linspace(0, math.pi, n0)
    t1 = np.linspace(0, math.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = (np.concatenate([upper, lower]) - [0.5, 0.25]) * 3.5
    x += rng.normal(0, 0.1 + 3 * noise, x.shape)
    return x, np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])


@dataset("flower", "classification", "the course's planar petals: two classes, eight petals")
def flower(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    xs, ys = [], []
    for j, m in enumerate(_halves(n)):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, m) + rng.normal(0, 0.2 + noise, m)
        r = 4 * np.sin(4 * t) + rng.normal(0, 0.2 + noise, m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) * 1.4)
        ys.append(np.full(m, j, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


@dataset("blobs", "classification", "k gaussian blobs on a circle", MAX_CLASSES)
def blobs(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    y = np.arange(n) % classes
    angle = 2 * math.pi * y / classes + math.pi / 4
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + rng.normal(0, 0.6 + 3 * noise, (n, 2)), y.astype(np.int64)


@dataset("gaussian_quantiles", "classification",
         "rings of one gaussian cloud, each class an equal share", MAX_CLASSES)
def gaussian_quantiles(n: int, noise: float, rng: np.random.Generator, classes: int) -> Points:
    x = rng.normal(0, 1.6, (n, 2))
    d = np.hypot(*(x + rng.normal(0, 2 * noise + 1e-12, (n, 2))).T)
    ranks = np.argsort(np.argsort(d, kind="stable"), kind="stable")
    return x, (ranks * classes // n).astype(np.int64)


def generate(name: str, n_samples: int, noise: float = 0.0, seed: int = 0,
             classes: int = 2) -> Points:
    """Validated entry point: the same arguments give the same points."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if n_samples < 1:
        raise DataError("n_samples must be at least 1")
    if not 0.0 <= noise <= 0.5:
        raise DataError("noise must be between 0 and 0.5")
    if spec.problem == "classification" and not spec.min_classes <= classes <= spec.max_classes:
        raise DataError(f"{name} has {spec.min_classes} to {spec.max_classes} classes")
    x, y = spec.fn(n_samples, noise, np.random.default_rng(seed), classes)
    return x.astype(np.float64), y
