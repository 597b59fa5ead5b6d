"""The model: a list of layers, a head (output activation + loss), an optimizer.

Layers per hidden layer: dense -> [batch norm] -> activation -> [dropout]; per conv
entry the same with a convolution (batch norm per channel); per pool entry a max or
average pooling; a flatten before the first dense layer after conv or pool; then the
output dense layer whose z goes to the head. Training runs mini-batches from a seeded
shuffle every epoch; the same spec and seed give the same weights and curve on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .arrays import Backend, get_backend, get_dtype
from .conv import Conv2D
from .fused import FusedStep
from .heads import Head, resolve_head
from .initializers import INITIALIZERS
from .layers import Activation, BatchNorm, Dense, Layer
from .layertypes import LAYER_TYPES, RECURRENT_BLOCKS, Builder, Flow
from .optimizers import OPTIMIZERS, Optimizer
from .regularizers import REGULARIZERS
from .schedules import inverse_time
from .seqconv import PerStep
from .serialize import decode_array, encode_array
from .spec import ModelSpec

Array = Any
# Evaluation of a conv net goes in chunks of this much im2col: a chunk that stays in the
# caches measured twice as fast as 64 MB ones (LeNet-5 on 1 797 images of 32 x 32: 43 ms
# against 82).
EVAL_CHUNK_BYTES = 4 * 2**20
# ... and of a recurrent net in chunks whose gates and states through time take this much:
# an LSTM of 64 units over 4 000 sequences of 40 steps held 250 MB at once.
RECURRENT_CHUNK_BYTES = 64 * 2**20
WEIGHT_NAMES = ("W", "Wx", "Wh")  # a dense or conv layer's, a recurrent layer's two


class Model:
    def __init__(self, spec: ModelSpec, backend: Backend | None = None) -> None:
        self.spec = spec
        self.backend = backend or get_backend("cpu")
        self.xp = xp = self.backend.xp
        self.dtype = get_dtype(spec.dtype)
        self.head: Head = resolve_head(spec.problem, spec.n_classes, spec.output_activation,
                                       spec.loss, spec.loss_params)
        init_seq, shuffle_seq, dropout_seq = np.random.SeedSequence(spec.seed).spawn(3)
        init_rng = np.random.default_rng(init_seq)
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self.dropout_rng = np.random.default_rng(dropout_seq)
        self.regularizer = REGULARIZERS.get(spec.regularization)
        self.l1_ratio = float(spec.regularization_params.get("l1_ratio", 0.5))
        init = INITIALIZERS.get(spec.init)
        scale = spec.init_scale if spec.init_scale is not None else (
            init.params["scale"].default if "scale" in init.params else 0.0)
        build = Builder(xp, self.dtype, init_rng, init, scale, spec.batch_norm, spec.dropout,
                        self.dropout_rng, spec.recurrent_init == "orthogonal")
        flow = spec.input_flow
        if not spec.hidden or spec.hidden[0].type == "dense":
            flow = Flow((spec.n_inputs,))  # flattened as it comes: no layer for it
        self.input_shape = flow.shape  # what forward reshapes its input to, per example
        self.entry_ends: list[int] = []  # index of the last layer of each hidden entry
        for h in spec.hidden:
            flow = LAYER_TYPES[h.type].build(build, h, flow)
            self.entry_ends.append(len(build.layers) - 1)
        n_out = self.head.n_outputs
        if spec.per_step:
            output = build.dense(flow.shape[1], n_out, bias=True)
            build.layers.append(PerStep(xp, output.W, output.b, flow.shape[0]))
        else:
            build.layers.append(build.dense(build.flat(flow), n_out, bias=True))
        self.layers: list[Layer] = build.layers
        self.dense_layers = [layer for layer in self.layers if isinstance(layer, Dense)]
        self.recurrent_layers = [layer for layer in self.layers
                                 if layer.kind in RECURRENT_BLOCKS]
        self.conv_layers = [layer for layer in self.layers if isinstance(layer, Conv2D)]
        self.weights: list[tuple[Layer, str]] = [  # what the penalty counts: weights, no bias
            (layer, name) for layer in self.layers for name in layer.param_names
            if name in WEIGHT_NAMES]
        if hasattr(self.layers[0], "input_grad"):
            self.layers[0].input_grad = False  # the data needs no gradient
        self._eval_chunk = self._chunk_size()
        self.optimizer: Optimizer = OPTIMIZERS.get(spec.optimizer)(**spec.optimizer_params)
        self.optimizer.bind(xp, self.params())
        # the fast lane of train_batch, for plain dense nets on the CPU (see fused.py)
        self._fast = FusedStep(self) if FusedStep.fits(self) else None
        self.epoch = 0
        self._twin: Model | None = None  # see _tracer

    def _chunk_size(self) -> int | None:
        """Examples per evaluation chunk so that no im2col exceeds EVAL_CHUNK_BYTES and
        no recurrent layer's gates and states over time exceed RECURRENT_CHUNK_BYTES;
        None (no chunks) without either."""
        size = np.dtype(self.dtype).itemsize
        chunks = [EVAL_CHUNK_BYTES // (layer.cols_per_example * size)
                  for layer in self.conv_layers]
        chunks += [RECURRENT_CHUNK_BYTES // (layer.in_shape[0] * (RECURRENT_BLOCKS[layer.kind]
                                                                  + 1) * layer.units * size)
                   for layer in self.recurrent_layers]
        return max(1, min(chunks)) if chunks else None

    # parameters --------------------------------------------------------------------------
    def params(self) -> list[Array]:
        return [p for layer in self.layers for p in layer.params()]

    def grads(self) -> list[Array]:
        return [layer.grads[n] for layer in self.layers for n in layer.param_names]

    def named_params(self) -> Iterator[tuple[int, str, Array]]:
        for i, layer in enumerate(self.layers):
            for n in layer.param_names:
                yield i, n, getattr(layer, n)

    @property
    def learning_rate(self) -> float:
        """The rate in force for the current epoch: lr0 / (1 + decay * epoch)."""
        return inverse_time(self.spec.learning_rate, self.spec.decay, self.epoch)

    # passes ------------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """The output layer's z. Images may come flat (m, C H W), as (m, C, H, W), or as
        (m, H, W) with one channel. Evaluation of a conv or recurrent net goes in chunks so
        that its memory stays bounded however many examples are asked for."""
        x = self.shaped(x)
        chunk = self._eval_chunk
        if not training and chunk is not None and x.shape[0] > chunk:
            return self.xp.concatenate([self._forward(x[i:i + chunk], False)
                                        for i in range(0, x.shape[0], chunk)])
        return self._forward(x, training)

    def _forward(self, x: Array, training: bool) -> Array:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def shaped(self, x: Array) -> Array:
        """x as the first layer takes it: (m, *input_shape)."""
        want, given = self.input_shape, self.spec.input_shape
        if x.shape[1:] == want:
            return x
        accepted = [(self.spec.n_inputs,)]
        if given is not None:
            accepted.append(given)
            if given[0] == 1 and len(given) == 3:
                accepted.append(given[1:])  # one channel's images as (m, H, W)
            if given[-1] == 1 and len(given) == 2:
                accepted.append(given[:1])  # one channel's sequences as (m, T)
        if x.ndim >= 1 and x.shape[1:] in accepted:
            return x.reshape((x.shape[0], *want))
        images = given is not None and len(given) == 3
        raise ValueError(f"the input has shape {tuple(x.shape[1:])} per example; this network "
                         f"takes {given or want}" + (" (channels first)" if images else
                                                     " (steps, channels)" if given else ""))

    def output(self, z: Array) -> Array:
        return self.head.activation.fn(self.xp, z)

    def predict(self, x: Array) -> Array:
        """The output activations at evaluation (dropout off, running batch-norm statistics)."""
        return self.output(self.forward(self.as_x(x)))

    def as_x(self, x: Array) -> Array:
        return self.xp.asarray(x, dtype=self.dtype)

    def targets(self, y: Array) -> Array:
        """(m, n_outputs), or (m, T, n_outputs) for targets per step."""
        if not self.spec.per_step:
            return self.head.targets(self.xp, y, self.dtype)
        y = self.xp.asarray(y)
        return self.head.targets(self.xp, y.reshape(-1), self.dtype).reshape(
            y.shape[0], y.shape[1], -1)

    def backward(self, z: Array, t: Array) -> None:
        """Fill every layer's grads for the mean loss over the batch plus the penalty."""
        if self._fast is not None:
            self._fast.grads_lent = False  # the layers get this pass's gradients instead
        head, shape = self.head, z.shape
        z, t = _rows(z), _rows(t)  # per step: every step of every example is a row
        a = self.output(z)
        dz = head.loss.dz(self.xp, z, a, t, head.activation, **head.loss_params)
        dz *= self.dtype(1.0 / z.shape[0])
        dz = dz.reshape(shape)
        for layer in reversed(self.layers):
            dz = layer.backward(dz)
        rate = self.spec.regularization_rate
        if rate and self.spec.regularization != "none":
            for layer, name in self.weights:
                layer.grads[name] += rate * self.regularizer.grad(self.xp, getattr(layer, name),
                                                                  self.l1_ratio)

    def train_batch(self, x: Array, t: Array, lr: float) -> None:
        """One mini-batch: by the fast lane (fused.py) where it takes it, else forward,
        backward and the optimizer's step here; the same numbers either way."""
        if self._fast is not None and self._fast.step(x, t, lr):
            return
        self.backward(self.forward(x, training=True), t)
        grads = self.grads()
        if self.spec.clip_norm is not None:
            clip_global_norm(self.xp, grads, self.spec.clip_norm)
        self.optimizer.step(self.xp, self.params(), grads, lr)

    def fit_epoch(self, x: Array, y: Array, batch_size: int | str = "full") -> None:
        """One pass over (x, y) in shuffled mini-batches; the last batch may be smaller."""
        with np.errstate(all="ignore"):  # overflow becomes inf/NaN, which the caller reports
            for _ in self.epoch_steps(x, y, batch_size):
                pass

    def epoch_steps(self, x: Array, y: Array, batch_size: int | str = "full") -> Epoch:
        """The same epoch one mini-batch per next() (see Epoch), so that a caller can stop
        between batches and go on later. The caller chooses the floating-point error state
        (see fit_epoch)."""
        return Epoch(self, x, y, batch_size)

    # evaluation --------------------------------------------------------------------------
    def loss(self, x: Array, y: Array) -> float:
        """Mean data loss at evaluation (without the penalty)."""
        return self.evaluate(x, y)["loss"]

    def evaluate(self, x: Array, y: Array) -> dict[str, float]:
        xp, head = self.xp, self.head
        with np.errstate(all="ignore"):
            z = _rows(self.forward(self.as_x(x)))
            a = self.output(z)
            t = _rows(self.targets(y))
            out = {"loss": float(head.loss.value(xp, z, a, t, head.activation,
                                                 **head.loss_params).mean())}
        if head.problem == "classification":
            out["accuracy"] = float((head.classes(xp, a) == xp.asarray(y).reshape(-1)).mean())
        return out

    def penalty(self) -> float:
        rate = self.spec.regularization_rate
        if not rate or self.spec.regularization == "none":
            return 0.0
        return float(rate * sum(self.regularizer.penalty(self.xp, getattr(layer, name),
                                                         self.l1_ratio)
                                for layer, name in self.weights))

    def cost(self, x: Array, t: Array, training: bool = True) -> float:
        """Mean loss over the batch plus the penalty: what backward differentiates."""
        head = self.head
        z, t = _rows(self.forward(x, training)), _rows(t)
        a = self.output(z)
        data = head.loss.value(self.xp, z, a, t, head.activation, **head.loss_params).mean()
        return float(data) + self.penalty()

    def unit_outputs(self, x: Array) -> list[np.ndarray]:
        """Each hidden layer's activations (m, units) and the output (m, n_outputs), in one
        evaluation pass: the decision boundary and every neuron's thumbnail. (A conv
        layer's come as feature maps (m, F, H, W); pool layers have none: see
        layer_outputs.)"""
        h = self.shaped(self.as_x(x))
        outs: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for layer in self.layers:
                h = layer.forward(h, False)
                if isinstance(layer, Activation):
                    outs.append(self.backend.to_numpy(h))
            outs.append(self.backend.to_numpy(self.output(h)))
        return outs

    def layer_outputs(self, x: Array) -> list[np.ndarray]:
        """At evaluation, the output of each hidden entry of the spec, as numpy: (m, units)
        after a dense entry, feature maps (m, C, H, W) after a conv or pool entry (after
        its activation); then the output activations (m, n_outputs)."""
        x = self.shaped(self.as_x(x))
        chunk = self._eval_chunk or max(1, x.shape[0])
        parts: list[list[np.ndarray]] = []
        with np.errstate(all="ignore"):
            for start in range(0, x.shape[0], chunk):
                h, outs = x[start:start + chunk], []
                for i, layer in enumerate(self.layers):
                    h = layer.forward(h, False)
                    if i in self.entry_ends:
                        outs.append(self.backend.to_numpy(h))
                outs.append(self.backend.to_numpy(self.output(h)))
                parts.append(outs)
        if len(parts) == 1:
            return parts[0]
        return [np.concatenate(p) for p in zip(*parts, strict=True)]

    def sequence_trace(self, x: Array, y: Array | None = None) -> dict[str, Any]:
        """Sequences (m, T, C) through the network at evaluation, as numpy: the output
        activations, each recurrent layer's states and gates ({"states": (m, T, H),
        "gates": {name: (m, T, H)}}), and with targets y the gradient through time:
        ||dL/dh_t|| of each example's own loss for the first recurrent layer's state,
        (m, T). The gradient comes from a twin of the model (dropout off, batch norm on
        its running statistics), so that this model's random streams, statistics and
        gradients stay as training left them."""
        x = self.shaped(self.as_x(x))
        to_np = self.backend.to_numpy
        layers = []
        with np.errstate(all="ignore"):
            h = x
            for layer in self.layers:
                if layer.kind not in RECURRENT_BLOCKS:
                    h = layer.forward(h, False)
                    continue
                trace = layer.trace(h)  # one pass gives the states and what follows reads
                states = trace["states"]
                layers.append({"states": to_np(states),
                               "gates": {n: to_np(g) for n, g in trace["gates"].items()}})
                h = states if layer.return_sequences else \
                    self.xp.ascontiguousarray(states[:, -1])
            out: dict[str, Any] = {"output": to_np(self.output(h)), "layers": layers,
                                   "gradient": None}
            if y is not None and self.recurrent_layers:
                twin, t = self._tracer(), self.targets(y)
                first = twin.recurrent_layers[0]
                norms = []
                for i in range(x.shape[0]):  # each example's own loss, not the batch mean
                    twin.backward(twin.forward(x[i:i + 1], training=True), t[i:i + 1])
                    norms.append(to_np(self.xp.sqrt((first.state_grad[0] ** 2).sum(axis=-1))))
                out["gradient"] = np.stack(norms)
        return out

    def _tracer(self) -> Model:
        """A twin in this model's state that traces gradients without side effects: no
        dropout, batch norm frozen at its running statistics."""
        twin = self._twin
        if twin is None:
            twin = self._twin = Model(replace(self.spec, dropout=0.0), self.backend)
            for layer in twin.layers:
                if isinstance(layer, BatchNorm):
                    layer.frozen = True
        for current, live in zip(twin.state_arrays(), self.state_arrays(), strict=True):
            current[...] = live  # its weights and statistics: one copy, no snapshot between
        return twin

    def grad_norms(self) -> list[float]:
        """||dW|| of each dense layer after the last backward pass (0 before any)."""
        return [float(self.xp.linalg.norm(d.grads["W"])) if "W" in d.grads else 0.0
                for d in self.dense_layers]

    # description -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        rows = []
        for i, layer in enumerate(self.layers):
            trainable = sum(int(p.size) for p in layer.params())
            frozen = sum(int(getattr(layer, n).size) for n in layer.buffer_names)
            rows.append({"index": i, "kind": layer.kind, "name": layer.describe(),
                         "output_shape": [None, *layer.shape],
                         "trainable_params": trainable, "non_trainable_params": frozen})
        rows.append({"index": len(self.layers), "kind": "output",
                     "name": f"{self.head.activation.name} + {self.head.loss.name}",
                     "output_shape": [None, self.head.n_outputs],
                     "trainable_params": 0, "non_trainable_params": 0})
        trainable = sum(r["trainable_params"] for r in rows)
        frozen = sum(r["non_trainable_params"] for r in rows)
        return {"layers": rows, "trainable_params": trainable, "non_trainable_params": frozen,
                "total_params": trainable + frozen}

    # state: snapshot, restore, carry -------------------------------------------------------
    def lend(self) -> None:
        """Its weights and optimizer state are about to be replaced by views of a group's
        stacks (group.py): until take_back, a step alone takes the general path, on them."""
        if self._fast is not None:
            self._fast.lent = True
            self._fast.owned = False

    def take_back(self) -> None:
        """Arrays of its own again after a group: copies of the current ones (the fast
        path makes them views of its flat buffers again at its next step)."""
        for layer in self.dense_layers:
            layer.W = layer.W.copy()
            layer.b = layer.b.copy()
        for slots in self.optimizer.state:
            slots[:] = [s.copy() for s in slots]
        if self._fast is not None:
            self._fast.lent = False

    def state_arrays(self) -> list[Array]:
        """Everything training changes in place: each layer's arrays, then the optimizer's."""
        arrays = [a for layer in self.layers for a in layer.arrays().values()]
        return arrays + [s for slots in self.optimizer.state for s in slots]

    def snapshot(self) -> ModelState:
        return ModelState([a.copy() for a in self.state_arrays()], self.optimizer.t,
                          self.epoch, (self.shuffle_rng.bit_generator.state,
                                       self.dropout_rng.bit_generator.state))

    def restore(self, state: ModelState) -> None:
        """Back to a snapshot of this model (or of one with the same spec)."""
        for current, saved in zip(self.state_arrays(), state.arrays, strict=True):
            current[...] = saved
        self.optimizer.t, self.epoch = state.t, state.epoch
        self.shuffle_rng.bit_generator.state = state.rng[0]
        self.dropout_rng.bit_generator.state = state.rng[1]

    def copy(self) -> Model:
        """An independent model in the same state: changes to one never reach the other."""
        twin = Model(self.spec, self.backend)
        twin.restore(self.snapshot())
        return twin

    def carry_from(self, old: Model, optimizer: bool) -> None:
        """Take the weights and batch-norm statistics of `old`, a model of the same structure
        (layers and units; activations, dropout and hyperparameters may differ), its epoch
        and random streams, and its optimizer's state when `optimizer` (same optimizer)."""
        mine = [layer for layer in self.layers if layer.arrays()]
        theirs = [layer for layer in old.layers if layer.arrays()]
        if [(type(a), {n: x.shape for n, x in a.arrays().items()}) for a in mine] != \
                [(type(b), {n: x.shape for n, x in b.arrays().items()}) for b in theirs]:
            raise ValueError("the two models differ in structure; weights cannot be carried")
        for a, b in zip(mine, theirs, strict=True):
            for name, arr in a.arrays().items():
                arr[...] = getattr(b, name)
        if optimizer:
            self.optimizer.t = old.optimizer.t
            for mine_slots, old_slots in zip(self.optimizer.state, old.optimizer.state,
                                             strict=True):
                for current, saved in zip(mine_slots, old_slots, strict=True):
                    current[...] = saved
        self.epoch = old.epoch
        self.shuffle_rng.bit_generator.state = old.shuffle_rng.bit_generator.state
        self.dropout_rng.bit_generator.state = old.dropout_rng.bit_generator.state

    # serialization -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Spec, weights, optimizer state and random state as plain data (bit-exact)."""
        enc = self.backend.to_numpy
        return {
            "format": "neural-playground-model/1",
            "spec": self.spec.to_dict(),
            "epoch": self.epoch,
            "layers": [{"kind": layer.kind, **layer.config(),
                        "arrays": {n: encode_array(enc(a)) for n, a in layer.arrays().items()}}
                       for layer in self.layers],
            "optimizer": {"name": self.optimizer.name, "t": self.optimizer.t,
                          "state": [[encode_array(enc(a)) for a in slots]
                                    for slots in self.optimizer.state]},
            "rng": {"shuffle": self.shuffle_rng.bit_generator.state,
                    "dropout": self.dropout_rng.bit_generator.state},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], backend: Backend | None = None) -> Model:
        """A model from to_dict's output. The spec is trusted: a file from outside goes
        through load_dict on a model built from a checked spec instead."""
        model = cls(ModelSpec.from_dict(data["spec"]), backend)
        model.load_dict(data)
        return model

    def load_dict(self, data: Any) -> None:
        """Take the state saved by to_dict into this model, whose spec it must have. Every
        part is checked (shapes before values are read) before anything is copied, so a bad
        file raises ValueError and leaves the model as it was."""
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        need(isinstance(data, dict), "the model must be an object")
        need(data.get("spec") == self.spec.to_dict(), "the saved model does not match its config")
        layers, opt, rng = data.get("layers"), data.get("optimizer"), data.get("rng")
        need(isinstance(layers, list) and len(layers) == len(self.layers),
             "the saved layers do not match the spec")
        arrays: list[np.ndarray] = []
        for layer, saved in zip(self.layers, layers, strict=True):
            need(isinstance(saved, dict) and saved.get("kind") == layer.kind,
                 f"a saved layer is not the {layer.kind!r} layer the spec puts there")
            saved_arrays = saved.get("arrays")
            need(isinstance(saved_arrays, dict), f"{layer.kind}: no arrays")
            for name, current in layer.arrays().items():
                arrays.append(decode_array(saved_arrays.get(name), current.shape,
                                           f"{layer.kind}.{name}"))
        need(isinstance(opt, dict) and opt.get("name") == self.optimizer.name,
             f"the saved optimizer is not {self.optimizer.name!r}")
        t, epoch = opt.get("t"), data.get("epoch")
        for value, what in ((t, "optimizer.t"), (epoch, "epoch")):
            need(isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53,
                 f"{what} must be a whole number >= 0")
        slots = opt.get("state")
        need(isinstance(slots, list) and len(slots) == len(self.optimizer.state),
             "the saved optimizer state does not match the model")
        for current_slots, saved_slots in zip(self.optimizer.state, slots, strict=True):
            need(isinstance(saved_slots, list) and len(saved_slots) == len(current_slots),
                 "the saved optimizer state does not match the model")
            for current, saved in zip(current_slots, saved_slots, strict=True):
                arrays.append(decode_array(saved, current.shape, "optimizer state"))
        need(isinstance(rng, dict), "the model has no random state ('rng')")
        states = []
        for name in ("shuffle", "dropout"):
            probe = np.random.default_rng()
            try:
                probe.bit_generator.state = rng.get(name)
            except (TypeError, ValueError, KeyError, OverflowError):
                raise ValueError(f"rng.{name} is not a random generator's state") from None
            states.append(probe.bit_generator.state)
        self.restore(ModelState([self.xp.asarray(a, dtype=self.dtype) for a in arrays], t,
                                epoch, (states[0], states[1])))


