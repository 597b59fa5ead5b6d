"""The output layer's activation and loss, and how labels map to targets and back.

"auto" picks what a course would: 2 classes -> sigmoid + binary cross-entropy, k classes
-> softmax + cross-entropy, regression -> linear + mse. Any other pairing that makes
sense is allowed, e.g. the TensorFlow Playground's tanh output with mse and +-1 targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .activations import ACTIVATIONS, Activation
from .losses import LOSSES, Loss
from .params import ParamError, resolve

PROBLEMS = ("classification", "regression")
MAX_CLASSES = 10

Array = Any


class HeadError(ValueError):
    """An output activation and loss that do not fit the problem."""


@dataclass(frozen=True)
class Head:
    problem: str
    n_classes: int
    activation: Activation
    loss: Loss
    loss_params: dict[str, float]

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.one_hot else 1

    @property
    def one_hot(self) -> bool:
        return self.problem == "classification" and self.activation.name == "softmax"

    @property
    def signed(self) -> bool:
        """Binary targets are -1/+1 (tanh-like outputs, hinge) instead of 0/1."""
        return (self.problem == "classification" and not self.one_hot
                and (self.activation.low < 0 or self.loss.name == "hinge"))

    def targets(self, xp: Any, y: Array, dtype: Any) -> Array:
        """Labels (class indices) or regression values -> the (m, n_outputs) target array."""
        y = xp.asarray(y)
        if self.problem == "regression":
            return y.astype(dtype).reshape(-1, 1)
        if self.one_hot:
            return (y.reshape(-1, 1) == xp.arange(self.n_classes)).astype(dtype)
        t = y.astype(dtype).reshape(-1, 1)
        return 2.0 * t - 1.0 if self.signed else t

    def probabilities(self, xp: Any, a: Array) -> Array:
        """Output -> class probabilities (m, k); for binary heads, P(class 1) in column 1."""
        if self.one_hot:
            return a
        p1 = xp.clip((a[:, 0] + 1.0) / 2.0 if self.signed else a[:, 0], 0.0, 1.0)
        return xp.stack([1.0 - p1, p1], axis=1)

    def classes(self, xp: Any, a: Array) -> Array:
        if self.one_hot:
            return a.argmax(axis=1)
        threshold = 0.0 if self.signed else 0.5
        return (a[:, 0] >= threshold).astype(xp.int64)


def resolve_head(problem: str, n_classes: int, output_activation: str = "auto",
                 loss: str = "auto", loss_params: dict[str, float] | None = None) -> Head:
    """Validate and resolve the head; errors say which choice to change."""
    if problem not in PROBLEMS:
        raise HeadError(f"problem must be one of {', '.join(PROBLEMS)}, not {problem!r}")
    if problem == "classification" and not 2 <= n_classes <= MAX_CLASSES:
        raise HeadError(f"classification needs 2 to {MAX_CLASSES} classes, not {n_classes}")
    k = n_classes if problem == "classification" else 1
    if output_activation == "auto":
        output_activation = ("linear" if problem == "regression"
                             else "sigmoid" if k == 2 else "softmax")
    if loss == "auto":
        loss = ("mse" if problem == "regression" or output_activation not in ("sigmoid", "softmax")
                else "binary_cross_entropy" if output_activation == "sigmoid" else "cross_entropy")
    act = _lookup(ACTIVATIONS, output_activation, "output_activation")
    lss = _lookup(LOSSES, loss, "loss")
    if lss.needs and act.name != lss.needs:
        raise HeadError(f"loss {loss!r} needs output_activation {lss.needs!r}, not {act.name!r}")
    if problem == "regression":
        if act.name == "softmax":
            raise HeadError("regression cannot use a softmax output")
        if lss.needs or loss == "hinge":
            raise HeadError(f"loss {loss!r} is for classification; use mse, mae or huber")
    if problem == "classification":
        if act.name != "softmax" and k > 2:
            raise HeadError(f"{k} classes need output_activation 'softmax' (or 'auto')")
        if loss == "hinge" and act.name in ("softmax", "sigmoid"):
            raise HeadError("hinge loss needs an output in [-1, 1] or unbounded: tanh or linear")
        if act.low >= 0 and act.name not in ("sigmoid", "softmax"):
            raise HeadError(f"output_activation {act.name!r} cannot output a class probability; "
                            "use sigmoid, softmax, tanh or linear")
    try:
        params = resolve(lss.params, loss_params or {}, f"loss {lss.name!r}")
    except ParamError as exc:
        raise HeadError(str(exc)) from None
    return Head(problem, k, act, lss, params)


def _lookup(registry: Any, name: str, field: str) -> Any:
    try:
        return registry.get(name)
    except KeyError as exc:
        raise HeadError(f"{field}: {exc.args[0]}") from None
