"""The experiment config: the public contract shared by REST, links, exports and the page.

Validated by pydantic against the registries and the limits, so bad input never reaches
the engine. Every error names the field and what is allowed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backend.data import DATASETS, FEATURES, MAX_NOISE, MAX_TRAIN_FRACTION, MIN_TRAIN_FRACTION
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
from backend.engine.params import Param, resolve

from .limits import DEFAULT_LIMITS, Limits

# The config's own numbers, declared once: the Fields below, /api/meta's "bounds" and
# docs/config.md come from here. The options' parameters live with the options.
BOUNDS: dict[str, Param] = {
    "n_samples": Param(500, 2, DEFAULT_LIMITS.max_samples, "points generated, train and test"),
    "noise": Param(0.0, 0.0, MAX_NOISE, "the TensorFlow Playground's 0..50 %"),
    "train_fraction": Param(0.5, MIN_TRAIN_FRACTION, MAX_TRAIN_FRACTION,
                            "the share of the points that trains"),
    "classes": Param(2, 2, MAX_CLASSES, "more than 2 only for " + ", ".join(
        name for name, d in DATASETS.items() if d.max_classes > 2)),
    "seed": Param(0, 0, 2**32 - 1, "the same seed gives the same points, weights and curve"),
    "learning_rate": Param(0.03, 0.0, 10.0, "lr0, the rate at epoch 0"),
    "decay": Param(0.0, 0.0, 10.0, "lr = lr0 / (1 + decay * epoch)"),
    "batch_size": Param(10, 1, DEFAULT_LIMITS.max_samples, 'examples per step, or "full"'),
    "regularization_rate": Param(0.0, 0.0, 10.0, "the weight of the penalty"),
    "dropout": Param(0.0, 0.0, 0.9, "the probability of dropping a hidden unit"),
}
# Highs that the server's limits set (they may differ from the defaults above).
CAPPED = {"n_samples": "max_samples", "batch_size": "max_samples"}
# Each optimizer parameter is a field of its own; an optimizer takes only its own.
OPTIMIZER_PARAMS = tuple(dict.fromkeys(k for _, o in OPTIMIZERS.items() for k in o.params))


def bounds(limits: Limits = DEFAULT_LIMITS) -> dict[str, Param]:
    """BOUNDS with the highs that these limits set."""
    return {name: replace(p, high=getattr(limits, CAPPED[name])) if name in CAPPED else p
            for name, p in BOUNDS.items()}


def _field(name: str) -> Any:
    """A Field with BOUNDS[name]'s default and bounds; a capped high is checked by a
    validator against the request's limits."""
    p = BOUNDS[name]
    return Field(p.default, ge=p.low, le=None if name in CAPPED else p.high,
                 allow_inf_nan=False, description=p.description)


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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(Strict):
    name: str = "circle"
    n_samples: int = _field("n_samples")
    noise: float = _field("noise")
    train_fraction: float = _field("train_fraction")
    seed: int = _field("seed")
    classes: int = _field("classes")
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
    scale: float | None = Field(None, description="uniform's half-width, normal's std")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, INITIALIZERS, "init")

    def params(self) -> dict[str, float]:
        return {} if self.scale is None else {"scale": self.scale}

    @model_validator(mode="after")
    def _params_fit(self) -> InitConfig:
        resolve(INITIALIZERS.get(self.name).params, self.params(), f"init {self.name!r}")
        return self


class OptimizerConfig(Strict):
    name: str = "sgd"
    learning_rate: float = _field("learning_rate")
    decay: float = _field("decay")
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
        resolve(OPTIMIZERS.get(self.name).params, self.hyperparameters(),
                f"optimizer {self.name!r}")
        return self


class RegularizationConfig(Strict):
    name: str = "none"
    rate: float = _field("regularization_rate")
    l1_ratio: float | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, REGULARIZERS, "regularization")

    def params(self) -> dict[str, float]:
        return {} if self.l1_ratio is None else {"l1_ratio": self.l1_ratio}

    @model_validator(mode="after")
    def _params_fit(self) -> RegularizationConfig:
        resolve(REGULARIZERS.get(self.name).params, self.params(),
                f"regularization {self.name!r}")
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
    batch_size: int | Literal["full"] = Field(BOUNDS["batch_size"].default,
                                              description=BOUNDS["batch_size"].description)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    dropout: float = _field("dropout")
    batch_norm: bool = False
    seed: int = _field("seed")

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
    def _batch(cls, v: int | str, info: ValidationInfo) -> int | str:
        if isinstance(v, int):
            if v < BOUNDS["batch_size"].low:
                raise ValueError(f"batch_size must be at least {BOUNDS['batch_size'].low}, "
                                 "or 'full'")
            _at_most(v, _limits(info).max_samples, "examples per batch")
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
            regularization_params=self.regularization.params(),
            dropout=self.dropout, batch_norm=self.batch_norm, seed=self.seed, dtype=dtype)


def parse_config(data: Any, limits: Limits = DEFAULT_LIMITS) -> ExperimentConfig:
    return ExperimentConfig.model_validate(data, context={"limits": limits})
