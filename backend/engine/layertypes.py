"""Each kind of hidden layer as one self-describing entry: its fields with their defaults
and bounds, the shape it gives from the shape it reads, its parameter and multiply
counts, how the engine builds it, and how an address writes it. The spec's checks, the
config's schema, /api/meta, docs/config.md and the page's editor all come from here, so
a new kind of layer is one entry in LAYER_TYPES.

What flows between layers, per example, is a Flow: (n,) numbers, (T, C) a sequence
(time first, channels last) or (C, H, W) an image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import ACTIVATIONS
from .conv import POOL_LAYERS, Conv2D, Flatten, conv_output_size
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .recurrent import BLOCKS as RECURRENT_BLOCKS  # gate blocks in a layer's weights
from .recurrent import make_recurrent
from .seqconv import POOL1D_LAYERS, Conv1D, PerStep


class SpecError(ValueError):
    """A model specification the engine cannot build; the message says what to change."""


Shape = tuple[int, ...]
KINDS = {1: "flat", 2: "sequence", 3: "image"}
DATA_KINDS = {"flat": "points", "sequence": "sequences", "image": "images"}


@dataclass(frozen=True)
class Flow:
    """One example's values between two layers. `steps`: a sequence made step by step
    (by a recurrent layer that returns sequences), on which a dense layer acts at every
    step; a dense layer flattens any other sequence or image first."""

    shape: Shape
    steps: bool = False

    @property
    def kind(self) -> str:
        return KINDS[len(self.shape)]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


HIDDEN_ACTIVATIONS = tuple(n for n, a in ACTIVATIONS.items() if a.hidden)


@dataclass(frozen=True)
class LayerField:
    """A field of an entry: a whole number in [low, high] (`cap`: the server limit that
    sets high), or one of `choices`. A default of None makes it required."""

    name: str
    default: Any
    description: str
    low: int | None = None
    high: int | None = None
    choices: tuple[Any, ...] | None = None
    cap: str | None = None

    def check(self, value: Any, where: str) -> None:
        if self.choices is not None:
            if value not in self.choices or isinstance(value, bool) != isinstance(
                    self.choices[0], bool):
                shown = ", ".join(str(c).lower() if isinstance(c, bool) else str(c)
                                  for c in self.choices)
                raise SpecError(f"{where}: {self.name} {value!r} is not one of {shown}")
            return
        high = math.inf if self.cap else self.high  # a capped high is the config's to check
        if not (isinstance(value, int) and not isinstance(value, bool)) or \
                not self.low <= value <= high:  # type: ignore[operator]
            shown = f"at least {self.low}" if self.cap else f"from {self.low} to {high}"
            raise SpecError(f"{where}: {self.name} must be a whole number {shown}, not "
                            f"{value!r}")


class LayerEntry:
    """One entry of a spec's hidden layers: its type and a value for each of its fields,
    read as attributes (entry.units)."""

    def __init__(self, type: str, **values: Any) -> None:
        self.type = type
        self.values = values
        self.__dict__.update(values)

    def to_dict(self) -> dict[str, Any]:
        """Plain data; a dense entry without its type, as it always was written."""
        return dict(self.values) if self.type == "dense" else {"type": self.type, **self.values}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LayerEntry) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return f"LayerEntry({self.to_dict()!r})"


class Builder:
    """What an entry's build needs from the model being built: the array module, the
    initializer and random streams, and the layers so far (it appends to them)."""

    def __init__(self, xp: Any, dtype: Any, rng: np.random.Generator, init: Any, scale: float,
                 batch_norm: bool, dropout: float, dropout_rng: np.random.Generator,
                 recurrent_orthogonal: bool) -> None:
        self.xp, self.dtype, self.rng, self.init, self.scale = xp, dtype, rng, init, scale
        self.batch_norm, self.dropout, self.dropout_rng = batch_norm, dropout, dropout_rng
        self.recurrent_orthogonal = recurrent_orthogonal
        self.layers: list[Layer] = []

    def array(self, a: np.ndarray) -> Any:
        return self.xp.asarray(a, dtype=self.dtype)

    def zeros(self, n: int) -> Any:
        return self.xp.zeros(n, dtype=self.dtype)

    def dense(self, n_in: int, n_out: int, bias: bool) -> Dense:
        return Dense(self.xp, self.array(self.init(self.rng, n_in, n_out, self.scale)),
                     self.zeros(n_out) if bias else None)

    def flat(self, flow: Flow) -> int:
        """A flatten layer where the flow is not numbers already: its size."""
        if flow.kind != "flat":
            self.layers.append(Flatten(self.xp, flow.shape))
        return flow.size

    def finish(self, units: int, flow: Flow, activation: str) -> Flow:
        """[batch norm ->] activation [-> dropout] after a layer that gives `flow`."""
        shape = None if flow.kind == "flat" else flow.shape
        if self.batch_norm:
            self.layers.append(BatchNorm(self.xp, units, self.dtype, shape=shape))
        self.layers.append(Activation(self.xp, activation, flow.size, shape=shape))
        if self.dropout > 0:
            self.layers.append(Dropout(self.xp, self.dropout, flow.size, self.dropout_rng,
                                       shape=shape))
        return flow


@dataclass(frozen=True)
class LayerType:
    """A kind of hidden layer. `reads`: the flows it takes ("flat", "sequence", "image");
    `output` gives the flow it makes (raising SpecError where it does not fit);
    `counts` its (trainable parameters, multiply-adds per example); `build` appends its
    engine layers to a Builder and returns the flow it makes."""

    name: str
    label: str
    description: str
    reads: tuple[str, ...]
    fields: tuple[LayerField, ...]
    output: Callable[[LayerEntry, Flow, str], Flow]
    counts: Callable[[LayerEntry, Flow, Flow], tuple[int, int]]
    build: Callable[[Builder, LayerEntry, Flow], Flow]
    literal: bool = True  # its address token starts with its name

    @property
    def inputs(self) -> list[str]:
        """The kinds of data it may be used on."""
        return [DATA_KINDS[k] for k in ("flat", "image", "sequence") if k in self.reads]

    @property
    def token(self) -> list[str]:
        """How an address writes an entry: these words joined by ':', the first one the
        type itself where `literal`, then each field's value."""
        return ([self.name] if self.literal else []) + [f.name for f in self.fields]

    def field(self, name: str) -> LayerField:
        return next(f for f in self.fields if f.name == name)

    def entry(self, data: dict[str, Any], where: str) -> LayerEntry:
        """An entry from plain data: its fields only, defaults filled in, each checked."""
        names = [f.name for f in self.fields]
        unknown = [str(k) for k in data if k not in names]
        if unknown:
            raise SpecError(f"{where}: a {self.name} layer takes no {', '.join(unknown)}; "
                            f"it takes {', '.join(names)}")
        values = {}
        for f in self.fields:
            value = data.get(f.name, f.default)
            if value is None:
                raise SpecError(f"{where}: a {self.name} layer needs {f.name}")
            f.check(value, where)
            values[f.name] = value
        return LayerEntry(self.name, **values)


