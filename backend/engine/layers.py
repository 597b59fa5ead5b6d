"""Layers with one face: forward, backward, params and grads, to and from plain data.

The model is a list of these. Each layer caches what its backward pass needs from the
last forward pass in training mode.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .activations import ACTIVATIONS

Array = Any


class Layer:
    kind: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()  # trainable, updated by the optimizer
    buffer_names: ClassVar[tuple[str, ...]] = ()  # saved but not trained (running statistics)
    _shape: tuple[int, ...] | None = None

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.grads: dict[str, Array] = {}

    @property
    def units(self) -> int:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """One example's output: (units,) after a dense layer, (channels, height, width)
        after a convolution or pooling."""
        return self._shape if self._shape is not None else (self.units,)

    def forward(self, x: Array, training: bool) -> Array:
        raise NotImplementedError

    def backward(self, dout: Array) -> Array:
        raise NotImplementedError

    def params(self) -> list[Array]:
        return [getattr(self, n) for n in self.param_names]

    def arrays(self) -> dict[str, Array]:
        return {n: getattr(self, n) for n in self.param_names + self.buffer_names}

    def config(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return self.kind


class Dense(Layer):
    """z = x W + b; W is (n_in, n_out). Without bias when batch norm follows (beta does its job)."""

    kind = "dense"

    def __init__(self, xp: Any, W: Array, b: Array | None) -> None:
        super().__init__(xp)
        self.W = W
        self.b = b
        self.param_names = ("W", "b") if b is not None else ("W",)  # type: ignore[misc]
        self._x: Array = None

    @property
    def units(self) -> int:
        return int(self.W.shape[1])

    def forward(self, x, training):
        if training:
            self._x = x
        z = x @ self.W
        if self.b is not None:
            z += self.b
        return z

    def backward(self, dz):
        self.grads["W"] = self._x.T @ dz
        if self.b is not None:
            self.grads["b"] = dz.sum(axis=0)
        return dz @ self.W.T

    def config(self):
        return {"n_in": int(self.W.shape[0]), "units": self.units, "bias": self.b is not None}

    def describe(self):
        return f"dense {self.W.shape[0]}->{self.units}"


class Activation(Layer):
    kind = "activation"

    def __init__(self, xp: Any, name: str, units: int,
                 shape: tuple[int, ...] | None = None) -> None:
        super().__init__(xp)
        self.act = ACTIVATIONS.get(name)
        self._units = units
        self._shape = shape
        self._z: Array = None
        self._a: Array = None

    @property
    def units(self) -> int:
        return self._units

    def forward(self, z, training):
        a = self.act.fn(self.xp, z)
        if training:
            self._z, self._a = z, a
        return a

    def backward(self, da):
        return self.act.backward(self.xp, self._z, self._a, da)

    def config(self):
        return {"activation": self.act.name, "units": self._units, **_shape_entry(self)}

    def describe(self):
        return self.act.name


class Dropout(Layer):
    """Inverted dropout: keep with probability p = 1 - rate, scale by 1/p; off at evaluation."""

    kind = "dropout"

    def __init__(self, xp: Any, rate: float, units: int, rng: np.random.Generator,
                 shape: tuple[int, ...] | None = None) -> None:
        super().__init__(xp)
        self.rate = rate
        self.rng = rng
        self._units = units
        self._shape = shape
        self._mask: Array = None

    @property
    def units(self) -> int:
        return self._units

    def forward(self, x, training):
        if not training or self.rate == 0.0:
            return x
        self._mask = self.xp.asarray(self.draw(x.shape, x.dtype))
        return x * self._mask

    def draw(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """The next mask from this layer's random stream (a group draws it here too)."""
        keep = 1.0 - self.rate
        return (self.rng.random(shape) < keep).astype(dtype) / np.dtype(dtype).type(keep)

    def backward(self, dout):
        return dout if self.rate == 0.0 else dout * self._mask

    def config(self):
        return {"rate": self.rate, "units": self._units, **_shape_entry(self)}

    def describe(self):
        return f"dropout {self.rate:g}"


