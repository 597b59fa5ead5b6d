"""What the engine needs to build a model: plain data, validated against the registries."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .activations import ACTIVATIONS
from .arrays import DTYPES
from .heads import resolve_head
from .initializers import INITIALIZERS
from .optimizers import OPTIMIZERS
from .params import ParamError, resolve
from .regularizers import REGULARIZERS


class SpecError(ValueError):
    """A model specification the engine cannot build; the message says what to change."""


@dataclass
class HiddenLayer:
    units: int
    activation: str = "tanh"


@dataclass
class ModelSpec:
    n_inputs: int
    hidden: list[HiddenLayer] = field(default_factory=list)
    problem: str = "classification"
    n_classes: int = 2
    output_activation: str = "auto"
    loss: str = "auto"
    loss_params: dict[str, float] = field(default_factory=dict)
    init: str = "xavier"
    init_scale: float | None = None
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    optimizer_params: dict[str, float] = field(default_factory=dict)
    decay: float = 0.0
    regularization: str = "none"
    regularization_rate: float = 0.0
    regularization_params: dict[str, float] = field(default_factory=dict)
    dropout: float = 0.0
    batch_norm: bool = False
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        self.hidden = [h if isinstance(h, HiddenLayer) else HiddenLayer(**h) for h in self.hidden]
        self.validate()

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise SpecError(message)

        need(self.n_inputs >= 1, "the network needs at least one input feature")
        for i, h in enumerate(self.hidden):
            need(h.units >= 1, f"hidden layer {i + 1} needs at least one unit")
            need(h.activation in ACTIVATIONS and ACTIVATIONS.get(h.activation).hidden,
                 f"hidden layer {i + 1}: activation {h.activation!r} is not one of "
                 + ", ".join(n for n, a in ACTIVATIONS.items() if a.hidden))
        try:
            resolve_head(self.problem, self.n_classes, self.output_activation, self.loss,
                         self.loss_params)
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        for registry, name, what in ((INITIALIZERS, self.init, "init"),
                                     (OPTIMIZERS, self.optimizer, "optimizer"),
                                     (REGULARIZERS, self.regularization, "regularization")):
            need(name in registry, f"{what} {name!r} is not one of {', '.join(registry)}")
        init_params = {} if self.init_scale is None else {"scale": self.init_scale}
        try:
            resolve(INITIALIZERS.get(self.init).params, init_params, f"init {self.init!r}")
            OPTIMIZERS.get(self.optimizer)(**self.optimizer_params)
            resolve(REGULARIZERS.get(self.regularization).params, self.regularization_params,
                    f"regularization {self.regularization!r}")
        except ParamError as exc:
            raise SpecError(str(exc)) from None
        for value, what in ((self.learning_rate, "learning_rate"), (self.decay, "decay"),
                            (self.regularization_rate, "regularization rate")):
            need(math.isfinite(value) and value >= 0, f"{what} must be a finite number >= 0")
        need(0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)")
        need(self.dtype in DTYPES, f"dtype must be one of {', '.join(DTYPES)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(**data)
