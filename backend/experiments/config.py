"""The experiment config: the public contract shared by REST, links, exports and the page.

Validated by pydantic against the registries and the limits, so bad input never reaches
the engine. Every error names the field and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

from backend.data import DATASETS, FEATURES, MAX_NOISE, MAX_TRAIN_FRACTION, MIN_TRAIN_FRACTION
from backend.data.images import IMAGE_SETS, MAX_SIDE
from backend.data.sequences import SEQUENCE_SETS
from backend.engine import (
    INITIALIZERS,
    LAYER_TYPES,
    MAX_CLASSES,
    OPTIMIZERS,
    REGULARIZERS,
    HeadError,
    LayerField,
    ModelSpec,
    SpecError,
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


def layer_field(field: LayerField, limits: Limits = DEFAULT_LIMITS) -> LayerField:
    """A layer type's field with the high that these limits set."""
    return replace(field, high=getattr(limits, field.cap)) if field.cap else field


def _field(name: str) -> Any:
    """A Field with BOUNDS[name]'s default and bounds; a capped high is checked by a
    validator against the request's limits."""
    p = BOUNDS[name]
    # Not on whole numbers: pydantic's check of one of 4000 digits overflows (a 500).
    finite = {"allow_inf_nan": False} if isinstance(p.default, float) else {}
    return Field(p.default, ge=p.low, le=None if name in CAPPED else p.high,
                 description=p.description, **finite)


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
    """No unknown field, and no coercion: true is not 1, "0.1" is not a number."""

    model_config = ConfigDict(extra="forbid", strict=True)


class DatasetConfig(Strict):
    name: str = "circle"
    n_samples: int = _field("n_samples")
    noise: float = _field("noise")
    train_fraction: float = _field("train_fraction")
    seed: int = _field("seed")
    classes: int = _field("classes")
    id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    side: int | None = Field(None, description="a built-in image set's side in pixels: the "
                             "digits resampled to it, the shapes drawn at it; null: its own")
    length: int | None = Field(None, description="a built-in sequence set's steps (sine and "
                               "waves: 10 to 200; mnist1d: 40); null: its own")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, [*DATASETS, *IMAGE_SETS, *SEQUENCE_SETS, "custom"], "dataset")

    @field_validator("n_samples")
    @classmethod
    def _bounded(cls, v: int, info: ValidationInfo) -> int:
        return _at_most(v, _limits(info).max_samples, "samples")

    @model_validator(mode="after")
    def _custom_has_id(self) -> DatasetConfig:
        if self.name == "custom" and not self.id:
            raise ValueError("a custom data set needs the 'id' of an uploaded data set")
        if self.name != "custom":
            spec = (DATASETS.get(self.name) or IMAGE_SETS.get(self.name)
                    or SEQUENCE_SETS[self.name])
            if getattr(spec, "problem", "") == "regression" and self.classes != 2:
                raise ValueError(f"data set {self.name!r} is a regression set: it has no "
                                 "classes; leave classes out (or send null)")
            if not spec.min_classes <= self.classes <= spec.max_classes:
                allowed = (str(spec.min_classes) if spec.min_classes == spec.max_classes
                           else f"{spec.min_classes} to {spec.max_classes}")
                raise ValueError(f"data set {self.name!r} has {allowed} classes, not "
                                 f"{self.classes}")
        if self.side is not None:
            image_set = IMAGE_SETS.get(self.name)
            if image_set is None:
                raise ValueError(f"side is for the built-in image sets ({', '.join(IMAGE_SETS)})"
                                 f": {self.name!r} has no pixels to resize; send side null")
            low, high = image_set.sides
            if not low <= self.side <= high:
                raise ValueError(f"side: {self.name} can be had at {low} to {high} pixels a "
                                 f"side, not {self.side}")
        if self.length is not None:
            self._check_length(self.length)
        return self

    def _check_length(self, length: int) -> None:
        sequence_set = SEQUENCE_SETS.get(self.name)
        if sequence_set is None:
            raise ValueError(f"length is for the built-in sequence sets ("
                             f"{', '.join(SEQUENCE_SETS)}): {self.name!r} has no steps to "
                             "choose; send length null")
        low, high = sequence_set.lengths
        if low == high and length != low:
            raise ValueError(f"length: {self.name} is {low} steps long, always; send {low} "
                             "or null")
        if not low <= length <= high:
            raise ValueError(f"length: {self.name} can be had at {low} to {high} steps, not "
                             f"{length}")

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """One image's (channels, height, width) for a built-in image set; None otherwise
        (an upload's is known once it is read)."""
        spec = IMAGE_SETS.get(self.name)
        return None if spec is None else spec.shape_at(self.side)

    @property
    def sequence_shape(self) -> tuple[int, int] | None:
        """One sequence's (steps, channels) for a built-in sequence set; None otherwise
        (an upload's is known once it is read)."""
        spec = SEQUENCE_SETS.get(self.name)
        return None if spec is None else (self.length or spec.length, spec.channels)