def _rows(a: Array) -> Array:
    """Outputs or targets per step (m, T, k) as rows (m T, k), which the head takes."""
    return a.reshape(-1, a.shape[-1]) if a.ndim == 3 else a


def clip_global_norm(xp: Any, grads: list[Array], limit: float) -> float:
    """Scale every gradient by limit / ||g|| when the norm of all of them together is
    above limit (Pascanu et al. 2013): the direction stays, the step is bounded. Returns
    the norm before."""
    norm = float(math.sqrt(sum(float((g * g).sum()) for g in grads)))
    if norm > limit:
        scale = limit / norm
        for g in grads:
            g *= scale
    return norm


def batch_length(n: int, batch_size: int | str) -> int:
    """Examples per mini-batch of an epoch over n: "full" is all of them."""
    return n if batch_size == "full" else max(1, min(int(batch_size), n))


class Epoch:
    """An epoch in progress: the data in this epoch's shuffled order, its learning rate,
    and where the next mini-batch starts. Each next() trains one batch; the epoch counts
    (model.epoch + 1) with its last one. Its state is open so that a Group (group.py) can
    step it, and no other mini-batch is then trained differently."""

    def __init__(self, model: Model, x: Array, y: Array, batch_size: int | str) -> None:
        self.model = model
        x, t = model.as_x(x), model.targets(y)
        self.n = n = x.shape[0]
        self.size = batch_length(n, batch_size)
        self.lr = model.learning_rate
        perm = model.shuffle_rng.permutation(n)
        if model.xp is not np:
            perm = model.xp.asarray(perm)
        self.xs, self.ts = x[perm], t[perm]
        self.start = 0  # of the next batch
        self.finished = False

    def __iter__(self) -> Epoch:
        return self

    def __next__(self) -> int:
        if self.finished:
            raise StopIteration
        if self.start < self.n:
            end = self.start + self.size
            self.model.train_batch(self.xs[self.start:end], self.ts[self.start:end], self.lr)
        return self.advance()

    def advance(self) -> int:
        """Past the batch just trained (by next() or a group): returns where it started."""
        start = self.start
        self.start += self.size
        if self.start >= self.n:
            self.model.epoch += 1
            self.finished = True
        return start


@dataclass(frozen=True)
class ModelState:
    """A copy of what training changes: arrays (see Model.state_arrays), the optimizer's
    step count, the epoch and both random streams. Restoring it is exact."""

    arrays: list[Array]
    t: int
    epoch: int
    rng: tuple[dict[str, Any], dict[str, Any]]
