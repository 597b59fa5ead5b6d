"""Networks of one shape trained as one program.

K dense networks with the same layers (units and activations), input width, head,
optimizer kind and dtype, each in an epoch of the same length and batch size, step
together: their weights stacked as (K, n_in, n_out), one batched matmul per layer for
all of them, so the ~40 array calls of a mini-batch are paid once for the K. Each keeps
its own data and shuffle (its Epoch), learning rate and decay, penalty, dropout masks
(drawn from its own stream, as its Dropout layers draw them) and optimizer state and
step count.

Every operation is the solo one on stacked arrays, and each network's scalars are
worked out as its own optimizer works them out (see Optimizer), so a network ends with
the weights it would have alone: on the CPU bit for bit (np.matmul makes the same BLAS
call for each slice). A network whose loss turns NaN touches only its own slices.

While grouped, each model's weights and optimizer state are views of the stacks, so
whatever reads, restores or steps a member alone (snapshot, evaluate, restore, next() of
its epoch) works on its own weights as always; `release` gives each its own arrays back.
Batch norm and convolutions are not grouped: those networks train alone, as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from .layers import Activation, Dropout
from .model import Epoch, Model, batch_length
from .regularizers import REGULARIZERS

Array = Any


def group_key(model: Model, n: int, batch_size: int | str, start: int = 0) -> Hashable | None:
    """What networks must share to step together (None: this one trains alone). `n` is
    its training set's size and `start` where its next batch starts: networks at
    different places in their epochs step together when every batch has the same size,
    else only those at the same place do."""
    spec = model.spec
    if spec.input_shape is not None or spec.batch_norm or spec.clip_norm is not None or \
            not all(h.type == "dense" for h in spec.hidden):
        return None
    head, size = model.head, batch_length(n, batch_size)
    return (tuple((h.units, h.activation) for h in spec.hidden), spec.n_inputs,
            head.problem, head.n_outputs, head.activation.name, head.loss.name,
            tuple(sorted(head.loss_params.items())), spec.optimizer, spec.dtype,
            model.backend.device, n, size, start if n % size else None)


class Group:
    """K models of one group_key, stepped as one: `step` trains each one mini-batch of
    its epoch in progress."""

    def __init__(self, models: list[Model]) -> None:
        first = models[0]
        self.models = list(models)
        self.K = len(models)
        self.backend, self.xp = first.backend, first.xp
        xp = self.xp
        self.dtype = first.dtype
        self.head = first.head
        self.acts = [layer.act for layer in first.layers if isinstance(layer, Activation)]
        # the stacks, in the order of Model.params(): W (K, n_in, n_out), b (K, 1, n_out)
        self.params: list[Array] = []
        for i in range(len(first.dense_layers)):
            self.params.append(xp.stack([m.dense_layers[i].W for m in models]))
            self.params.append(xp.stack([m.dense_layers[i].b for m in models])[:, None, :])
        self.state = [[xp.stack([m.optimizer.state[j][s] for m in models]).reshape(p.shape)
                       for s in range(len(first.optimizer.slots))]
                      for j, p in enumerate(self.params)]
        for k, m in enumerate(models):
            self._bind(k, m)
        self.dropouts = self._dropouts()
        self.penalties = self._penalties()
        self.grads: list[Array] | None = None  # of the last step
        self._xs: Array = None  # each member's epoch, in its order: (K, n, n_in)
        self._ts: Array = None
        self._loaded: list[Epoch | None] = [None] * self.K
        self._coef_key: Any = None
        self._coefs: dict[str, Any] = {}

    # membership -------------------------------------------------------------------------
    def _bind(self, k: int, model: Model) -> None:
        """Point the model's weights and optimizer state at slice k of the stacks."""
        def view(j: int, stack: Array) -> Array:
            return stack[k] if j % 2 == 0 else stack[k, 0]  # W, or b of shape (n_out,)

        model.lend()
        for i, layer in enumerate(model.dense_layers):
            layer.W = view(2 * i, self.params[2 * i])
            layer.b = view(2 * i + 1, self.params[2 * i + 1])
        for j, slots in enumerate(model.optimizer.state):
            slots[:] = [view(j, stack) for stack in self.state[j]]

    def release(self) -> None:
        """Each model gets arrays of its own again (copies of its views)."""
        for m in self.models:
            m.take_back()

    def lend_grads(self, members: Iterable[int]) -> None:
        """Give these members' layers the gradients of the last step, as a step alone
        leaves them (the frames show their norms)."""
        if self.grads is None:
            return
        for k in members:
            for i, layer in enumerate(self.models[k].dense_layers):
                layer.grads["W"] = self.grads[2 * i][k]
                layer.grads["b"] = self.grads[2 * i + 1][k, 0]

    def _dropouts(self) -> list[list[Dropout | None] | None]:
        """Per hidden layer, each member's Dropout layer (None: it has none); None for a
        layer where no member has one."""
        per_member = [[layer for layer in m.layers if isinstance(layer, Dropout)]
                      for m in self.models]
        out: list[list[Dropout | None] | None] = []
        for i in range(len(self.acts)):
            layers = [d[i] if d else None for d in per_member]
            out.append(layers if any(d is not None for d in layers) else None)
        return out

    def _penalties(self) -> list[tuple[Any, float, Array | None, Array]]:
        """(regularizer, l1_ratio, members (None: all), their rates (K', 1, 1)) per kind
        of penalty in the group: members without one get none added, as alone."""
        parts: dict[tuple[str, float], list[int]] = {}
        for k, m in enumerate(self.models):
            spec = m.spec
            if spec.regularization_rate and spec.regularization != "none":
                parts.setdefault((spec.regularization, m.l1_ratio), []).append(k)
        out = []
        for (name, ratio), members in parts.items():
            rates = self._column([self.models[k].spec.regularization_rate for k in members])
            idx = None if len(members) == self.K else self.xp.asarray(members)
            out.append((REGULARIZERS.get(name), ratio, idx, rates))
        return out

    def _column(self, values: list[float]) -> Array:
        """Python floats as a (K', 1, 1) array of the weights' dtype: each rounded as a
        float scalar is when it meets an array of that dtype."""
        return self.xp.asarray(np.array(values, dtype=np.float64).astype(self.dtype)
                               .reshape(-1, 1, 1))

    # a step -----------------------------------------------------------------------------
    def step(self, epochs: list[Epoch]) -> None:
        """One mini-batch for each member (epochs[k] is models[k]'s epoch in progress,
        not finished), as next(epochs[k]) would train it alone."""
        xp, K = self.xp, self.K
        x, t = self._batch(epochs)
        m = x.shape[1]
        n_layers = len(self.params) // 2
        inputs, zs, outs, masks = [], [], [], []
        for i in range(n_layers):
            inputs.append(x)
            z = xp.matmul(x, self.params[2 * i])
            z += self.params[2 * i + 1]
            if i == n_layers - 1:
                break
            a = self.acts[i].fn(xp, z)
            mask = self._mask(i, a.shape)
            zs.append(z)
            outs.append(a)
            masks.append(mask)
            x = a if mask is None else a * mask
        head, n_out = self.head, z.shape[2]
        z2 = z.reshape(K * m, n_out)  # the head works on rows: (K m, n_out)
        dz = head.loss.dz(xp, z2, head.activation.fn(xp, z2), t.reshape(K * m, n_out),
                          head.activation, **head.loss_params)
        dz *= self.dtype(1.0 / m)
        dz = dz.reshape(K, m, n_out)
        grads: list[Array] = [None] * len(self.params)
        for i in reversed(range(n_layers)):
            grads[2 * i] = xp.matmul(inputs[i].transpose(0, 2, 1), dz)
            grads[2 * i + 1] = dz.sum(axis=1, keepdims=True)
            if i == 0:
                break
            da = xp.matmul(dz, self.params[2 * i].transpose(0, 2, 1))
            if masks[i - 1] is not None:
                da = da * masks[i - 1]
            dz = self.acts[i - 1].backward(xp, zs[i - 1], outs[i - 1], da)
        for reg, ratio, idx, rates in self.penalties:
            for i in range(n_layers):
                W, g = self.params[2 * i], grads[2 * i]
                if idx is None:
                    g += rates * reg.grad(xp, W, ratio)
                else:
                    g[idx] += rates * reg.grad(xp, W[idx], ratio)
        c = self._coefficients(epochs)
        update = self.models[0].optimizer.update
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            update(xp, p, g, s, c)
        self.grads = grads
        for e in epochs:
            e.advance()

    def evaluate(self, members: list[int], xs: list[Array],
                 ys: list[Array]) -> list[dict[str, float]]:
        """Model.evaluate of these members, each on its own (x, y), all of one size, in
        one batched pass: the same numbers (each member's rows go through the same
        operations, and its mean is taken over its own row of losses)."""
        xp, head = self.xp, self.head
        models = [self.models[k] for k in members]
        with np.errstate(all="ignore"):
            h, _ = self.forward(members, xp.stack([m.as_x(x)
                                                   for m, x in zip(models, xs, strict=True)]))
            count, m, n_out = h.shape
            z = h.reshape(count * m, n_out)
            a = head.activation.fn(xp, z)
            t = xp.concatenate([mod.targets(y) for mod, y in zip(models, ys, strict=True)])
            losses = head.loss.value(xp, z, a, t, head.activation, **head.loss_params)
            # a mean along the rows of a (count, m) array sums each row as a 1-d mean does
            loss = self.backend.to_numpy(losses.reshape(count, m).mean(axis=1)).tolist()
        if head.problem != "classification":
            return [{"loss": v} for v in loss]
        right = head.classes(xp, a).reshape(count, m) == xp.stack([xp.asarray(y) for y in ys])
        accuracy = self.backend.to_numpy(right.mean(axis=1)).tolist()
        return [{"loss": v, "accuracy": c} for v, c in zip(loss, accuracy, strict=True)]

    def forward(self, members: list[int], x: Array,
                hidden: bool = False) -> tuple[Array, list[Array]]:
        """At evaluation, the output layer's z of these members, (count, m, n_out), in one
        batched pass over x: (count, m, n_in), each member its own, or (m, n_in), the same
        for all; with `hidden`, each hidden layer's activations (count, m, units) too."""
        xp = self.xp
        every = len(members) == self.K
        idx = None if every else xp.asarray(members)
        outs: list[Array] = []
        n_layers = len(self.params) // 2
        h = x
        for i in range(n_layers):
            W, b = self.params[2 * i], self.params[2 * i + 1]
            h = xp.matmul(h, W if every else W[idx])
            h += b if every else b[idx]
            if i < n_layers - 1:
                h = self.acts[i].fn(xp, h)
                if hidden:
                    outs.append(h)
        return h, outs

    def _batch(self, epochs: list[Epoch]) -> tuple[Array, Array]:
        """Each member's next batch, stacked: (K, m, n_in) and (K, m, n_out)."""
        xp = self.xp
        if self._xs is None:
            e = epochs[0]
            self._xs = xp.empty((self.K, *e.xs.shape), dtype=e.xs.dtype)
            self._ts = xp.empty((self.K, *e.ts.shape), dtype=e.ts.dtype)
        for k, e in enumerate(epochs):
            if self._loaded[k] is not e:  # a new epoch (or a new member): its order
                if e.model is not self.models[k] or e.finished:
                    raise ValueError("a group steps its own members' epochs in progress")
                self._xs[k] = e.xs
                self._ts[k] = e.ts
                self._loaded[k] = e
        size, start = epochs[0].size, epochs[0].start
        if all(e.start == start for e in epochs):
            return self._xs[:, start:start + size], self._ts[:, start:start + size]
        if epochs[0].n % size:
            raise ValueError("networks whose batches differ in size cannot step together")
        rows = xp.asarray([e.start for e in epochs])[:, None] + xp.arange(size)
        members = xp.arange(self.K)[:, None]
        return self._xs[members, rows], self._ts[members, rows]

    def _mask(self, i: int, shape: tuple[int, ...]) -> Array:
        """Hidden layer i's dropout masks (K, m, units): each member's own draw, ones for
        one without dropout (x * 1 is x); None when no member has dropout."""
        layers = self.dropouts[i]
        if layers is None:
            return None
        mask = np.ones(shape, dtype=self.dtype)
        for k, d in enumerate(layers):
            if d is not None:
                mask[k] = d.draw(shape[1:], self.dtype)
        return self.xp.asarray(mask)

    def _coefficients(self, epochs: list[Epoch]) -> dict[str, Any]:
        """The optimizer's scalars of this step, each member's own, as (K, 1, 1) columns.
        Every member's step count goes up by one, as Optimizer.step counts it."""
        optimizers = [m.optimizer for m in self.models]
        for opt in optimizers:
            opt.t += 1
        key = [(e.lr, opt.t) if opt.counts_steps else e.lr
               for e, opt in zip(epochs, optimizers, strict=True)]
        if key != self._coef_key:
            each = [opt.coefficients(e.lr, opt.t)
                    for e, opt in zip(epochs, optimizers, strict=True)]
            self._coefs = {name: None if all(c[name] is None for c in each) else
                           self._column([1.0 if c[name] is None else c[name] for c in each])
                           for name in each[0]}
            self._coef_key = key
        return self._coefs