class _LayerBase(Strict):
    """What every entry of hidden_layers shares; LayerConfig adds a field for each field
    of any layer type (engine/layertypes.py). Each type takes only its own fields,
    checked against its own bounds; a dense entry is written back without its type, as
    it always was."""

    @field_validator("*")
    @classmethod
    def _bounded(cls, v: Any, info: ValidationInfo) -> Any:
        kind = LAYER_TYPES.get(info.data.get("type", "dense"))
        name = info.field_name or ""
        if v is None or kind is None or name not in kind.token:
            return v  # a field of another type: _its_own_fields says so
        limits = _limits(info)
        field = layer_field(kind.field(name), limits)
        if name == "activation":  # a plain string in the schema: said here as it always was
            return _one_of(v, field.choices, "activation")
        if field.choices is not None:
            return v
        if v < field.low:
            raise ValueError(f"must be at least {field.low}")
        if name == "units" and kind.name == "dense":  # the data set the cap: see _depth
            high = max(field.high, limits.max_units)  # type: ignore[type-var]
            if v > high:
                raise ValueError(f"at most {high} units per layer (on images and sequences; "
                                 f"{limits.max_units} on 2-D points)")
            return v
        if v > field.high:  # type: ignore[operator]
            raise ValueError(f"at most {field.high} {name} per layer" if field.cap else
                             f"must be at most {field.high}")
        return v

    @model_validator(mode="after")
    def _its_own_fields(self) -> _LayerBase:
        kind = LAYER_TYPES[self.type]  # type: ignore[attr-defined]
        own = [f.name for f in kind.fields]
        foreign = [k for k in self.model_fields_set if k != "type" and k not in own
                   and getattr(self, k) is not None]
        if foreign:
            raise ValueError(f"a {kind.name} layer takes no {', '.join(sorted(foreign))}; it "
                             f"takes {', '.join(own)}")
        for f in kind.fields:
            if getattr(self, f.name) is None:
                if f.default is None:
                    raise ValueError(f"a {kind.name} layer needs {f.name}")
                setattr(self, f.name, f.default)
        return self

    @model_serializer(mode="wrap")
    def _only_its_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        kind = LAYER_TYPES[self.type]  # type: ignore[attr-defined]
        own = {f.name: data[f.name] for f in kind.fields}
        return own if kind.name == "dense" else {"type": kind.name, **own}

    def spec_entry(self) -> dict[str, Any]:
        """The engine's entry of ModelSpec.hidden."""
        return self.model_dump()


def _layer_field(field: LayerField) -> tuple[Any, Any]:
    """The pydantic field of a layer type's field: a whole number, a boolean, a name, or
    one of a few words."""
    if field.choices is None:
        return int | None, Field(None, ge=field.low, description=field.description)
    if isinstance(field.choices[0], bool):
        return bool | None, Field(None, description=field.description)
    if field.name == "activation":
        return str | None, Field(None, description="a hidden activation; dense: tanh, conv: "
                                 "relu")
    return Literal[field.choices] | None, Field(None, description=field.description)


def _each_name() -> dict[str, LayerField]:
    """Every field of every type once, in the types' order: a name means the same in every
    type (its bounds may differ: _LayerBase checks those of the entry's own type)."""
    fields: dict[str, LayerField] = {}
    for kind in LAYER_TYPES.values():
        for f in kind.fields:
            fields.setdefault(f.name, f)
    return fields


LayerConfig = create_model(  # type: ignore[call-overload]
    "LayerConfig", __base__=_LayerBase, __doc__=_LayerBase.__doc__,
    type=(Literal[tuple(LAYER_TYPES)], "dense"),
    **{name: _layer_field(f) for name, f in _each_name().items()})


