"""Activations: each a tiny object with its function and derivative.

`der(z, a)` gets both the input and the output so that each derivative can use the
cheaper one (sigmoid and tanh from a, relu from z).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .registry import Registry

Array = Any
Fn = Callable[[Any, Array], Array]
Der = Callable[[Any, Array, Array], Array]

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
_GELU_C = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Fn
    der: Der
    low: float  # the range of the output, which decides how binary targets are encoded
    high: float
    hidden: bool = True  # usable in a hidden layer (softmax is output only)
    description: str = ""
    vjp: Callable[[Any, Array, Array, Array], Array] | None = None  # when g' is not elementwise

    def backward(self, xp: Any, z: Array, a: Array, da: Array) -> Array:
        """dL/dz from dL/da."""
        return self.vjp(xp, z, a, da) if self.vjp else da * self.der(xp, z, a)


ACTIVATIONS: Registry[Activation] = Registry("activation")


def _add(act: Activation) -> None:
    ACTIVATIONS.add(act.name, act)


def sigmoid(xp: Any, z: Array) -> Array:
    # 0.5 (1 + tanh(z / 2)) is exact and never overflows, unlike 1 / (1 + exp(-z)).
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def _softmax(xp: Any, z: Array) -> Array:
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_der(xp: Any, z: Array, a: Array) -> Array:
    raise NotImplementedError("softmax's Jacobian is not diagonal: use backward")


def _softmax_vjp(xp: Any, z: Array, a: Array, da: Array) -> Array:
    return a * (da - (da * a).sum(axis=-1, keepdims=True))


def _gelu(xp: Any, z: Array) -> Array:
    return 0.5 * z * (1.0 + xp.tanh(_GELU_C * (z + 0.044715 * z**3)))


def _gelu_der(xp: Any, z: Array, a: Array) -> Array:
    inner = _GELU_C * (z + 0.044715 * z**3)
    t = xp.tanh(inner)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z * z)


def _swish_der(xp: Any, z: Array, a: Array) -> Array:
    s = sigmoid(xp, z)
    return s + a * (1.0 - s)


_add(Activation("linear", lambda xp, z: z, lambda xp, z, a: xp.ones_like(z), -math.inf, math.inf,
                description="identity: a = z"))
_add(Activation("relu", lambda xp, z: xp.maximum(z, 0), lambda xp, z, a: (z > 0).astype(z.dtype),
                0.0, math.inf, description="max(0, z)"))
_add(Activation("leaky_relu", lambda xp, z: xp.where(z > 0, z, LEAKY_SLOPE * z),
                lambda xp, z, a: xp.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
                -math.inf, math.inf, description="z if z > 0 else 0.01 z"))
_add(Activation("elu", lambda xp, z: xp.where(z > 0, z, ELU_ALPHA * xp.expm1(xp.minimum(z, 0))),
                lambda xp, z, a: xp.where(z > 0, 1.0, a + ELU_ALPHA).astype(z.dtype),
                -ELU_ALPHA, math.inf, description="z if z > 0 else exp(z) - 1"))
_add(Activation("tanh", lambda xp, z: xp.tanh(z), lambda xp, z, a: 1.0 - a * a, -1.0, 1.0,
                description="tanh(z); derivative 1 - a^2"))
_add(Activation("sigmoid", sigmoid, lambda xp, z, a: a * (1.0 - a), 0.0, 1.0,
                description="1 / (1 + e^-z); derivative a (1 - a)"))
_add(Activation("softplus", lambda xp, z: xp.logaddexp(0, z), lambda xp, z, a: sigmoid(xp, z),
                0.0, math.inf, description="ln(1 + e^z); derivative sigmoid(z)"))
_add(Activation("gelu", _gelu, _gelu_der, -0.17, math.inf,
                description="z Phi(z), tanh approximation"))
_add(Activation("swish", lambda xp, z: z * sigmoid(xp, z), _swish_der, -0.28, math.inf,
                description="z sigmoid(z) (SiLU)"))
_add(Activation("softmax", _softmax, _softmax_der, 0.0, 1.0, hidden=False,
                description="e^z_i / sum_j e^z_j, output layer with k classes", vjp=_softmax_vjp))
