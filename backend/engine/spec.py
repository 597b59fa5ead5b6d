"""What the engine needs to build a model: plain data, validated against the registries."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .arrays import DTYPES
from .heads import resolve_head
from .initializers import INITIALIZERS
from .layertypes import LAYER_TYPES, RECURRENT_BLOCKS, Flow, LayerEntry, SpecError, layer_entry
from .optimizers import OPTIMIZERS
from .params import ParamError, resolve
from .regularizers import REGULARIZERS


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class ModelSpec:
    """`input_shape` (channels, height, width) says the input is images, given flat as
    n_inputs = channels height width numbers in that order (NCHW) or as (m, C, H, W);
    (steps, channels) says it is sequences (m, T, C). Each hidden entry must read what
    the one before gives (layertypes.py). `per_step`: the targets are one per step of a
    sequence, and so are the outputs. `clip_norm`: the gradients' global norm is scaled
    down to it when above. `recurrent_init`: "orthogonal" recurrent weights, or "init",
    drawn like the others."""

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
    input_shape: tuple[int, ...] | None = None
    per_step: bool = False
    clip_norm: float | None = None
    recurrent_init: str = "orthogonal"

    def __post_init__(self) -> None:
        self.hidden = [layer_entry(h, f"hidden layer {i + 1}") for i, h in enumerate(self.hidden)]
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) not in (2, 3) or not all(_whole(n) and n >= 1 for n in shape):
                raise SpecError("input_shape must be three whole numbers >= 1 (channels, "
                                "height, width) for images or two (steps, channels) for "
                                "sequences")
            self.input_shape = shape
        self.validate()

    @property
    def input_flow(self) -> Flow:
        """What the first layer reads, per example."""
        return Flow(self.input_shape if self.input_shape is not None else (self.n_inputs,))

    def flows(self) -> list[Flow]:
        """What each hidden entry gives, per example. Call on a validated spec."""
        flow, out = self.input_flow, []
        for i, h in enumerate(self.hidden):
            flow = LAYER_TYPES[h.type].output(h, flow, f"hidden layer {i + 1}")
            out.append(flow)
        return out

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """One example's output shape after each hidden entry."""
        return [flow.shape for flow in self.flows()]

    def counts(self, n_outputs: int) -> tuple[int, int]:
        """(trainable parameters, multiply-adds of one example's forward pass), from the
        spec alone (nothing is allocated): biases counted, batch norm's gamma and beta
        aside."""
        params = mults = 0
        flow = self.input_flow
        for h, out in zip(self.hidden, self.flows(), strict=True):
            p, m = LAYER_TYPES[h.type].counts(h, flow, out)
            params, mults, flow = params + p, mults + m, out
        n_in = flow.shape[1] if self.per_step else flow.size
        steps = flow.shape[0] if self.per_step else 1
        return params + n_outputs * (n_in + 1), mults + steps * n_in * n_outputs

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise SpecError(message)

        need(self.n_inputs >= 1, "the network needs at least one input feature")
        if self.input_shape is not None:
            size, shape = math.prod(self.input_shape), tuple(self.input_shape)
            what = "channels x height x width" if len(shape) == 3 else "steps x channels"
            need(self.n_inputs == size, f"n_inputs must be {what} = {size} for input_shape "
                 f"{shape}, not {self.n_inputs}")
        flow = self.input_flow
        for i, h in enumerate(self.hidden):
            where, kind = f"hidden layer {i + 1}", LAYER_TYPES[h.type]
            if flow.kind not in kind.reads:
                need(i > 0 or flow.kind != "flat",
                     f"{where}: {h.type} layers need {' or '.join(kind.inputs[-2:])} as input "
                     f"(an input_shape); this network's input is {self.n_inputs} numbers")
                before = self.hidden[i - 1].type if i else ""
                need(before not in RECURRENT_BLOCKS,
                     f"{where}: a {h.type} layer cannot follow a {before} layer that gives "
                     "its last step only: set return_sequences on that one")
                need(i == 0, f"{where}: a {h.type} layer cannot follow a dense layer (conv "
                     "and pool layers come first, then dense ones)")
                need(False, f"{where}: {h.type} layers need {' or '.join(kind.inputs)} as "
                     f"input, not {flow.kind}s")
            flow = kind.output(h, flow, where)
        if self.per_step:
            steps = self.input_shape[0] if self.input_shape and len(self.input_shape) == 2 \
                else None
            need(flow.kind == "sequence" and flow.shape[0] == steps,
                 f"the targets are one per step, so the last hidden layer must give a "
                 f"sequence of all {steps} steps: a recurrent layer with return_sequences "
                 "(or conv layers with padding same and stride 1)")
        else:
            need(not flow.steps, "the targets are one per sequence, but the last recurrent "
                 "layer returns sequences: set its return_sequences to false (or add a "
                 "recurrent layer that gives its last step)")
        need(self.recurrent_init in ("orthogonal", "init"),
             "recurrent_init must be 'orthogonal' or 'init'")
        need(self.clip_norm is None or (math.isfinite(self.clip_norm) and self.clip_norm > 0),
             "clip_norm must be a finite number > 0, or null for no clipping")
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
        """Plain data; a spec of before sequences gives exactly the dict it always gave
        (saved models compare it): the newer fields only where they are not their
        defaults."""
        data = asdict(self)
        data["hidden"] = [h.to_dict() for h in self.hidden]
        if self.input_shape is None:
            del data["input_shape"]
        else:
            data["input_shape"] = list(self.input_shape)
        for name, default in (("per_step", False), ("clip_norm", None),
                              ("recurrent_init", "orthogonal")):
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(**data)