class InitConfig(Strict):
    name: str = "xavier"
    scale: float | None = Field(None, description="uniform's half-width, normal's std")
    recurrent: Literal["orthogonal", "init"] = Field(
        "orthogonal", description="a recurrent layer's state-to-state weights: orthogonal "
        "(as Keras), or drawn by this initializer like the others")

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
    clip_norm: float | None = Field(None, gt=0.0, le=1e6, allow_inf_nan=False,
                                    description="global-norm gradient clipping (Pascanu et al. "
                                    "2013): the gradients are scaled down together when their "
                                    "norm is above it; null: none")

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
    features: list[str] = Field(default_factory=lambda: ["x1", "x2"],
                                description="[] for images")
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

    @model_validator(mode="before")
    @classmethod
    def _image_defaults(cls, data: Any) -> Any:
        """A built-in image or sequence set given without features or classes gets [] and
        its own (an image set's most, a sequence set's default), and a set with a published
        split given without train_fraction that split's."""
        if not isinstance(data, dict) or not isinstance(data.get("dataset"), dict):
            return data
        name = data["dataset"].get("name")
        if not isinstance(name, str):
            return data
        image_set, sequence_set = IMAGE_SETS.get(name), SEQUENCE_SETS.get(name)
        if image_set is None and sequence_set is None:
            return data
        data = {**data, "features": data.get("features", [])}
        if "classes" not in data["dataset"]:
            classes = image_set.max_classes if image_set else sequence_set.classes  # type: ignore[union-attr]
            data["dataset"] = {**data["dataset"], "classes": classes}
        split = sequence_set.train_fraction if sequence_set else None
        if split is not None and "train_fraction" not in data["dataset"]:
            data["dataset"] = {**data["dataset"], "train_fraction": split}
        return data

    @field_validator("features")
    @classmethod
    def _features(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for name in v:
            _one_of(name, FEATURES, "feature")
        if len(set(v)) != len(v):
            raise ValueError("each feature at most once")
        ds = info.data.get("dataset")
        if ds is not None and ds.name in IMAGE_SETS and v:
            raise ValueError(f"data set {ds.name!r} is images, which have no x1, x2 "
                             "features: send [] (the pixels are the input)")
        if ds is not None and ds.name in SEQUENCE_SETS and v:
            raise ValueError(f"data set {ds.name!r} is sequences, which have no x1, x2 "
                             "features: send [] (the steps are the input)")
        if ds is not None and ds.name in DATASETS and not v:
            raise ValueError(f"data set {ds.name!r} is 2-D points: choose at least one input "
                             "feature, such as x1 and x2 ([] is for image and sequence data "
                             "sets)")
        return v

    @field_validator("hidden_layers")
    @classmethod
    def _depth(cls, v: list[LayerConfig], info: ValidationInfo) -> list[LayerConfig]:
        limits = _limits(info)
        _at_most(len(v), limits.max_layers, "hidden layers")
        ds, features = info.data.get("dataset"), info.data.get("features")
        if ds is None or features is None:
            return v
        kind = ("sequences" if ds.name in SEQUENCE_SETS else "images"
                if ds.name in IMAGE_SETS or (ds.name == "custom" and not features) else "points")
        cap, why = ((limits.max_image_units, "(max_image_units)") if kind != "points" else
                    (limits.max_units, "on 2-D points, where the page draws every neuron (an "
                                       "image or sequence network may have "
                                       f"{limits.max_image_units})"))
        for i, h in enumerate(v):
            if h.type == "dense" and h.units is not None and h.units > cap:
                raise ValueError(f"hidden layer {i + 1}: at most {cap} units per layer {why}")
        if kind == "points":
            for i, h in enumerate(v):
                kinds = LAYER_TYPES[h.type].inputs
                if "points" not in kinds:
                    what = (f"features {features} make this upload 2-D points (send "
                            "features [] for uploaded images or sequences)"
                            if ds.name == "custom" else f"data set {ds.name!r} is 2-D points")
                    needs = " or ".join(k.removesuffix("s") for k in kinds)
                    raise ValueError(f"hidden layer {i + 1}: {h.type} layers need {needs} "
                                     f"data; {what}")
            return v
        if ds.name == "custom" and any("images" not in LAYER_TYPES[h.type].inputs for h in v):
            return v  # sequences, it seems: checked against the upload's when it is made
        # A built-in set's input has a known shape; an upload's is checked against its own
        # when the experiment is made (the largest image allowed stands in here).
        shape = ds.image_shape or ds.sequence_shape or (3, MAX_SIDE, MAX_SIDE)
        sequence_set = SEQUENCE_SETS.get(ds.name)
        try:
            spec = ModelSpec(n_inputs=math.prod(shape), input_shape=shape,
                             hidden=[h.spec_entry() for h in v],
                             per_step=bool(sequence_set and sequence_set.per_step))
        except SpecError as exc:
            raise ValueError(str(exc)) from None
        built_in = IMAGE_SETS.get(ds.name) or sequence_set
        if built_in is not None:
            check_size(spec, ds.classes, limits, built_in.size or ds.n_samples)
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
        if ds.name in IMAGE_SETS and self.problem != "classification":
            raise ValueError(f"data set {ds.name!r} is for classification; set problem to "
                             "'classification' or pick another")
        if ds.name in DATASETS and DATASETS[ds.name].problem != self.problem:
            raise ValueError(f"data set {ds.name!r} is for {DATASETS[ds.name].problem}; "
                             f"set problem to {DATASETS[ds.name].problem!r} or pick another")
        if ds.name in SEQUENCE_SETS and SEQUENCE_SETS[ds.name].problem != self.problem:
            problem = SEQUENCE_SETS[ds.name].problem
            raise ValueError(f"data set {ds.name!r} is for {problem}; set problem to "
                             f"{problem!r} or pick another")
        try:
            resolve_head(self.problem, self.n_classes, self.output_activation, self.loss,
                         self.loss_params)
        except HeadError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def n_classes(self) -> int:
        return self.dataset.classes if self.problem == "classification" else 1

    @property
    def input_kind(self) -> Literal["points", "images", "sequences"]:
        """Which kind of data the network takes: a built-in image set, or an upload with
        features [] (images, or sequences: the upload alone says which, see
        ExperimentData.kind), is images; a built-in sequence set sequences; everything
        else 2-D points."""
        ds = self.dataset
        if ds.name in SEQUENCE_SETS:
            return "sequences"
        if ds.name in IMAGE_SETS or (ds.name == "custom" and not self.features):
            return "images"
        return "points"

    def check_input(self, shape: tuple[int, ...], n_classes: int, examples: int,
                    limits: Limits = DEFAULT_LIMITS, per_step: bool = False) -> None:
        """A ValueError that says why, if the layers do not fit `examples` images or
        sequences of this shape (an upload's, known only once it is read) or make a network
        too big or too slow for the limits."""
        try:
            spec = self.to_spec(n_classes, input_shape=shape, per_step=per_step)
        except SpecError as exc:
            raise ValueError(str(exc)) from None
        check_size(spec, n_classes, limits, examples)

    def to_spec(self, n_classes: int | None = None, dtype: str = "float32",
                input_shape: tuple[int, ...] | None = None, per_step: bool = False) -> ModelSpec:
        """The engine's spec; an uploaded data set may bring its own number of classes,
        images their shape (channels, height, width), sequences theirs (steps, channels)
        and targets at every step."""
        classes = n_classes if n_classes is not None else self.dataset.classes
        return ModelSpec(
            n_inputs=math.prod(input_shape) if input_shape else len(self.features),
            input_shape=input_shape,
            hidden=[h.spec_entry() for h in self.hidden_layers],
            problem=self.problem, n_classes=classes if self.problem == "classification" else 2,
            output_activation=self.output_activation, loss=self.loss,
            loss_params=dict(self.loss_params), init=self.init.name, init_scale=self.init.scale,
            optimizer=self.optimizer.name, learning_rate=self.optimizer.learning_rate,
            optimizer_params=self.optimizer.hyperparameters(), decay=self.optimizer.decay,
            regularization=self.regularization.name,
            regularization_rate=self.regularization.rate,
            regularization_params=self.regularization.params(),
            dropout=self.dropout, batch_norm=self.batch_norm, seed=self.seed, dtype=dtype,
            clip_norm=self.optimizer.clip_norm, recurrent_init=self.init.recurrent,
            per_step=per_step)


def _giga(n: int) -> str:
    return f"{n / 1e9:.3g} G"


def check_size(spec: ModelSpec, n_classes: int, limits: Limits, examples: int) -> None:
    """A network past max_params, or one whose pass over the `examples` costs more than
    max_pass_mults, is refused: images make big layers and slow ones easy to ask for."""
    count, mults = spec.counts(n_classes if n_classes > 2 else 1)
    if count > limits.max_params:
        raise ValueError(f"the network has {count} parameters, over the limit of "
                         f"{limits.max_params} (max_params): use fewer filters or units, "
                         "or a pool layer before the first dense layer")
    work = mults * examples
    if work > limits.max_pass_mults:
        what = "images" if spec.input_shape and len(spec.input_shape) == 3 else "sequences"
        raise ValueError(f"one pass over the {examples} {what} takes {_giga(work)} "
                         f"multiply-adds, over the limit of {_giga(limits.max_pass_mults)} "
                         "(max_pass_mults): use fewer filters or units, smaller kernels, a "
                         f"stride or an earlier pool layer, or smaller or fewer {what}")


def parse_config(data: Any, limits: Limits = DEFAULT_LIMITS) -> ExperimentConfig:
    return ExperimentConfig.model_validate(data, context={"limits": limits})
