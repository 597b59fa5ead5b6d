"""Losses, each with its value and its gradient with respect to the output layer's z.

`value` gives one loss per example; `dz` gives dL/dz per example (not yet divided by
the batch size). Binary cross-entropy on a sigmoid and cross-entropy on a softmax are
computed from the logits z, so neither overflows nor takes log(0), however large z is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .activations import Activation
from .params import Param
from .registry import Registry

Array = Any


@dataclass(frozen=True)
class Loss:
    name: str
    description: str
    params: dict[str, Param] = field(default_factory=dict)
    needs: str = ""  # the output activation this loss requires, if any

    def value(self, xp: Any, z: Array, a: Array, t: Array, act: Activation, **p: float) -> Array:
        raise NotImplementedError

    def grad_a(self, xp: Any, a: Array, t: Array, **p: float) -> Array:
        raise NotImplementedError

    def dz(self, xp: Any, z: Array, a: Array, t: Array, act: Activation, **p: float) -> Array:
        return act.backward(xp, z, a, self.grad_a(xp, a, t, **p))


class MSE(Loss):
    def value(self, xp, z, a, t, act, **p):
        return ((a - t) ** 2).mean(axis=1)

    def grad_a(self, xp, a, t, **p):
        return (2.0 / a.shape[1]) * (a - t)


class MAE(Loss):
    def value(self, xp, z, a, t, act, **p):
        return xp.abs(a - t).mean(axis=1)

    def grad_a(self, xp, a, t, **p):
        return xp.sign(a - t) / a.shape[1]


class Huber(Loss):
    def value(self, xp, z, a, t, act, delta=1.0, **p):
        r = xp.abs(a - t)
        return xp.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)).mean(axis=1)

    def grad_a(self, xp, a, t, delta=1.0, **p):
        return xp.clip(a - t, -delta, delta) / a.shape[1]


class Hinge(Loss):
    """max(0, 1 - t a) with t in {-1, +1}."""

    def value(self, xp, z, a, t, act, **p):
        return xp.maximum(0.0, 1.0 - t * a).mean(axis=1)

    def grad_a(self, xp, a, t, **p):
        return -t * (t * a < 1.0).astype(a.dtype) / a.shape[1]


class BinaryCrossEntropy(Loss):
    def value(self, xp, z, a, t, act, **p):
        # -(t log s(z) + (1 - t) log(1 - s(z))) = max(z, 0) - z t + log(1 + e^-|z|)
        return (xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))).mean(axis=1)

    def dz(self, xp, z, a, t, act, **p):
        return (a - t) / a.shape[1]


class CrossEntropy(Loss):
    """-log softmax(z)_y with one-hot t, by log-sum-exp."""

    def value(self, xp, z, a, t, act, **p):
        zmax = z.max(axis=1, keepdims=True)
        lse = xp.log(xp.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
        return lse - (z * t).sum(axis=1)

    def dz(self, xp, z, a, t, act, **p):
        return a - t


LOSSES: Registry[Loss] = Registry("loss")
LOSSES.add("mse", MSE("mse", "mean squared error (a - y)^2"))
LOSSES.add("mae", MAE("mae", "mean absolute error |a - y|"))
LOSSES.add("huber", Huber("huber", "squared near 0, linear beyond delta",
                          {"delta": Param(1.0, 1e-3, 1e3, "where it turns linear")}))
LOSSES.add("hinge", Hinge("hinge", "max(0, 1 - t a) with t = +-1 (binary classification)"))
LOSSES.add("binary_cross_entropy", BinaryCrossEntropy(
    "binary_cross_entropy", "-(y log a + (1 - y) log(1 - a)) on a sigmoid", needs="sigmoid"))
LOSSES.add("cross_entropy", CrossEntropy(
    "cross_entropy", "-log softmax(z)_y for k classes", needs="softmax"))