# the fields, shared where two types mean the same --------------------------------------
def _activation(default: str) -> LayerField:
    return LayerField("activation", default, "the nonlinearity after the layer",
                      choices=HIDDEN_ACTIVATIONS)


UNITS = LayerField("units", None, "neurons of a dense layer: at most max_units on 2-D points "
                   "(the page draws each), max_image_units on images and sequences", 1, 128,
                   cap="max_image_units")
STATE = LayerField("units", None, "the size of the recurrent state", 1, 128,
                   cap="max_image_units")
RETURN_SEQUENCES = LayerField(
    "return_sequences", False, "give the state at every step (for a following recurrent "
    "layer or per-step targets) rather than the last step's only", choices=(False, True))
FILTERS = LayerField("filters", None, "a conv layer's filters: its feature maps", 1, 64,
                     cap="max_units")
KERNEL = LayerField("kernel", 3, "a conv filter's side in pixels or steps (odd with padding "
                    "same)", 1, 9)
STRIDE = LayerField("stride", 1, "pixels or steps a conv filter moves per step", 1, 4)
PADDING = LayerField("padding", "same", "same keeps the size at stride 1; valid adds none",
                     choices=("same", "valid"))
POOL_KIND = LayerField("kind", "max", "the max or the mean of each window",
                       choices=("max", "avg"))
