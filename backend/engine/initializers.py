"""Weight initializers: W[l] of shape (n_in, n_out); biases start at zero.

A convolution's W (filters, channels, k, k) is drawn with fan_in = channels k k and
fan_out = filters k k (what each input and output pixel sees), as the libraries do."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .params import Param
from .registry import Registry

Shape = tuple[int, ...]
Sampler = Callable[[np.random.Generator, Shape, int, int, float], np.ndarray]


@dataclass(frozen=True)
class Initializer:
    name: str
    sample: Sampler
    description: str
    params: dict[str, Param] = field(default_factory=dict)

    def __call__(self, rng: np.random.Generator, n_in: int, n_out: int, scale: float,
                 shape: Shape | None = None) -> np.ndarray:
        """An array of `shape` ((n_in, n_out) by default) for fan_in n_in, fan_out n_out."""
        return self.sample(rng, (n_in, n_out) if shape is None else shape, n_in, n_out, scale)


INITIALIZERS: Registry[Initializer] = Registry("initializer")
_SCALE_U = {"scale": Param(0.5, 0.0, 100.0, "half-width of the interval")}
_SCALE_N = {"scale": Param(0.01, 0.0, 100.0, "standard deviation")}

INITIALIZERS.add("zeros", Initializer(
    "zeros", lambda rng, shape, i, o, s: np.zeros(shape),
    "all zeros: every unit of a layer stays the same (symmetry is never broken)"))
INITIALIZERS.add("uniform", Initializer(
    "uniform", lambda rng, shape, i, o, s: rng.uniform(-s, s, shape),
    "uniform in [-scale, scale] (the TensorFlow Playground uses 0.5)", _SCALE_U))
INITIALIZERS.add("normal", Initializer(
    "normal", lambda rng, shape, i, o, s: rng.normal(0.0, s, shape),
    "normal with standard deviation scale (0.01 small, 10 large)", _SCALE_N))
INITIALIZERS.add("xavier", Initializer(
    "xavier", lambda rng, shape, i, o, s: rng.normal(0.0, math.sqrt(1.0 / i), shape),
    "normal with variance 1 / n_in (the course's Xavier)"))
INITIALIZERS.add("glorot", Initializer(
    "glorot", lambda rng, shape, i, o, s: rng.uniform(-1, 1, shape) * math.sqrt(6.0 / (i + o)),
    "uniform with variance 2 / (n_in + n_out) (Keras' glorot_uniform)"))
INITIALIZERS.add("he", Initializer(
    "he", lambda rng, shape, i, o, s: rng.normal(0.0, math.sqrt(2.0 / i), shape),
    "normal with variance 2 / n_in, for relu"))
