"""Layers for images, with the same face as the dense ones: convolution, max and average
pooling, and the flatten that joins them to the dense layers.

Layout NCHW: a batch is (m, channels, height, width). A convolution is one matrix
product: im2col gathers every k x k window of every channel into a column,
cols (C k k, m Ho Wc), and z = W (F, C k k) @ cols; backward is two more products and
col2im, which adds each column back onto the pixels it came from. The gathering and the
scattering loop over the k x k offsets of the kernel only (9 or 25 steps, each one slice
of the whole batch), never over examples or pixels, and use only basic indexing of the
array module, so numpy and cupy alike run them. Pooling likewise loops over the offsets
inside a window.

Output size per side: (n - k + 2p) // s + 1 (the course's formula, rounded down as the
libraries do). 'valid' is p = 0; 'same' is p = (k - 1) / 2 on every side (odd kernels),
which gives ceil(n / s): n at stride 1. Pooling takes size x size windows with stride =
size; rows and columns left over at the bottom and right are dropped (as PyTorch does).
"""

from __future__ import annotations

import math
from typing import Any

from .layers import Layer

Array = Any
PADDINGS = ("same", "valid")
POOLS = ("max", "avg")


def padding_amount(kernel: int, padding: str) -> int:
    """p on each side: 0 for 'valid', (k - 1) / 2 for 'same' (which needs an odd k)."""
    if padding == "valid":
        return 0
    if padding == "same":
        if kernel % 2 == 0:
            raise ValueError(f"padding 'same' needs an odd kernel, not {kernel}")
        return (kernel - 1) // 2
    raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}")


def conv_output_size(n: int, kernel: int, stride: int, padding: str) -> int:
    """(n - k + 2p) // s + 1; below 1 when the kernel does not fit."""
    return (n - kernel + 2 * padding_amount(kernel, padding)) // stride + 1


def conv_output_shape(in_shape: tuple[int, int, int], filters: int, kernel: int, stride: int,
                      padding: str) -> tuple[int, int, int]:
    _, h, w = in_shape
    return (filters, conv_output_size(h, kernel, stride, padding),
            conv_output_size(w, kernel, stride, padding))