SIZE = LayerField("size", 2, "a pool window's side, which is also its step", 2, 4)


# dense ---------------------------------------------------------------------------------
def _dense_output(h: LayerEntry, flow: Flow, where: str) -> Flow:
    return Flow((flow.shape[0], h.units), True) if flow.steps else Flow((h.units,))


def _dense_counts(h: LayerEntry, flow: Flow, out: Flow) -> tuple[int, int]:
    n_in = flow.shape[1] if flow.steps else flow.size
    per = flow.shape[0] if flow.steps else 1
    return h.units * (n_in + 1), per * n_in * h.units


def _dense_build(b: Builder, h: LayerEntry, flow: Flow) -> Flow:
    if flow.steps:
        dense = b.dense(flow.shape[1], h.units, bias=not b.batch_norm)
        b.layers.append(PerStep(b.xp, dense.W, dense.b, flow.shape[0]))
    else:
        b.layers.append(b.dense(b.flat(flow), h.units, bias=not b.batch_norm))
    out = _dense_output(h, flow, "")
    return b.finish(h.units, out, h.activation)


# conv and pool: images in 2-D, sequences along time ---------------------------------------
def _conv_output(h: LayerEntry, flow: Flow, where: str) -> Flow:
    if h.padding == "same" and h.kernel % 2 == 0:
        raise SpecError(f"{where}: padding 'same' needs an odd kernel (3, 5, ...), not "
                        f"{h.kernel}; or use padding 'valid'")
    sides = flow.shape[1:] if flow.kind == "image" else flow.shape[:1]
    out = [conv_output_size(n, h.kernel, h.stride, h.padding) for n in sides]
    if min(out) < 1:
        fits = "x".join(str(n) for n in sides)
        kernel = f"{h.kernel}x{h.kernel} kernel" if flow.kind == "image" else \
            f"kernel of {h.kernel} steps"
        raise SpecError(f"{where}: a {kernel} does not fit its {fits} input with padding "
                        "'valid'")
    if flow.kind == "image":
        return Flow((h.filters, *out))
    return Flow((out[0], h.filters))


def _conv_counts(h: LayerEntry, flow: Flow, out: Flow) -> tuple[int, int]:
    image = flow.kind == "image"
    fan_in = flow.shape[0] * h.kernel ** 2 if image else flow.shape[1] * h.kernel
    return h.filters * (fan_in + 1), fan_in * out.size


def _conv_build(b: Builder, h: LayerEntry, flow: Flow) -> Flow:
    out = _conv_output(h, flow, "")
    bias = None if b.batch_norm else b.zeros(h.filters)
    if flow.kind == "image":
        c, k = flow.shape[0], h.kernel
        w = b.init(b.rng, c * k * k, h.filters * k * k, b.scale, shape=(h.filters, c, k, k))
        layer: Layer = Conv2D(b.xp, b.array(w), bias, h.stride, h.padding,
                              flow.shape)  # type: ignore[arg-type]
    else:
        c, k = flow.shape[1], h.kernel
        w = b.init(b.rng, c * k, h.filters * k, b.scale, shape=(h.filters, c, k))
        layer = Conv1D(b.xp, b.array(w), bias, h.stride, h.padding, flow.shape)
    b.layers.append(layer)
    return b.finish(h.filters, out, h.activation)


