"""Layers for sequences (m, T, C), along time: a 1-D convolution, max and average
pooling, and a dense layer applied at every step.

The convolution is one matrix product: im2col gathers the k time offsets of every
window into cols (m T', k C) (a loop over the k offsets, each one strided slice of the
whole batch), and z = cols @ W (k C, F). Backward is two more products and the scatter
back (col2im) over the same k offsets. Sizes follow conv.py: T' = (T - k + 2p) // s + 1,
'same' is p = (k - 1) / 2 (odd k); pooling takes windows of `size` steps with stride =
size and drops the steps left over at the end.
"""

from __future__ import annotations

from typing import Any

from .conv import Convolution, conv_output_size
from .layers import Layer

Array = Any


class Conv1D(Convolution):
    """z[n, t, f] = sum_{i, c} x[n, s t + i - p, c] W[f, c, i] + b[f] (cross-correlation);
    W is (filters, channels, k) as PyTorch's Conv1d and conv.py's Conv2D, b (filters,)."""

    kind = "conv1d"

    def __init__(self, xp: Any, W: Array, b: Array | None, stride: int, padding: str,
                 in_shape: tuple[int, int]) -> None:
        super().__init__(xp, W, b, stride, padding, in_shape)
        self._shape = (conv_output_size(self.in_shape[0], self.kernel, self.stride, padding),
                       self.filters)

    def _matrix(self) -> Array:
        """W as (k C, F), rows in cols' (offset, channel) order."""
        return self.W.transpose(2, 1, 0).reshape(-1, self.filters)

    def _padded(self, x: Array) -> Array:
        p = self.pad
        if not p:
            return x
        m, T, C = x.shape
        out = self.xp.zeros((m, T + 2 * p, C), dtype=x.dtype)
        out[:, p:p + T] = x
        return out

    def forward(self, x, training):
        m, _, C = x.shape
        To, F = self._shape
        k, s = self.kernel, self.stride
        xp_ = self._padded(x)
        cols = self.xp.empty((m, To, k, C), dtype=x.dtype)
        for i in range(k):
            cols[:, :, i] = xp_[:, i:i + s * (To - 1) + 1:s]
        cols = cols.reshape(m * To, k * C)
        z = cols @ self._matrix()
        if self.b is not None:
            z += self.b
        if training:
            self._cols, self._x_shape = cols, x.shape
        return z.reshape(m, To, F)

    def backward(self, dz):
        m, T, C = self._x_shape
        To, F = self._shape
        k, s, p = self.kernel, self.stride, self.pad
        d2 = dz.reshape(m * To, F)
        dW = self._cols.T @ d2  # (k C, F)
        self.grads["W"] = self.xp.ascontiguousarray(dW.reshape(k, C, F).transpose(2, 1, 0))
        if self.b is not None:
            self.grads["b"] = d2.sum(axis=0)
        if not self.input_grad:
            return None
        dcols = (d2 @ self._matrix().T).reshape(m, To, k, C)
        dx = self.xp.zeros((m, T + 2 * p, C), dtype=dz.dtype)
        for i in range(k):
            dx[:, i:i + s * (To - 1) + 1:s] += dcols[:, :, i]
        return dx[:, p:p + T] if p else dx

    def config(self):
        return {"filters": self.filters, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding, "in_shape": list(self.in_shape),
                "shape": list(self._shape), "bias": self.b is not None}

    def describe(self):
        return f"conv1d {self.in_shape[1]}->{self.filters} k{self.kernel}" + \
            (f" /{self.stride}" if self.stride > 1 else "") + f" {self.padding}"