class BatchNorm(Layer):
    """z~ = gamma (z - mu) / sqrt(var + eps) + beta with batch statistics in training and
    exponentially weighted running ones at evaluation (biased variance).

    After a convolution, z is (m, C, H, W) and the statistics are per channel, over the
    batch and every position: it is normalized as the (m H W, C) array of its pixels; a
    sequence (m, T, C) likewise as (m T, C)."""

    kind = "batch_norm"
    param_names = ("gamma", "beta")
    buffer_names = ("running_mean", "running_var")
    frozen = False  # a tracing twin's: training passes use the running statistics too

    def __init__(self, xp: Any, units: int, dtype: Any, momentum: float = 0.9,
                 eps: float = 1e-5, shape: tuple[int, ...] | None = None) -> None:
        super().__init__(xp)
        self.momentum = momentum
        self.eps = eps
        self._shape = shape
        self.gamma = xp.ones(units, dtype=dtype)
        self.beta = xp.zeros(units, dtype=dtype)
        self.running_mean = xp.zeros(units, dtype=dtype)
        self.running_var = xp.ones(units, dtype=dtype)
        self._xhat: Array = None
        self._inv_std: Array = None

    @property
    def units(self) -> int:
        return int(self.gamma.shape[0])

    def forward(self, z, training):
        if z.ndim == 4:
            return _channels_first(self._forward(_channels_last(z), training), z.shape)
        if z.ndim == 3:  # a sequence (m, T, C): per channel over examples and steps
            return self._forward(z.reshape(-1, z.shape[2]), training).reshape(z.shape)
        return self._forward(z, training)

    def backward(self, dout):
        if dout.ndim == 4:
            return _channels_first(self._backward(_channels_last(dout)), dout.shape)
        if dout.ndim == 3:
            return self._backward(dout.reshape(-1, dout.shape[2])).reshape(dout.shape)
        return self._backward(dout)

    def _forward(self, z, training):
        if not training:
            return (z - self.running_mean) / self.xp.sqrt(self.running_var + self.eps) \
                * self.gamma + self.beta
        if self.frozen:
            self._inv_std = 1.0 / self.xp.sqrt(self.running_var + self.eps)
            self._xhat = (z - self.running_mean) * self._inv_std
            return self._xhat * self.gamma + self.beta
        mu = z.mean(axis=0)
        var = z.var(axis=0)
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1 - m) * mu
        self.running_var *= m
        self.running_var += (1 - m) * var
        self._inv_std = 1.0 / self.xp.sqrt(var + self.eps)
        self._xhat = (z - mu) * self._inv_std
        return self._xhat * self.gamma + self.beta

    def _backward(self, dout):
        xhat = self._xhat
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.gamma
        if self.frozen:  # the statistics are constants: an affine map per channel
            return dxhat * self._inv_std
        m = dout.shape[0]
        return (self._inv_std / m) * (m * dxhat - dxhat.sum(axis=0)
                                       - xhat * (dxhat * xhat).sum(axis=0))

    def config(self):
        return {"units": self.units, "momentum": self.momentum, "eps": self.eps,
                **_shape_entry(self)}

    def describe(self):
        return "batch norm"


def _channels_last(z: Array) -> Array:
    """(m, C, H, W) -> (m H W, C)."""
    return z.transpose(0, 2, 3, 1).reshape(-1, z.shape[1])


def _channels_first(z: Array, shape: tuple[int, ...]) -> Array:
    """_channels_last's inverse."""
    m, c, h, w = shape
    return z.reshape(m, h, w, c).transpose(0, 3, 1, 2)


def _shape_entry(layer: Layer) -> dict[str, Any]:
    """The output shape in a layer's config, where it is not just (units,)."""
    return {} if layer._shape is None else {"shape": list(layer._shape)}
