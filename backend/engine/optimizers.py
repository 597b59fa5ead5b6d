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
    """Base: its hyperparameters' table (`params`), state arrays per weight, the step count.

    A step works out its scalars first (`coefficients`, in Python floats: from the
    hyperparameters, the learning rate and t), then applies them to every array
    (`update`, which reads nothing else). A group (group.py) works out each network's
    scalars alike and applies them at once as (K, 1, 1) arrays of the arrays' dtype: a
    float scalar times a float32 array is computed in float32, so both give the same
    numbers. A coefficient None means 1: no multiply.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    slots: ClassVar[tuple[str, ...]] = ()  # names of the state arrays kept per parameter
    counts_steps: ClassVar[bool] = False  # whether the scalars depend on t

    def __init__(self, **hyper: float) -> None:
        self.h = resolve(self.params, hyper, f"optimizer {self.name!r}")
        self.t = 0
        self.state: list[list[Array]] = []

    def bind(self, xp: Any, params: list[Array]) -> None:
        self.state = [[xp.zeros_like(p) for _ in self.slots] for p in params]

    def step(self, xp: Any, params: list[Array], grads: list[Array], lr: float) -> None:
        self.t += 1
        c = self.coefficients(lr, self.t)
        for p, g, s in zip(params, grads, self.state, strict=True):
            self.update(xp, p, g, s, c)

    def coefficients(self, lr: float, t: int) -> dict[str, Any]:
        """The scalars of step t at learning rate lr."""
        return {"lr": lr}

    def update(self, xp: Any, p: Array, g: Array, s: list[Array], c: dict[str, Any]) -> None:
        raise NotImplementedError


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def _register(cls: type[Optimizer]) -> type[Optimizer]:
    return OPTIMIZERS.add(cls.name, cls)


@_register
class SGD(Optimizer):
    name = "sgd"
    description = "W -= lr dW"

    def update(self, xp, p, g, s, c):
        p -= c["lr"] * g


@_register
class Momentum(Optimizer):
    name = "momentum"
    description = "v = beta v + dW; W -= lr v (ema: v = beta v + (1 - beta) dW)"
    params: ClassVar = {"momentum": _BETA,
                        "ema": Param(0.0, 0.0, 1.0, "1: the course's averaged form")}
    slots = ("v",)

    def coefficients(self, lr, t):
        beta = self.h["momentum"]
        return {"lr": lr, "beta": beta, "gain": (1.0 - beta) if self.h["ema"] else None}

    def update(self, xp, p, g, s, c):
        v = s[0]
        v *= c["beta"]
        v += g if c["gain"] is None else c["gain"] * g
        p -= c["lr"] * v


@_register
class Nesterov(Optimizer):
    name = "nesterov"
    description = "v = beta v + dW; W -= lr (dW + beta v) (look-ahead momentum)"
    params: ClassVar = {"momentum": _BETA}
    slots = ("v",)

    def coefficients(self, lr, t):
        return {"lr": lr, "beta": self.h["momentum"]}

    def update(self, xp, p, g, s, c):
        v = s[0]
        v *= c["beta"]
        v += g
        p -= c["lr"] * (g + c["beta"] * v)


@_register
class Adagrad(Optimizer):
    name = "adagrad"
    description = "G += dW^2; W -= lr dW / (sqrt(G) + eps)"
    params: ClassVar = {"epsilon": _EPS}
    slots = ("G",)

    def coefficients(self, lr, t):
        return {"lr": lr, "eps": self.h["epsilon"]}

    def update(self, xp, p, g, s, c):
        G = s[0]
        G += g * g
        p -= c["lr"] * g / (xp.sqrt(G) + c["eps"])


@_register
class Adadelta(Optimizer):
    name = "adadelta"
    description = "step = sqrt(D + eps) / sqrt(S + eps) dW, from running averages (lr 1.0)"
    params: ClassVar = {"rho": Param(0.9, 0.0, 0.9999, "decay of the averages"),
                        "epsilon": Param(1e-6, 1e-12, 1.0, "added inside the roots")}
    slots = ("S", "D")

    def coefficients(self, lr, t):
        rho = self.h["rho"]
        return {"lr": lr, "rho": rho, "keep": 1.0 - rho, "eps": self.h["epsilon"]}

    def update(self, xp, p, g, s, c):
        rho, keep, eps = c["rho"], c["keep"], c["eps"]
        S, D = s
        S *= rho
        S += keep * g * g
        dx = xp.sqrt(D + eps) / xp.sqrt(S + eps) * g
        D *= rho
        D += keep * dx * dx
        p -= c["lr"] * dx


@_register
class RMSprop(Optimizer):
    name = "rmsprop"
    description = "s = rho s + (1 - rho) dW^2; W -= lr dW / (sqrt(s) + eps)"
    params: ClassVar = {"rho": Param(0.9, 0.0, 0.9999, "decay of the squared average"),
                        "epsilon": _EPS}
    slots = ("s",)

    def coefficients(self, lr, t):
        rho = self.h["rho"]
        return {"lr": lr, "rho": rho, "keep": 1.0 - rho, "eps": self.h["epsilon"]}

    def update(self, xp, p, g, s, c):
        sq = s[0]
        sq *= c["rho"]
        sq += c["keep"] * g * g
        p -= c["lr"] * g / (xp.sqrt(sq) + c["eps"])


class _AdamBase(Optimizer):
    params: ClassVar = {"beta1": Param(0.9, 0.0, 0.9999, "decay of the first moment"),
                        "beta2": Param(0.999, 0.0, 0.99999, "decay of the second moment"),
                        "epsilon": _EPS}
    slots = ("m", "v")
    counts_steps = True

    def coefficients(self, lr, t):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        # c1 and c2: the bias corrections 1 - beta^t
        return {"lr": lr, "b1": b1, "k1": 1.0 - b1, "b2": b2, "k2": 1.0 - b2,
                "c1": 1.0 - b1**t, "c2": 1.0 - b2**t, "eps": self.h["epsilon"]}

    def moments(self, g: Array, s: list[Array], c: dict[str, Any]) -> None:
        m, v = s
        m *= c["b1"]
        m += c["k1"] * g
        v *= c["b2"]
        v += c["k2"] * g * g


@_register
class Adam(_AdamBase):
    name = "adam"
    description = "momentum + RMSprop with bias correction: W -= lr m^ / (sqrt(v^) + eps)"

    def coefficients(self, lr, t):
        c = super().coefficients(lr, t)
        c["step"] = lr / c["c1"]
        return c

    def update(self, xp, p, g, s, c):
        self.moments(g, s, c)
        p -= c["step"] * s[0] / (xp.sqrt(s[1] / c["c2"]) + c["eps"])


@_register
class Nadam(_AdamBase):
    name = "nadam"
    description = "Adam with Nesterov momentum (Dozat 2016, without the momentum schedule)"

    def coefficients(self, lr, t):
        c = super().coefficients(lr, t)
        b1 = c["b1"]
        c["mix_m"] = b1 / (1.0 - b1 ** (t + 1))
        c["mix_g"] = (1.0 - b1) / c["c1"]
        return c

    def update(self, xp, p, g, s, c):
        self.moments(g, s, c)
        m_bar = c["mix_m"] * s[0] + c["mix_g"] * g
        p -= c["lr"] * m_bar / (xp.sqrt(s[1] / c["c2"]) + c["eps"])
