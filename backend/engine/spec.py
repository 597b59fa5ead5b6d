"""What the engine needs to build a model: plain data, validated against the registries."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .activations import ACTIVATIONS
from .arrays import DTYPES
from .conv import PADDINGS, POOLS, conv_output_shape, pool_output_shape
from .heads import resolve_head
from .initializers import INITIALIZERS
from .optimizers import OPTIMIZERS
from .params import ParamError, resolve
from .regularizers import REGULARIZERS


class SpecError(ValueError):
    """A model specification the engine cannot build; the message says what to change."""


@dataclass
class HiddenLayer:
    """A dense layer: {"units": 8, "activation": "tanh"} (type "dense", the default)."""

    units: int
    activation: str = "tanh"
    type: ClassVar[str] = "dense"

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation}  # no type: as it always was


@dataclass
class ConvLayer:
    """{"type": "conv", "filters": 8, "kernel": 3, "stride": 1, "padding": "same",
    "activation": "relu"}: filters of kernel x kernel over every input channel."""

    filters: int
    kernel: int = 3
    stride: int = 1
    padding: str = "same"
    activation: str = "relu"
    type: ClassVar[str] = "conv"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass
class PoolLayer:
    """{"type": "pool", "kind": "max", "size": 2}: size x size windows, stride = size."""

    kind: str = "max"
    size: int = 2
    type: ClassVar[str] = "pool"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


LayerEntry = HiddenLayer | ConvLayer | PoolLayer
LAYER_TYPES: dict[str, type[HiddenLayer] | type[ConvLayer] | type[PoolLayer]] = {
    "dense": HiddenLayer, "conv": ConvLayer, "pool": PoolLayer}


def layer_entry(entry: Any, where: str = "a hidden layer") -> LayerEntry:
    """An entry of `hidden` from its dict ({"type": ..., ...}; no type is dense)."""
    if isinstance(entry, HiddenLayer | ConvLayer | PoolLayer):
        return entry
    if not isinstance(entry, dict):
        raise SpecError(f"{where} must be an object")
    kind = entry.get("type", "dense")
    cls = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SpecError(f"{where}: type {kind!r} is not one of {', '.join(LAYER_TYPES)}")
    rest = {k: v for k, v in entry.items() if k != "type"}
    names = [f.name for f in fields(cls)]
    unknown = [str(k) for k in rest if k not in names]
    if unknown:
        raise SpecError(f"{where}: a {kind} layer takes no {', '.join(unknown)}; "
                        f"it takes {', '.join(names)}")
    try:
        return cls(**rest)
    except TypeError:
        raise SpecError(f"{where}: a {kind} layer needs {names[0]}") from None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class ModelSpec:
    """`input_shape` (channels, height, width) says the input is images, given flat as
    n_inputs = channels height width numbers in that order (NCHW) or as (m, C, H, W);
    only then may `hidden` hold conv and pool entries, all before the first dense one."""

    n_inputs: int
    hidden: list[LayerEntry] = field(default_factory=list)
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
    input_shape: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self.hidden = [layer_entry(h, f"hidden layer {i + 1}") for i, h in enumerate(self.hidden)]
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) != 3 or not all(_whole(n) and n >= 1 for n in shape):
                raise SpecError("input_shape must be three whole numbers >= 1: "
                                "(channels, height, width)")
            self.input_shape = shape  # type: ignore[assignment]
        self.validate()

    @property
    def images(self) -> bool:
        """Whether the first layer sees images (a conv or pool layer comes first)."""
        return bool(self.hidden) and not isinstance(self.hidden[0], HiddenLayer)

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """One example's output shape after each hidden entry: (units,) for dense,
        (channels, height, width) for conv and pool. Call on a validated spec."""
        shape: tuple[int, ...] = self.input_shape if self.images else (self.n_inputs,)
        shapes = []
        for h in self.hidden:
            if isinstance(h, ConvLayer):
                shape = conv_output_shape(shape, h.filters, h.kernel, h.stride, h.padding)
            elif isinstance(h, PoolLayer):
                shape = pool_output_shape(shape, h.size)
            else:
                shape = (h.units,)
            shapes.append(shape)
        return shapes

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise SpecError(message)

        need(self.n_inputs >= 1, "the network needs at least one input feature")
        if self.input_shape is not None:
            c, h, w = self.input_shape
            need(self.n_inputs == c * h * w,
                 f"n_inputs must be channels x height x width = {c * h * w} for input_shape "
                 f"({c}, {h}, {w}), not {self.n_inputs}")
        hidden_names = ", ".join(n for n, a in ACTIVATIONS.items() if a.hidden)
        shape = self.input_shape
        dense_seen = False
        for i, h in enumerate(self.hidden):
            where = f"hidden layer {i + 1}"
            if isinstance(h, HiddenLayer):
                need(h.units >= 1, f"{where} needs at least one unit")
                dense_seen = True
            else:
                need(self.input_shape is not None,
                     f"{where}: {h.type} layers need images as input (an input_shape of "
                     f"channels, height, width); this network's input is "
                     f"{self.n_inputs} numbers")
                need(not dense_seen, f"{where}: a {h.type} layer cannot follow a dense layer "
                     "(conv and pool layers come first, then dense ones)")
            if isinstance(h, ConvLayer):
                for name in ("filters", "kernel", "stride"):
                    value = getattr(h, name)
                    need(_whole(value) and value >= 1,
                         f"{where}: {name} must be a whole number >= 1, not {value!r}")
                need(h.padding in PADDINGS,
                     f"{where}: padding must be one of {', '.join(PADDINGS)}, not {h.padding!r}")
                need(h.padding == "valid" or h.kernel % 2 == 1,
                     f"{where}: padding 'same' needs an odd kernel (3, 5, ...), not {h.kernel}; "
                     "or use padding 'valid'")
                out = conv_output_shape(shape, h.filters, h.kernel, h.stride, h.padding)
                need(min(out[1:]) >= 1,
                     f"{where}: a {h.kernel}x{h.kernel} kernel does not fit its "
                     f"{shape[1]}x{shape[2]} input with padding 'valid'")
                shape = out
            elif isinstance(h, PoolLayer):
                need(h.kind in POOLS, f"{where}: pool kind must be one of {', '.join(POOLS)}, "
                     f"not {h.kind!r}")
                need(_whole(h.size) and h.size >= 1,
                     f"{where}: size must be a whole number >= 1, not {h.size!r}")
                need(h.size <= min(shape[1:]),
                     f"{where}: a {h.size}x{h.size} pool does not fit its "
                     f"{shape[1]}x{shape[2]} input")
                shape = pool_output_shape(shape, h.size)
            if not isinstance(h, PoolLayer):
                need(h.activation in ACTIVATIONS and ACTIVATIONS.get(h.activation).hidden,
                     f"{where}: activation {h.activation!r} is not one of {hidden_names}")
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
        """Plain data; a dense-only spec without input_shape gives exactly the dict it
        always gave (saved models compare it)."""
        data = asdict(self)
        data["hidden"] = [h.to_dict() for h in self.hidden]
        if self.input_shape is None:
            del data["input_shape"]
        else:
            data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(**data)
