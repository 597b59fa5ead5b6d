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
in order either way (as group.py relies on too). Products of two matrices go through
np.dot where the sum runs over more than one term: it costs a third less a call than
np.matmul and makes the same BLAS call (checked byte for byte, NaN and inf included);
over one term the two take other routes, which agree on finite numbers but may differ in
the sign of a NaN.

NumPy only, dense layers with biases (dropout or not): other networks, and a model whose
arrays a group holds (group.py), take Model's general path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import Activation as Act
from .heads import Head
from .layers import Activation, Dense, Dropout

if TYPE_CHECKING:
    from .model import Model

Array = Any
Into = Callable[[Array, Array], Any]

# The buffers of one batch size stay with the model: past this size a batch takes the
# general path, whose arithmetic then outweighs its calls anyway. A model keeps those of
# BATCH_SIZES sizes (an epoch has at most two: full batches and the rest).
MAX_BATCH_BYTES = 4 * 2**20
BATCH_SIZES = 2


class _Constants:
    """Scalars as 0-d arrays of the weights' dtype: an array op takes one faster than a
    Python float, and a Python float meeting such an array is rounded to that dtype
    first, so the results are the same."""

    def __init__(self, dtype: Any) -> None:
        self.zero, self.half, self.one = (np.array(v, dtype) for v in (0.0, 0.5, 1.0))


def _forward(act: Act, k: _Constants) -> Into:
    """act.fn written into out, by the same operations."""
    if act.name == "tanh":
        return np.tanh  # type: ignore[no-any-return]
    if act.name == "relu":
        return lambda z, out: np.maximum(z, k.zero, out=out)
    if act.name == "sigmoid":
        def sigmoid(z: Array, out: Array) -> None:
            np.multiply(z, k.half, out)  # 0.5 (1 + tanh(0.5 z)), as activations.sigmoid
            np.tanh(out, out)
            np.add(out, k.one, out)
            np.multiply(out, k.half, out)
        return sigmoid

    def into(z: Array, out: Array) -> None:
        out[...] = act.fn(np, z)

    return into


def _derivative(act: Act, k: _Constants) -> Callable[[Array, Array, Array], None]:
    """act.der written into out, by the same operations."""
    if act.name == "tanh":
        def tanh(z: Array, a: Array, out: Array) -> None:
            np.multiply(a, a, out)  # 1 - a a
            np.subtract(k.one, out, out)
        return tanh
    if act.name == "sigmoid":
        def sigmoid(z: Array, a: Array, out: Array) -> None:
            np.subtract(k.one, a, out)  # a (1 - a)
            np.multiply(a, out, out)
        return sigmoid
    if act.name == "relu":
        return lambda z, a, out: np.greater(z, k.zero, out)  # (z > 0) as 0.0 or 1.0

    def into(z: Array, a: Array, out: Array) -> None:
        out[...] = act.der(np, z, a)

    return into


def _head(head: Head, k: _Constants) -> Callable[[Array, Array, Array, Array, Array], None] | None:
    """The head's dz (before the 1/m) written into out, by the operations of its loss's dz
    on its activation's output; None: the general way (head.loss.dz)."""
    act, loss = head.activation.name, head.loss.name
    if loss == "binary_cross_entropy" and head.n_outputs == 1:
        sigmoid = _forward(head.activation, k)

        def bce(z: Array, t: Array, a: Array, col: Array, out: Array) -> None:
            sigmoid(z, a)
            np.subtract(a, t, out)  # (a - t) / 1: the same, NaN included
        return bce
    if loss == "cross_entropy" and act == "softmax":
        def cross_entropy(z: Array, t: Array, a: Array, col: Array, out: Array) -> None:
            np.maximum.reduce(z, 1, None, col, True)  # as activations._softmax
            np.subtract(z, col, a)
            np.exp(a, a)
            np.add.reduce(a, 1, None, col, True)
            np.divide(a, col, a)
            np.subtract(a, t, out)
        return cross_entropy
    if loss == "mse" and act == "linear":
        two = np.array(2.0 / head.n_outputs, k.one.dtype)

        def mse(z: Array, t: Array, a: Array, col: Array, out: Array) -> None:
            np.subtract(z, t, out)  # (2 / n) (a - t) with a = z, times g' = 1: the same
            np.multiply(two, out, out)
        return mse
    return None


