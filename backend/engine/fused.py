"""A dense network's training step in few array calls: the solo path's fast lane.

A mini-batch of a small dense net costs ~100 NumPy calls of about a microsecond each,
not arithmetic. Here every layer's weights, biases, gradients and optimizer state are
views of one flat buffer each, so the optimizer updates them all in one call (and a
penalty adds to every dW in one); each activation's derivative is taken for all hidden
layers of that activation at once; the gradients of hidden layers of one shape come
from one batched matmul and one reduction; and every result goes into buffers kept per
batch size, not into fresh arrays.

Each operation is one that Model.backward and Optimizer.step do, on the same elements
in the same order, so the weights are the same bit for bit: elementwise operations do
not care how their elements are laid out, np.matmul makes the same BLAS call for each
slice of a stack and for one matrix, and a reduction along the batch axis adds the rows
in order either way (as group.py relies on too).

NumPy only, dense layers with biases and no dropout: other networks, and a model whose
arrays a group holds (group.py), take Model's general path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import Activation as Act
from .layers import Activation, Dense

if TYPE_CHECKING:
    from .model import Model

Array = Any
Into = Callable[[Array, Array], Any]


def _tanh_der(z: Array, a: Array, out: Array) -> None:
    np.multiply(a, a, out=out)  # 1 - a a
    np.subtract(1.0, out, out=out)


def _sigmoid(z: Array, out: Array) -> None:
    np.multiply(z, 0.5, out=out)  # 0.5 (1 + tanh(0.5 z)), as activations.sigmoid
    np.tanh(out, out=out)
    np.add(out, 1.0, out=out)
    np.multiply(out, 0.5, out=out)


def _sigmoid_der(z: Array, a: Array, out: Array) -> None:
    np.subtract(1.0, a, out=out)  # a (1 - a)
    np.multiply(a, out, out=out)


# The common activations written into a buffer: the same operations as their fn and der.
_FORWARD: dict[str, Into] = {
    "tanh": lambda z, out: np.tanh(z, out=out),
    "relu": lambda z, out: np.maximum(z, 0, out=out),
    "sigmoid": _sigmoid,
}
_DERIVATIVE: dict[str, Callable[[Array, Array, Array], None]] = {
    "tanh": _tanh_der,
    "sigmoid": _sigmoid_der,
    "relu": lambda z, a, out: np.greater(z, 0, out=out),
}


def _forward(act: Act) -> Into:
    def into(z: Array, out: Array) -> None:
        out[...] = act.fn(np, z)

    return _FORWARD.get(act.name, into)


def _derivative(act: Act) -> Callable[[Array, Array, Array], None]:
    def into(z: Array, a: Array, out: Array) -> None:
        out[...] = act.der(np, z, a)

    return _DERIVATIVE.get(act.name, into)


def _runs(keys: list[Any]) -> list[tuple[int, int]]:
    """[lo, hi) of each stretch of equal consecutive keys."""
    runs: list[tuple[int, int]] = []
    for i, key in enumerate(keys):
        if runs and keys[runs[-1][0]] == key:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


class FusedStep:
    """The flat buffers of one model and its mini-batch step over them."""

    @staticmethod
    def fits(model: Model) -> bool:
        layers = model.layers
        return (model.xp is np and len(layers) % 2 == 1
                and all(type(layer) is Dense and layer.b is not None for layer in layers[::2])
                and all(type(layer) is Activation for layer in layers[1::2]))

    def __init__(self, model: Model) -> None:
        self.model = model
        self.dense: list[Dense] = model.dense_layers
        self.acts: list[Act] = [layer.act for layer in model.layers  # type: ignore[attr-defined]
                                if isinstance(layer, Activation)]
        shapes = [(int(d.W.shape[0]), int(d.W.shape[1])) for d in self.dense]
        self.shapes = shapes
        self.widths = [n for _, n in shapes[:-1]]  # of the hidden layers
        n_w = sum(a * b for a, b in shapes)
        size = n_w + sum(b for _, b in shapes)
        dtype = model.dtype
        # layout: every W, then every b, so that a penalty's slice and stacks of W are whole
        self.P = np.zeros(size, dtype)
        self.G = np.zeros(size, dtype)
        self.S = [np.zeros(size, dtype) for _ in model.optimizer.slots]
        self.W, self.gW = self._views(self.P, 0, shapes), self._views(self.G, 0, shapes)
        bias_shapes = [(b,) for _, b in shapes]
        self.b = self._views(self.P, n_w, bias_shapes)
        self.gb = self._views(self.G, n_w, bias_shapes)
        self.WT = [w.T for w in self.W]
        self.PW, self.GW = self.P[:n_w], self.G[:n_w]
        self.slot_views = [[v for pair in zip(self._views(s, 0, shapes),
                                              self._views(s, n_w, bias_shapes), strict=True)
                            for v in pair] for s in self.S]  # per slot, in params() order
        self.forward = [_forward(act) for act in self.acts]
        self.n_w = n_w
        self.buffers: dict[int, dict[str, Any]] = {}
        self.coef_key: Any = None
        self.coefs: dict[str, Any] = {}
        self.owned = False  # the model's arrays are views of the flat buffers
        self.lent = False  # a group holds the model's arrays (Model.lend)
        self.grads_lent = False
        self.own()

    @staticmethod
    def _views(flat: Array, start: int, shapes: list[tuple[int, ...]]) -> list[Array]:
        out = []
        for shape in shapes:
            n = int(np.prod(shape))
            out.append(flat[start:start + n].reshape(shape))
            start += n
        return out

    def own(self) -> None:
        """Make the model's weights, biases and optimizer state views of the flat buffers,
        with the values they have now."""
        for layer, W, b in zip(self.dense, self.W, self.b, strict=True):
            W[...] = layer.W
            b[...] = layer.b
            layer.W, layer.b = W, b
        per_param = list(zip(*self.slot_views, strict=True)) if self.S else \
            [() for _ in self.model.optimizer.state]
        for slots, views in zip(self.model.optimizer.state, per_param, strict=True):
            for view, current in zip(views, slots, strict=True):
                view[...] = current
            slots[:] = list(views)
        self.owned = True
        self.grads_lent = False

    def adopt(self) -> bool:
        """Own the model's arrays again unless a group holds them: whether it does now."""
        if not self.lent:
            self.own()
        return not self.lent

    def _buffers(self, m: int) -> dict[str, Any]:
        """The arrays a batch of m examples is written into, and their views as the
        step takes them."""
        dtype, widths, L = self.model.dtype, self.widths, len(self.dense)
        hidden = sum(widths) * m
        Z, A, D, DER = (np.zeros(hidden, dtype) for _ in range(4))
        per = [(m, w) for w in widths]
        z, a, d, der = (self._views(flat, 0, per) for flat in (Z, A, D, DER))
        offsets = np.cumsum([0] + [m * w for w in widths]).tolist()

        def stack(flat: Array, lo: int, hi: int) -> Array:
            """Hidden layers lo..hi-1 (of one width) of a flat buffer as (hi - lo, m, w)."""
            return flat[offsets[lo]:offsets[hi]].reshape(hi - lo, m, widths[lo])

        # hidden-to-hidden layers 1..L-2 of one shape: inputs a[i-1], dz d[i], dW
        w_runs = []
        for lo, hi in _runs([self.shapes[i] for i in range(1, L - 1)]):
            lo, hi = lo + 1, hi + 1
            n_in, n_out = self.shapes[lo]
            gws = self.G[self._w_offset(lo):self._w_offset(hi)].reshape(hi - lo, n_in, n_out)
            w_runs.append((stack(A, lo - 1, hi - 1).transpose(0, 2, 1), stack(D, lo, hi), gws))
        b_runs = []
        for lo, hi in _runs(widths):
            start = self.n_w + sum(widths[:lo])
            gbs = self.G[start:start + (hi - lo) * widths[lo]].reshape(hi - lo, widths[lo])
            b_runs.append((stack(D, lo, hi), gbs))
        der_runs = []
        for lo, hi in _runs([act.name for act in self.acts]):
            span = slice(offsets[lo], offsets[hi])
            der_runs.append((_derivative(self.acts[lo]), Z[span], A[span], DER[span]))
        buffers = {
            "forward": list(zip(self.W[:-1], self.b[:-1], z, a, self.forward, strict=True)),
            "z_out": np.zeros((m, self.shapes[-1][1]), dtype),
            "back": [(self.WT[i], d[i - 1], der[i - 1]) for i in range(L - 1, 0, -1)],
            "first": d[0] if L > 1 else None,
            "last_in": a[-1].T if L > 1 else None,
            "w_runs": w_runs, "b_runs": b_runs, "der_runs": der_runs,
            "scale": dtype(1.0 / m),
        }
        self.buffers[m] = buffers
        return buffers

    def _w_offset(self, i: int) -> int:
        return sum(a * b for a, b in self.shapes[:i])

    def step(self, x: Array, t: Array, lr: float) -> None:
        """Model.train_batch on (x, t) at rate lr, with the same result."""
        model = self.model
        B = self.buffers.get(x.shape[0]) or self._buffers(x.shape[0])
        h = x
        for W, b, z, a, act in B["forward"]:
            np.matmul(h, W, out=z)
            np.add(z, b, out=z)
            act(z, a)
            h = a
        z = B["z_out"]
        np.matmul(h, self.W[-1], out=z)
        np.add(z, self.b[-1], out=z)
        head = model.head
        dz = head.loss.dz(np, z, head.activation.fn(np, z), t, head.activation,
                          **head.loss_params)
        dz *= B["scale"]
        for der, zs, acts, out in B["der_runs"]:
            der(zs, acts, out)
        d = dz
        for WT, d_prev, der_prev in B["back"]:
            np.matmul(d, WT, out=d_prev)
            np.multiply(d_prev, der_prev, out=d_prev)
            d = d_prev
        first = B["first"]
        if first is None:  # no hidden layer
            np.matmul(x.T, dz, out=self.gW[0])
        else:
            np.matmul(x.T, first, out=self.gW[0])
            for inputs, ds, gws in B["w_runs"]:
                np.matmul(inputs, ds, out=gws)
            np.matmul(B["last_in"], dz, out=self.gW[-1])
            for ds, gbs in B["b_runs"]:
                np.add.reduce(ds, axis=1, out=gbs)
        np.add.reduce(dz, axis=0, out=self.gb[-1])
        spec = model.spec
        if spec.regularization_rate and spec.regularization != "none":
            self.GW += spec.regularization_rate * model.regularizer.grad(np, self.PW,
                                                                         model.l1_ratio)
        opt = model.optimizer
        opt.t += 1
        key = (lr, opt.t) if opt.counts_steps else lr
        if key != self.coef_key:
            self.coefs, self.coef_key = opt.coefficients(lr, opt.t), key
        opt.update(np, self.P, self.G, self.S, self.coefs)
        if not self.grads_lent:
            for layer, gw, gb in zip(self.dense, self.gW, self.gb, strict=True):
                layer.grads["W"], layer.grads["b"] = gw, gb
            self.grads_lent = True