def pool_output_shape(in_shape: tuple[int, int, int], size: int) -> tuple[int, int, int]:
    c, h, w = in_shape
    return (c, h // size, w // size)


def cols_width(w: int, k: int, s: int, p: int) -> int:
    """Columns im2col computes per output row: wo, or at stride 1 the padded width W + 2p
    (see im2col)."""
    return w + 2 * p if s == 1 else (w - k + 2 * p) // s + 1


def im2col(xp: Any, x: Array, k: int, s: int, p: int, ho: int, wo: int) -> Array:
    """x (m, C, H, W) -> cols (C k k, m ho wc): row (c, i, j) holds pixel (i, j) of every
    k x k window of channel c, windows in (example, row, column) order.

    At stride 1, wc = W + 2p: the padded image is taken as one flat row per channel and
    example, where the window at (y, x) starts at y (W + 2p) + x, so that each kernel
    offset is one contiguous slice. The last k - 1 columns of each output row are then
    windows that wrap around the edge: computed and thrown away (the output keeps
    columns < wo), which costs (W + 2p) / wo more arithmetic and saves most of the
    copying. At other strides wc = wo and each offset is a slice with steps."""
    m, c, h, w = x.shape
    hp, wp = h + 2 * p, w + 2 * p
    xt = x.transpose(1, 0, 2, 3)
    if s == 1:
        n = ho * wp
        padded = xp.zeros((c, m, hp + 1, wp), dtype=x.dtype)  # a spare row: k - 1 <= wp
        padded[:, :, p:p + h, p:p + w] = xt
        flat = padded.reshape(c, m, (hp + 1) * wp)
        cols = xp.empty((c, k, k, m, n), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = flat[:, :, i * wp + j:i * wp + j + n]
        return cols.reshape(c * k * k, m * n)
    if p:
        padded = xp.zeros((c, m, hp, wp), dtype=x.dtype)
        padded[:, :, p:p + h, p:p + w] = xt
        xt = padded
    cols = xp.empty((c, k, k, m, ho, wo), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xt[:, :, i:i + s * ho:s, j:j + s * wo:s]
    return cols.reshape(c * k * k, m * ho * wo)


def col2im(xp: Any, cols: Array, x_shape: tuple[int, ...], k: int, s: int, p: int, ho: int,
           wo: int) -> Array:
    """im2col's adjoint: every column entry is added back onto the pixel it was taken
    from (overlapping windows add up); the padding's share is dropped. -> (m, C, H, W).
    At stride 1 the thrown-away columns must hold zeros."""
    m, c, h, w = x_shape
    hp, wp = h + 2 * p, w + 2 * p
    if s == 1:
        n = ho * wp
        cols = cols.reshape(c, k, k, m, n)
        dx = xp.zeros((c, m, hp + 1, wp), dtype=cols.dtype)
        flat = dx.reshape(c, m, (hp + 1) * wp)  # a view: dx is contiguous
        for i in range(k):
            for j in range(k):
                flat[:, :, i * wp + j:i * wp + j + n] += cols[:, i, j]
    else:
        cols = cols.reshape(c, k, k, m, ho, wo)
        dx = xp.zeros((c, m, hp, wp), dtype=cols.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * ho:s, j:j + s * wo:s] += cols[:, i, j]
    return dx[:, :, p:p + h, p:p + w].transpose(1, 0, 2, 3)


class Convolution(Layer):
    """What a convolution over images (Conv2D) and one along time (seqconv.Conv1D) share:
    W (filters, channels, k[, k]), b (filters,) or none (batch norm follows), stride and
    padding. `input_grad` False skips dx in backward (the model sets it on its first
    layer, whose input is the data): backward then returns None."""

    def __init__(self, xp: Any, W: Array, b: Array | None, stride: int, padding: str,
                 in_shape: tuple[int, ...]) -> None:
        super().__init__(xp)
        self.W = W
        self.b = b
        self.param_names = ("W", "b") if b is not None else ("W",)  # type: ignore[misc]
        self.stride = int(stride)
        self.padding = padding
        self.pad = padding_amount(int(W.shape[2]), padding)
        self.in_shape = tuple(int(n) for n in in_shape)
        self.input_grad = True
        self._cols: Array = None
        self._x_shape: tuple[int, ...] = ()

    @property
    def filters(self) -> int:
        return int(self.W.shape[0])

    @property
    def kernel(self) -> int:
        return int(self.W.shape[2])

    @property
    def units(self) -> int:
        return math.prod(self._shape)  # type: ignore[arg-type]


class Conv2D(Convolution):
    """z[n, f] = sum_c W[f, c] * x[n, c] + b[f] (cross-correlation, as every library does);
    W is (filters, channels, k, k)."""

    kind = "conv"

    def __init__(self, xp: Any, W: Array, b: Array | None, stride: int, padding: str,
                 in_shape: tuple[int, int, int]) -> None:
        super().__init__(xp, W, b, stride, padding, in_shape)
        self._shape = conv_output_shape(self.in_shape, self.filters, self.kernel, self.stride,
                                        padding)
        self._wc = cols_width(self.in_shape[2], self.kernel, self.stride, self.pad)

    @property
    def cols_per_example(self) -> int:
        """Entries of im2col per example: what a forward pass holds on to."""
        return int(self.W[0].size) * self._shape[1] * self._wc

    def forward(self, x, training):
        f, ho, wo = self._shape
        m = x.shape[0]
        cols = im2col(self.xp, x, self.kernel, self.stride, self.pad, ho, wo)
        z = self.W.reshape(f, -1) @ cols
        if self.b is not None:
            z += self.b[:, None]
        if training:
            self._cols, self._x_shape = cols, x.shape
        z = z.reshape(f, m, ho, self._wc)
        if self._wc != wo:
            z = z[:, :, :, :wo]
        return self.xp.ascontiguousarray(z.transpose(1, 0, 2, 3))

    def backward(self, dz):
        f, ho, wo = self._shape
        m = dz.shape[0]
        d = dz.transpose(1, 0, 2, 3)
        if self._wc != wo:
            wide = self.xp.zeros((f, m, ho, self._wc), dtype=dz.dtype)
            wide[:, :, :, :wo] = d
            d = wide
        d2 = d.reshape(f, -1)
        self.grads["W"] = (self._cols @ d2.T).T.reshape(self.W.shape)
        if self.b is not None:
            self.grads["b"] = d2.sum(axis=1)
        if not self.input_grad:
            return None
        dcols = self.W.reshape(f, -1).T @ d2
        return col2im(self.xp, dcols, self._x_shape, self.kernel, self.stride, self.pad, ho, wo)

    def config(self):
        return {"filters": self.filters, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding, "in_shape": list(self.in_shape),
                "shape": list(self._shape), "bias": self.b is not None}

    def describe(self):
        c = self.in_shape[0]
        return f"conv {c}->{self.filters} {self.kernel}x{self.kernel}" + \
            (f" /{self.stride}" if self.stride > 1 else "") + f" {self.padding}"


class Pool2D(Layer):
    """size x size windows, stride = size, per channel; no parameters.

    The windows are pooled in two steps, across then down: the image as rows of s
    pixels (each of the s offsets one strided slice), then the result as groups of s
    rows; every step is a handful of whole-batch operations."""

    mode = ""

    def __init__(self, xp: Any, size: int, in_shape: tuple[int, int, int]) -> None:
        super().__init__(xp)
        self.size = int(size)
        self.in_shape = tuple(int(n) for n in in_shape)
        self._shape = pool_output_shape(self.in_shape, self.size)
        self._x_shape: tuple[int, ...] = ()

    @property
    def units(self) -> int:
        return math.prod(self._shape)

    def _across(self, x: Array) -> Array:
        """x (m, C, H, W) -> (m C Ho s Wo, s): each row a window's row (leftover rows and
        columns dropped)."""
        _, ho, wo = self._shape
        s = self.size
        if x.shape[2:] != (ho * s, wo * s):
            x = x[:, :, :ho * s, :wo * s]
        return self.xp.ascontiguousarray(x).reshape(-1, s)

    def _down(self, a: Array) -> Array:
        """(m C Ho s Wo,) -> (m C Ho, s, Wo): the s rows of each window."""
        _, _, wo = self._shape
        return a.reshape(-1, self.size, wo)

    def _image(self, g: Array) -> Array:
        """(m C Ho s Wo, s) -> dx (m, C, H, W), zero where leftover pixels were dropped."""
        _, ho, wo = self._shape
        m, c, h, w = self._x_shape
        s = self.size
        d = g.reshape(m, c, ho * s, wo * s)
        if (ho * s, wo * s) == (h, w):
            return d
        dx = self.xp.zeros(self._x_shape, dtype=d.dtype)
        dx[:, :, :ho * s, :wo * s] = d
        return dx

    def config(self):
        return {"size": self.size, "in_shape": list(self.in_shape), "shape": list(self._shape)}

    def describe(self):
        return f"{self.mode} pool {self.size}x{self.size}"


class MaxPool2D(Pool2D):
    """The largest value of each window. Backward sends the gradient to one position per
    window: the first largest in row-major order (PyTorch does the same), so ties are
    handled consistently and each window passes on exactly its gradient."""

    kind = "max_pool"
    mode = "max"

    def __init__(self, xp: Any, size: int, in_shape: tuple[int, int, int]) -> None:
        super().__init__(xp, size, in_shape)
        self._across_arg: Array = None
        self._down_arg: Array = None

    def _max(self, parts: Array, n: int, training: bool) -> tuple[Array, Array]:
        """The largest of parts(0..n-1) and, in training, the first index that has it."""
        xp = self.xp
        best, arg = parts(0), None
        if training:
            arg = xp.zeros(best.shape, dtype=xp.int32)
        for o in range(1, n):
            v = parts(o)
            if training:
                better = v > best  # strictly: a tie keeps the earlier position
                arg -= (arg - o) * better  # arithmetic: where() with a scalar is slow
            best = xp.maximum(best, v)
        return best, arg

    def forward(self, x, training):
        _, ho, wo = self._shape
        s = self.size
        g = self._across(x)
        rows, across_arg = self._max(lambda j: g[:, j], s, training)
        d = self._down(rows)
        out, down_arg = self._max(lambda i: d[:, i], s, training)
        if training:
            self._x_shape = x.shape
            self._across_arg, self._down_arg = across_arg, down_arg
        out = out.reshape(x.shape[0], x.shape[1], ho, wo)
        return out.copy() if s == 1 else out

    def backward(self, dout):
        xp, s = self.xp, self.size
        _, _, wo = self._shape
        d = dout.reshape(-1, wo)
        rows = xp.empty((d.shape[0], s, wo), dtype=dout.dtype)
        for i in range(s):
            rows[:, i] = d * (self._down_arg == i)
        rows = rows.reshape(-1)
        g = xp.empty((rows.shape[0], s), dtype=dout.dtype)
        for j in range(s):
            g[:, j] = rows * (self._across_arg == j)
        return self._image(g)


class AvgPool2D(Pool2D):
    """The mean of each window; backward shares each gradient equally over its window."""

    kind = "avg_pool"
    mode = "avg"

    def forward(self, x, training):
        _, ho, wo = self._shape
        s = self.size
        g = self._across(x)
        rows = g[:, 0].copy()
        for j in range(1, s):
            rows += g[:, j]
        d = self._down(rows)
        out = d[:, 0].copy()
        for i in range(1, s):
            out += d[:, i]
        out *= x.dtype.type(1.0 / (s * s))
        if training:
            self._x_shape = x.shape
        return out.reshape(x.shape[0], x.shape[1], ho, wo)

    def backward(self, dout):
        xp = self.xp
        _, _, wo = self._shape
        s = self.size
        share = dout.reshape(-1, wo) * dout.dtype.type(1.0 / (s * s))
        rows = xp.empty((share.shape[0], s, wo), dtype=dout.dtype)
        for i in range(s):
            rows[:, i] = share
        rows = rows.reshape(-1)
        g = xp.empty((rows.shape[0], s), dtype=dout.dtype)
        for j in range(s):
            g[:, j] = rows
        return self._image(g)


POOL_LAYERS: dict[str, type[Pool2D]] = {"max": MaxPool2D, "avg": AvgPool2D}


class Flatten(Layer):
    """(m, C, H, W) -> (m, C H W) in NCHW order, before the first dense layer after
    convolutions or pooling."""

    kind = "flatten"

    def __init__(self, xp: Any, in_shape: tuple[int, ...]) -> None:
        super().__init__(xp)
        self.in_shape = tuple(int(n) for n in in_shape)

    @property
    def units(self) -> int:
        return math.prod(self.in_shape)

    def forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape((dout.shape[0], *self.in_shape))

    def config(self):
        return {"in_shape": list(self.in_shape), "units": self.units}

    def describe(self):
        return "flatten"