def _runs(keys: list[Any]) -> list[tuple[int, int]]:
    """[lo, hi) of each stretch of equal consecutive keys."""
    runs: list[tuple[int, int]] = []
    for i, key in enumerate(keys):
        if runs and keys[runs[-1][0]] == key:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


class _Batch:
    """The buffers a batch of m examples is written into, as the step takes them."""

    def __init__(self, step: FusedStep, m: int) -> None:
        dtype, widths, shapes, L = step.dtype, step.widths, step.shapes, len(step.shapes)
        Z, A, D, DER = (np.zeros(step.hidden_units * m, dtype) for _ in range(4))
        per = [(m, w) for w in widths]
        z, a, d, der = (_views(flat, 0, per) for flat in (Z, A, D, DER))
        # with dropout, the next layer's inputs are a * mask, each in a buffer of its own
        X, MASK = (np.zeros_like(A), np.zeros_like(A)) if step.dropouts else (A, None)
        self.masks = MASK
        inputs = _views(X, 0, per)
        masks: list[Array | None] = _views(MASK, 0, per) if MASK is not None else \
            [None] * len(widths)
        offsets = np.cumsum([0] + [m * w for w in widths]).tolist()

        def stack(flat: Array, lo: int, hi: int) -> Array:
            """Hidden layers lo..hi-1 (of one width) of a flat buffer as (hi - lo, m, w)."""
            return flat[offsets[lo]:offsets[hi]].reshape(hi - lo, m, widths[lo])

        # each hidden layer's b copied to its m rows (for all of one width in one copy): an
        # add of two arrays of one shape costs half one that broadcasts b
        ROWS = np.zeros_like(A)
        rows = _views(ROWS, 0, per)
        self.bias_rows = []
        for lo, hi in _runs(widths):
            start = step.n_w + sum(widths[:lo])
            b = step.P[start:start + (hi - lo) * widths[lo]].reshape(hi - lo, 1, widths[lo])
            self.bias_rows.append((stack(ROWS, lo, hi), b))
        self.forward = [(W, br, zi, ai, act, _product(m, *W.shape), mask, xi)
                        for W, br, zi, ai, act, mask, xi
                        in zip(step.W[:-1], rows, z, a, step.forward, masks, inputs,
                               strict=True)]
        self.out_product = _product(m, *shapes[-1])
        self.z_out = np.zeros((m, shapes[-1][1]), dtype)
        self.a_out = np.zeros_like(self.z_out)
        self.col = np.zeros((m, 1), dtype)  # a row's max, then its sum (softmax)
        self.dz = np.zeros_like(self.z_out)
        self.scale = np.array(1.0 / m, dtype)  # as Model.backward's dtype(1 / m)
        self.ders = []  # each activation's derivative for a stretch of hidden layers
        for lo, hi in _runs([act.name for act in step.acts]):
            span = slice(offsets[lo], offsets[hi])
            self.ders.append((_derivative(step.acts[lo], step.k), Z[span], A[span], DER[span]))
        # dz of hidden layer i-1 from that of layer i: W_i^T, into, dropout's mask, g'
        self.back = [(step.WT[i], d[i - 1], masks[i - 1], der[i - 1],
                      _product(m, shapes[i][1], shapes[i][0])) for i in range(L - 1, 0, -1)]
        self.hidden = L > 1
        self.first_dz = d[0] if L > 1 else None  # (without hidden layers: the head's dz)
        self.first_product = _product(shapes[0][0], m, shapes[0][1])
        self.last_in = inputs[-1].T if L > 1 else None
        self.last_product = _product(shapes[-1][0], m, shapes[-1][1])
        # hidden-to-hidden layers 1..L-2 of one shape: their inputs^T, dz and dW, stacked
        self.dW = []
        for lo, hi in _runs([shapes[i] for i in range(1, L - 1)]):
            lo, hi = lo + 1, hi + 1
            n_in, n_out = shapes[lo]
            start = step.w_offsets[lo]
            dW = step.G[start:start + (hi - lo) * n_in * n_out].reshape(hi - lo, n_in, n_out)
            self.dW.append((stack(X, lo - 1, hi - 1).transpose(0, 2, 1), stack(D, lo, hi), dW))
        # the hidden layers' db, for each stretch of one width: dz stacked, db stacked
        self.db = []
        for lo, hi in _runs(widths):
            start = step.n_w + sum(widths[:lo])
            db = step.G[start:start + (hi - lo) * widths[lo]].reshape(hi - lo, widths[lo])
            self.db.append((stack(D, lo, hi), db))