class Pool1D(Layer):
    """Windows of `size` steps, stride = size, per channel; no parameters."""

    mode = ""

    def __init__(self, xp: Any, size: int, in_shape: tuple[int, int]) -> None:
        super().__init__(xp)
        self.size = int(size)
        self.in_shape = (int(in_shape[0]), int(in_shape[1]))
        self._shape = (self.in_shape[0] // self.size, self.in_shape[1])
        self._x_shape: tuple[int, ...] = ()

    @property
    def units(self) -> int:
        return self._shape[0] * self._shape[1]

    def _windows(self, x: Array) -> Array:
        """x (m, T, C) -> (m, T', size, C), the leftover steps dropped."""
        To, C = self._shape
        return x[:, :To * self.size].reshape(x.shape[0], To, self.size, C)

    def _input(self, d: Array) -> Array:
        """(m, T', size, C) -> dx (m, T, C), zero on the dropped steps."""
        m, T, C = self._x_shape
        d = d.reshape(m, -1, C)
        if d.shape[1] == T:
            return d
        dx = self.xp.zeros(self._x_shape, dtype=d.dtype)
        dx[:, :d.shape[1]] = d
        return dx

    def config(self):
        return {"size": self.size, "in_shape": list(self.in_shape), "shape": list(self._shape)}

    def describe(self):
        return f"{self.mode} pool1d {self.size}"


class MaxPool1D(Pool1D):
    """The largest value of each window; backward sends the gradient to the first largest
    (as PyTorch and the 2-D pooling do)."""

    kind = "max_pool1d"
    mode = "max"

    def __init__(self, xp: Any, size: int, in_shape: tuple[int, int]) -> None:
        super().__init__(xp, size, in_shape)
        self._arg: Array = None

    def forward(self, x, training):
        w = self._windows(x)
        if training:
            self._x_shape = x.shape
            self._arg = w.argmax(axis=2)  # the first largest
        return w.max(axis=2)

    def backward(self, dout):
        xp = self.xp
        picks = xp.arange(self.size).reshape(1, 1, -1, 1) == self._arg[:, :, None, :]
        return self._input(picks * dout[:, :, None, :])


class AvgPool1D(Pool1D):
    """The mean of each window; backward shares each gradient equally over its window."""

    kind = "avg_pool1d"
    mode = "avg"

    def forward(self, x, training):
        if training:
            self._x_shape = x.shape
        return self._windows(x).mean(axis=2)

    def backward(self, dout):
        share = dout * dout.dtype.type(1.0 / self.size)
        m, To, C = dout.shape
        return self._input(self.xp.broadcast_to(share[:, :, None, :], (m, To, self.size, C)))


POOL1D_LAYERS: dict[str, type[Pool1D]] = {"max": MaxPool1D, "avg": AvgPool1D}


class PerStep(Layer):
    """A dense layer at every step: (m, T, C) -> (m, T, units), z_t = x_t W + b with the
    same W (C, units) and b (units,) for every t, as one (m T, C) @ (C, units) product."""

    kind = "dense_steps"

    def __init__(self, xp: Any, W: Array, b: Array | None, steps: int | None = None) -> None:
        super().__init__(xp)
        self.W = W
        self.b = b
        self.param_names = ("W", "b") if b is not None else ("W",)  # type: ignore[misc]
        self.steps = None if steps is None else int(steps)
        if self.steps is not None:
            self._shape = (self.steps, self.units)
        self._x: Array = None

    @property
    def units(self) -> int:
        return int(self.W.shape[1])

    def forward(self, x, training):
        m, T, C = x.shape
        x2 = x.reshape(m * T, C)
        if training:
            self._x = x2
        z = x2 @ self.W
        if self.b is not None:
            z += self.b
        return z.reshape(m, T, self.units)

    def backward(self, dz):
        m, T, _ = dz.shape
        d2 = dz.reshape(m * T, self.units)
        self.grads["W"] = self._x.T @ d2
        if self.b is not None:
            self.grads["b"] = d2.sum(axis=0)
        return (d2 @ self.W.T).reshape(m, T, -1)

    def config(self):
        return {"n_in": int(self.W.shape[0]), "units": self.units, "bias": self.b is not None,
                **({"steps": self.steps} if self.steps is not None else {})}

    def describe(self):
        return f"dense per step {self.W.shape[0]}->{self.units}"