def _pool_output(h: LayerEntry, flow: Flow, where: str) -> Flow:
    if flow.kind == "image":
        c, height, width = flow.shape
        if h.size > min(height, width):
            raise SpecError(f"{where}: a {h.size}x{h.size} pool does not fit its "
                            f"{height}x{width} input")
        return Flow((c, height // h.size, width // h.size))
    t, c = flow.shape
    if h.size > t:
        raise SpecError(f"{where}: a pool of {h.size} steps does not fit its sequence of "
                        f"{t} steps")
    return Flow((t // h.size, c))


def _pool_build(b: Builder, h: LayerEntry, flow: Flow) -> Flow:
    if flow.kind == "image":
        b.layers.append(POOL_LAYERS[h.kind](b.xp, h.size, flow.shape))  # type: ignore[arg-type]
    else:
        b.layers.append(POOL1D_LAYERS[h.kind](b.xp, h.size, flow.shape))
    return _pool_output(h, flow, "")


# recurrent -----------------------------------------------------------------------------
def _recurrent_output(h: LayerEntry, flow: Flow, where: str) -> Flow:
    return Flow((flow.shape[0], h.units), True) if h.return_sequences else Flow((h.units,))


def _recurrent_counts(h: LayerEntry, flow: Flow, out: Flow) -> tuple[int, int]:
    k, c, t = RECURRENT_BLOCKS[h.type], flow.shape[1], flow.shape[0]
    biases = 2 if h.type == "gru" else 1  # the GRU's candidate keeps the state's bias apart
    return k * h.units * (c + h.units + biases), t * k * h.units * (c + h.units)


def _recurrent_build(b: Builder, h: LayerEntry, flow: Flow) -> Flow:
    b.layers.append(make_recurrent(
        b.xp, h.type, b.rng, b.init, b.scale, flow.shape, h.units,  # type: ignore[arg-type]
        b.dtype, getattr(h, "activation", "tanh"), h.return_sequences,
        b.recurrent_orthogonal))
    return _recurrent_output(h, flow, "")


def _recurrent(name: str, label: str, description: str, *extra: LayerField) -> LayerType:
    return LayerType(name, label, description, ("sequence",), (STATE, *extra, RETURN_SEQUENCES),
                     _recurrent_output, _recurrent_counts, _recurrent_build)


LAYER_TYPES: dict[str, LayerType] = {t.name: t for t in (
    LayerType("dense", "Dense", "every unit sees every input (images and input sequences are "
              "flattened first; after a recurrent layer that returns sequences it acts at "
              "every step)", ("flat", "image", "sequence"), (UNITS, _activation("tanh")),
              _dense_output, _dense_counts, _dense_build, literal=False),
    LayerType("conv", "Convolution", "filters slid over the image, or along time over a "
              "sequence: (n - k + 2p) / s + 1 pixels or steps", ("image", "sequence"),
              (FILTERS, KERNEL, STRIDE, PADDING, _activation("relu")), _conv_output,
              _conv_counts, _conv_build),
    LayerType("pool", "Pooling", "the max or mean of each size x size window (size steps "
              "on a sequence)", ("image", "sequence"), (POOL_KIND, SIZE), _pool_output,
              lambda h, flow, out: (0, 0), _pool_build),
    _recurrent("rnn", "Simple RNN", "s_t = f(U x_t + W s_(t-1) + b): one state carried "
               "through time", _activation("tanh")),
    _recurrent("lstm", "LSTM", "a cell state kept by input, forget and output gates, so "
               "that gradients survive many steps"),
    _recurrent("gru", "GRU", "update and reset gates over one state: an LSTM's memory with "
               "fewer weights"),
)}


def layer_entry(entry: Any, where: str = "a hidden layer") -> LayerEntry:
    """An entry of `hidden` from its dict ({"type": ..., ...}; no type is dense)."""
    if isinstance(entry, LayerEntry):
        return entry
    if not isinstance(entry, dict):
        raise SpecError(f"{where} must be an object")
    kind = entry.get("type", "dense")
    layer_type = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    if layer_type is None:
        raise SpecError(f"{where}: type {kind!r} is not one of {', '.join(LAYER_TYPES)}")
    return layer_type.entry({k: v for k, v in entry.items() if k != "type"}, where)
