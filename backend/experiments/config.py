"""The experiment config: the public contract shared by REST, links, exports and the page.

Validated by pydantic against the registries and the limits, so bad input never reaches
the engine. Every error names the field and what is allowed.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backend.data import DATASETS, FEATURES
from backend.engine import (
    ACTIVATIONS,
    INITIALIZERS,
    MAX_CLASSES,
    OPTIMIZERS,
    REGULARIZERS,
    HeadError,
    ModelSpec,
    resolve_head,
)
from backend.engine.params import Param

from .limits import DEFAULT_LIMITS, Limits

Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
OPTIMIZER_PARAMS = ("momentum", "ema", "beta1", "beta2", "epsilon", "rho")


def _limits(info: ValidationInfo) -> Limits:
    return (info.context or {}).get("limits", DEFAULT_LIMITS)


def _at_most(value: int, limit: int, what: str) -> int:
    if value > limit:
        raise ValueError(f"at most {limit} {what}")
    return value


def _one_of(name: str, allowed: Any, what: str) -> str:
    if name not in allowed:
        raise ValueError(f"unknown {what} {name!r}; allowed: {', '.join(allowed)}")
    return name


def _check_params(given: dict[str, float], allowed: dict[str, Param], owner: str) -> None:
    for key, value in given.items():
        if key not in allowed:
            names = ", ".join(allowed) or "no parameters"
            raise ValueError(f"{owner} takes {names}; not {key!r}")
        spec = allowed[key]
        if not (math.isfinite(value) and spec.low <= value <= spec.high):
            raise ValueError(f"{owner}: {key} must be between {spec.low:g} and {spec.high:g}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(Strict):
    name: str = "circle"
    n_samples: int = Field(500, ge=2)
    noise: float = Field(0.0, ge=0.0, le=0.5, allow_inf_nan=False)
    train_fraction: float = Field(0.5, ge=0.1, le=0.9, allow_inf_nan=False)
    seed: Seed = 0
    classes: int = Field(2, ge=2, le=MAX_CLASSES)
    id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, [*DATASETS, "custom"], "dataset")

    @field_validator("n_samples")
    @classmethod
    def _bounded(cls, v: int, info: ValidationInfo) -> int:
        return _at_most(v, _limits(info).max_samples, "samples")

    @model_validator(mode="after")
    def _custom_has_id(self) -> DatasetConfig:
        if self.name == "custom" and not self.id:
            raise ValueError("a custom data set needs the 'id' of an uploaded data set")
        if self.name != "custom":
            spec = DATASETS[self.name]
            if not spec.min_classes <= self.classes <= spec.max_classes:
                allowed = (str(spec.min_classes) if spec.min_classes == spec.max_classes
                           else f"{spec.min_classes} to {spec.max_classes}")
                raise ValueError(f"data set {self.name!r} has {allowed} classes, not "
                                 f"{self.classes}")
        return self


class LayerConfig(Strict):
    units: int = Field(ge=1)
    activation: str = "tanh"

    @field_validator("units")
    @classmethod
    def _bounded(cls, v: int, info: ValidationInfo) -> int:
        return _at_most(v, _limits(info).max_units, "units per layer")

    @field_validator("activation")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, [n for n, a in ACTIVATIONS.items() if a.hidden], "activation")


class InitConfig(Strict):
    name: str = "xavier"
    scale: float | None = Field(None, ge=0.0, le=100.0, allow_inf_nan=False)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, INITIALIZERS, "init")


class OptimizerConfig(Strict):
    name: str = "sgd"
    learning_rate: float = Field(0.03, ge=0.0, le=10.0, allow_inf_nan=False)
    decay: float = Field(0.0, ge=0.0, le=10.0, allow_inf_nan=False)
    momentum: float | None = None
    ema: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    epsilon: float | None = None
    rho: float | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, OPTIMIZERS, "optimizer")

    def hyperparameters(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in OPTIMIZER_PARAMS
                if getattr(self, k) is not None}

    @model_validator(mode="after")
    def _params_fit(self) -> OptimizerConfig:
        _check_params(self.hyperparameters(), OPTIMIZERS.get(self.name).hyper,
                      f"optimizer {self.name!r}")
        return self


class RegularizationConfig(Strict):
    name: str = "none"
    rate: float = Field(0.0, ge=0.0, le=10.0, allow_inf_nan=False)
    l1_ratio: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, REGULARIZERS, "regularization")

    @model_validator(mode="after")
    def _params_fit(self) -> RegularizationConfig:
        given = {"l1_ratio": self.l1_ratio} if self.l1_ratio is not None else {}
        _check_params(given, REGULARIZERS.get(self.name).params, f"regularization {self.name!r}")
        return self


class ExperimentConfig(Strict):
    problem: Literal["classification", "regression"] = "classification"
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    features: list[str] = Field(default_factory=lambda: ["x1", "x2"], min_length=1)
    hidden_layers: list[LayerConfig] = Field(
        default_factory=lambda: [LayerConfig(units=4), LayerConfig(units=2)])
    output_activation: str = "auto"
    loss: str = "auto"
    loss_params: dict[str, float] = Field(default_factory=dict)
    init: InitConfig = Field(default_factory=InitConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    batch_size: int | Literal["full"] = 10
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    dropout: float = Field(0.0, ge=0.0, le=0.9, allow_inf_nan=False)
    batch_norm: bool = False
    seed: Seed = 0

    @field_validator("features")
    @classmethod
    def _features(cls, v: list[str]) -> list[str]:
        for name in v:
            _one_of(name, FEATURES, "feature")
        if len(set(v)) != len(v):
            raise ValueError("each feature at most once")
        return v

    @field_validator("hidden_layers")
    @classmethod
    def _depth(cls, v: list[LayerConfig], info: ValidationInfo) -> list[LayerConfig]:
        _at_most(len(v), _limits(info).max_layers, "hidden layers")
        return v

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("batch_size must be at least 1, or 'full'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        ds = self.dataset
        if ds.name != "custom" and DATASETS[ds.name].problem != self.problem:
            raise ValueError(f"data set {ds.name!r} is for {DATASETS[ds.name].problem}; "
                             f"set problem to {DATASETS[ds.name].problem!r} or pick another")
        try:
            resolve_head(self.problem, self.n_classes, self.output_activation, self.loss,
                         self.loss_params)
        except HeadError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def n_classes(self) -> int:
        return self.dataset.classes if self.problem == "classification" else 1

    def to_spec(self, n_classes: int | None = None, dtype: str = "float32") -> ModelSpec:
        """The engine's spec; an uploaded data set may bring its own number of classes."""
        classes = n_classes if n_classes is not None else self.dataset.classes
        return ModelSpec(
            n_inputs=len(self.features),
            hidden=[{"units": h.units, "activation": h.activation} for h in self.hidden_layers],
            problem=self.problem, n_classes=classes if self.problem == "classification" else 2,
            output_activation=self.output_activation, loss=self.loss,
            loss_params=dict(self.loss_params), init=self.init.name, init_scale=self.init.scale,
            optimizer=self.optimizer.name, learning_rate=self.optimizer.learning_rate,
            optimizer_params=self.optimizer.hyperparameters(), decay=self.optimizer.decay,
            regularization=self.regularization.name,
            regularization_rate=self.regularization.rate,
            regularization_params=({"l1_ratio": self.regularization.l1_ratio}
                                   if self.regularization.l1_ratio is not None else {}),
            dropout=self.dropout, batch_norm=self.batch_norm, seed=self.seed, dtype=dtype)


def parse_config(data: Any, limits: Limits = DEFAULT_LIMITS) -> ExperimentConfig:
    return ExperimentConfig.model_validate(data, context={"limits": limits})