def _product(m: int, k: int, n: int) -> Callable[[Array, Array, Array], Any]:
    """What multiplies (m, k) by (k, n) into out: see the module's docstring."""
    return np.dot if k > 1 else np.matmul  # type: ignore[return-value]


def _views(flat: Array, start: int, shapes: list[tuple[int, ...]]) -> list[Array]:
    """Consecutive arrays of these shapes in a flat buffer, from start."""
    out = []
    for shape in shapes:
        n = math.prod(shape)
        out.append(flat[start:start + n].reshape(shape))
        start += n
    return out


class FusedStep:
    """The flat buffers of one model and its mini-batch step over them."""

    @staticmethod
    def fits(model: Model) -> bool:
        layers = model.layers
        period = 3 if model.spec.dropout > 0 else 2  # dense, activation[, dropout]
        return (model.xp is np and model.spec.clip_norm is None and len(layers) % period == 1
                and all(type(layer) is Dense and layer.b is not None
                        for layer in layers[::period])
                and all(type(layer) is Activation for layer in layers[1::period])
                and all(type(layer) is Dropout and layer.rng is model.dropout_rng
                        and layer.rate == model.spec.dropout
                        for layer in layers[2::period] if period == 3))

    def __init__(self, model: Model) -> None:
        self.model = model
        self.dtype = dtype = model.dtype
        self.k = _Constants(dtype)
        self.dense: list[Dense] = model.dense_layers
        # Every Dropout layer draws from the model's one stream at one rate, in the order
        # of the layers: the first's draw of all their masks at once is the same numbers.
        self.dropouts: list[Dropout] = [layer for layer in model.layers
                                        if isinstance(layer, Dropout)]
        self.acts: list[Act] = [layer.act for layer in model.layers  # type: ignore[attr-defined]
                                if isinstance(layer, Activation)]
        self.shapes = shapes = [(int(d.W.shape[0]), int(d.W.shape[1])) for d in self.dense]
        self.widths = [n for _, n in shapes[:-1]]  # of the hidden layers
        self.hidden_units = sum(self.widths)
        # bytes a batch of one example adds: Z, A, D, DER, bias rows (+ inputs and masks),
        # the head's z, a, dz and a column
        self.bytes_per_example = (self.hidden_units * (7 if self.dropouts else 5)
                                  + 3 * shapes[-1][1] + 1) * np.dtype(dtype).itemsize
        self.w_offsets = np.cumsum([0] + [a * b for a, b in shapes]).tolist()
        self.n_w = n_w = self.w_offsets[-1]
        size = n_w + sum(b for _, b in shapes)
        # every W, then every b: a penalty's slice and stacks of same-shape W are whole
        self.P = np.zeros(size, dtype)
        self.G = np.zeros(size, dtype)
        self.S = [np.zeros(size, dtype) for _ in model.optimizer.slots]
        biases = [(b,) for _, b in shapes]
        self.W, self.b = _views(self.P, 0, shapes), _views(self.P, n_w, biases)
        self.gW, self.gb = _views(self.G, 0, shapes), _views(self.G, n_w, biases)
        self.WT = [w.T for w in self.W]
        self.PW, self.GW = self.P[:n_w], self.G[:n_w]
        self.slot_views = [[v for pair in zip(_views(s, 0, shapes), _views(s, n_w, biases),
                                              strict=True) for v in pair]
                           for s in self.S]  # per slot, in params() order
        self.forward = [_forward(act, self.k) for act in self.acts]
        head = model.head
        self.head = _head(head, self.k)
        self.batches: dict[int, _Batch] = {}
        self.coef_key: Any = None
        self.coefs: dict[str, Any] = {}
        self.owned = False  # the model's arrays are views of the flat buffers
        self.lent = False  # a group holds the model's arrays (Model.lend)
        self.grads_lent = False
        self.own()

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

    def _batch(self, m: int) -> _Batch | None:
        """The buffers of a batch of m, None past MAX_BATCH_BYTES."""
        if m * self.bytes_per_example > MAX_BATCH_BYTES:
            return None
        while len(self.batches) >= BATCH_SIZES:
            del self.batches[next(iter(self.batches))]  # the oldest
        batch = self.batches[m] = _Batch(self, m)
        return batch

    def step(self, x: Array, t: Array, lr: float) -> bool:
        """Model.train_batch on (x, t) at rate lr, with the same result, if this lane
        can take it: whether it did."""
        if not (self.owned or self.adopt()) or x.shape[1:] != self.model.input_shape or \
                x.dtype != self.dtype or t.dtype != self.dtype:
            return False  # (other types mix as NumPy's promotion says, on the general path)
        m = x.shape[0]
        B = self.batches.get(m) or self._batch(m)
        if B is None or t.shape != B.dz.shape:
            return False
        multiply, reduce = np.multiply, np.add.reduce
        if B.masks is not None:
            B.masks[...] = self.dropouts[0].draw(B.masks.shape, self.dtype)
        for rows, b in B.bias_rows:
            rows[...] = b
        h = x
        for W, b_rows, z, a, act, product, mask, x_next in B.forward:
            product(h, W, z)
            np.add(z, b_rows, z)
            act(z, a)
            if mask is not None:
                multiply(a, mask, x_next)
            h = x_next
        z = B.z_out
        B.out_product(h, self.W[-1], z)
        np.add(z, self.b[-1], z)
        model = self.model
        if self.head is not None:
            dz = B.dz
            self.head(z, t, B.a_out, B.col, dz)
        else:
            head = model.head
            dz = head.loss.dz(np, z, head.activation.fn(np, z), t, head.activation,
                              **head.loss_params)
        multiply(dz, B.scale, dz)
        for der, zs, acts, out in B.ders:
            der(zs, acts, out)
        d = dz
        for WT, d_prev, mask, der_prev, product in B.back:
            product(d, WT, d_prev)
            if mask is not None:
                multiply(d_prev, mask, d_prev)
            multiply(d_prev, der_prev, d_prev)
            d = d_prev
        B.first_product(x.T, B.first_dz if B.hidden else dz, self.gW[0])
        if B.hidden:
            for inputs, ds, dW in B.dW:
                np.matmul(inputs, ds, dW)
            B.last_product(B.last_in, dz, self.gW[-1])
            for ds, db in B.db:
                reduce(ds, 1, None, db)
        reduce(dz, 0, None, self.gb[-1])
        spec = model.spec
        if spec.regularization_rate and spec.regularization != "none":
            self.GW += spec.regularization_rate * model.regularizer.grad(np, self.PW,
                                                                         model.l1_ratio)
        opt = model.optimizer
        opt.t += 1
        key = (lr, opt.t) if opt.counts_steps else lr
        if key != self.coef_key:
            self.coefs = {name: None if v is None else np.array(v, self.dtype)
                          for name, v in opt.coefficients(lr, opt.t).items()}
            self.coef_key = key
        opt.update(np, self.P, self.G, self.S, self.coefs)
        if not self.grads_lent:
            for layer, gw, gb in zip(self.dense, self.gW, self.gb, strict=True):
                layer.grads["W"], layer.grads["b"] = gw, gb
            self.grads_lent = True
        return True
