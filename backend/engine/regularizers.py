"""Weight penalties (weights only, never biases), scaled by the rate.

L2 adds rate/2 * sum W^2 to the cost and rate * W to dW: the TensorFlow Playground's and
PyTorch's weight decay. The course's lambda/(2m) form is rate = lambda / m.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .params import Param
from .registry import Registry

Array = Any


@dataclass(frozen=True)
class Regularizer:
    name: str
    penalty: Callable[[Any, Array, float], Any]  # (xp, W, l1_ratio) -> cost, before the rate
    grad: Callable[[Any, Array, float], Array]
    description: str
    params: dict[str, Param] = field(default_factory=dict)


REGULARIZERS: Registry[Regularizer] = Registry("regularization")
REGULARIZERS.add("none", Regularizer(
    "none", lambda xp, w, r: 0.0, lambda xp, w, r: 0.0 * w, "no penalty"))
REGULARIZERS.add("l1", Regularizer(
    "l1", lambda xp, w, r: xp.abs(w).sum(), lambda xp, w, r: xp.sign(w),
    "rate * sum |W|: pushes weights to exactly zero"))
REGULARIZERS.add("l2", Regularizer(
    "l2", lambda xp, w, r: 0.5 * (w * w).sum(), lambda xp, w, r: w,
    "rate/2 * sum W^2: weight decay"))
REGULARIZERS.add("elastic_net", Regularizer(
    "elastic_net",
    lambda xp, w, r: r * xp.abs(w).sum() + (1 - r) * 0.5 * (w * w).sum(),
    lambda xp, w, r: r * xp.sign(w) + (1 - r) * w,
    "l1_ratio * L1 + (1 - l1_ratio) * L2",
    {"l1_ratio": Param(0.5, 0.0, 1.0, "share of L1")}))
