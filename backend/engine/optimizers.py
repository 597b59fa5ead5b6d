"""Optimizers: each updates the parameters in place from their gradients.

`t` counts mini-batch steps (Adam's bias correction uses it). Momentum follows the
libraries (v = beta v + dW) unless `ema` is on, which gives the course's exponentially
weighted form v = beta v + (1 - beta) dW.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .params import Param, resolve
from .registry import Registry

Array = Any

_BETA = Param(0.9, 0.0, 0.9999, "momentum coefficient")
_EPS = Param(1e-8, 1e-12, 1.0, "added to the denominator")


class Optimizer:
    """Base: its hyperparameters' table (`params`), state arrays per weight, the step count."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    slots: ClassVar[tuple[str, ...]] = ()  # names of the state arrays kept per parameter

    def __init__(self, **hyper: float) -> None:
        self.h = resolve(self.params, hyper, f"optimizer {self.name!r}")
        self.t = 0
        self.state: list[list[Array]] = []

    def bind(self, xp: Any, params: list[Array]) -> None:
        self.state = [[xp.zeros_like(p) for _ in self.slots] for p in params]

    def step(self, xp: Any, params: list[Array], grads: list[Array], lr: float) -> None:
        self.t += 1
        for p, g, s in zip(params, grads, self.state, strict=True):
            self.update(xp, p, g, s, lr)

    def update(self, xp: Any, p: Array, g: Array, s: list[Array], lr: float) -> None:
        raise NotImplementedError


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def _register(cls: type[Optimizer]) -> type[Optimizer]:
    return OPTIMIZERS.add(cls.name, cls)


@_register
class SGD(Optimizer):
    name = "sgd"
    description = "W -= lr dW"

    def update(self, xp, p, g, s, lr):
        p -= lr * g


@_register
class Momentum(Optimizer):
    name = "momentum"
    description = "v = beta v + dW; W -= lr v (ema: v = beta v + (1 - beta) dW)"
    params: ClassVar = {"momentum": _BETA,
                        "ema": Param(0.0, 0.0, 1.0, "1: the course's averaged form")}
    slots = ("v",)

    def update(self, xp, p, g, s, lr):
        beta = self.h["momentum"]
        v = s[0]
        v *= beta
        v += (1.0 - beta) * g if self.h["ema"] else g
        p -= lr * v


@_register
class Nesterov(Optimizer):
    name = "nesterov"
    description = "v = beta v + dW; W -= lr (dW + beta v) (look-ahead momentum)"
    params: ClassVar = {"momentum": _BETA}
    slots = ("v",)

    def update(self, xp, p, g, s, lr):
        beta = self.h["momentum"]
        v = s[0]
        v *= beta
        v += g
        p -= lr * (g + beta * v)


@_register
class Adagrad(Optimizer):
    name = "adagrad"
    description = "G += dW^2; W -= lr dW / (sqrt(G) + eps)"
    params: ClassVar = {"epsilon": _EPS}
    slots = ("G",)

    def update(self, xp, p, g, s, lr):
        G = s[0]
        G += g * g
        p -= lr * g / (xp.sqrt(G) + self.h["epsilon"])


@_register
class Adadelta(Optimizer):
    name = "adadelta"
    description = "step = sqrt(D + eps) / sqrt(S + eps) dW, from running averages (lr 1.0)"
    params: ClassVar = {"rho": Param(0.9, 0.0, 0.9999, "decay of the averages"),
                        "epsilon": Param(1e-6, 1e-12, 1.0, "added inside the roots")}
    slots = ("S", "D")

    def update(self, xp, p, g, s, lr):
        rho, eps = self.h["rho"], self.h["epsilon"]
        S, D = s
        S *= rho
        S += (1.0 - rho) * g * g
        dx = xp.sqrt(D + eps) / xp.sqrt(S + eps) * g
        D *= rho
        D += (1.0 - rho) * dx * dx
        p -= lr * dx


@_register
class RMSprop(Optimizer):
    name = "rmsprop"
    description = "s = rho s + (1 - rho) dW^2; W -= lr dW / (sqrt(s) + eps)"
    params: ClassVar = {"rho": Param(0.9, 0.0, 0.9999, "decay of the squared average"),
                        "epsilon": _EPS}
    slots = ("s",)

    def update(self, xp, p, g, s, lr):
        rho = self.h["rho"]
        sq = s[0]
        sq *= rho
        sq += (1.0 - rho) * g * g
        p -= lr * g / (xp.sqrt(sq) + self.h["epsilon"])


class _AdamBase(Optimizer):
    params: ClassVar = {"beta1": Param(0.9, 0.0, 0.9999, "decay of the first moment"),
                        "beta2": Param(0.999, 0.0, 0.99999, "decay of the second moment"),
                        "epsilon": _EPS}
    slots = ("m", "v")

    def moments(self, p: Array, g: Array, s: list[Array]) -> tuple[Array, float, float]:
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m, v = s
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * g * g
        return v, 1.0 - b1**self.t, 1.0 - b2**self.t


@_register
class Adam(_AdamBase):
    name = "adam"
    description = "momentum + RMSprop with bias correction: W -= lr m^ / (sqrt(v^) + eps)"

    def update(self, xp, p, g, s, lr):
        v, c1, c2 = self.moments(p, g, s)
        p -= (lr / c1) * s[0] / (xp.sqrt(v / c2) + self.h["epsilon"])


@_register
class Nadam(_AdamBase):
    name = "nadam"
    description = "Adam with Nesterov momentum (Dozat 2016, without the momentum schedule)"

    def update(self, xp, p, g, s, lr):
        b1 = self.h["beta1"]
        v, c1, c2 = self.moments(p, g, s)
        m_bar = (b1 / (1.0 - b1 ** (self.t + 1))) * s[0] + ((1.0 - b1) / c1) * g
        p -= lr * m_bar / (xp.sqrt(v / c2) + self.h["epsilon"])
