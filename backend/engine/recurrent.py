"""Recurrent layers: a simple RNN, an LSTM and a GRU, trained by backpropagation through
time (BPTT), batched over examples.

A batch is (m, T, C) (Keras' layout); inside, per-step arrays are time-major, (T, m, .)
(the LSTM's and GRU's (T, ., m): see LSTM), so that each step is one contiguous slice. The input's
share of every step is one matrix product before the loop, X (T m, C) @ Wx (or, for a
narrow input, part of the step's own product); a step then costs one product for all
its k gate blocks and a few in-place elementwise operations on buffers kept between
calls. Backward walks the steps back with one product each and, after the loop, gets
dWh, dWx and the biases with one product over all T m rows (dWh = H_prev^T dA). What
the backward step needs of the forward values (gate derivatives and their products) is
computed for many steps at once, outside the per-step loop.

Gate blocks are in PyTorch's order: LSTM input, forget, candidate (g), output; GRU
reset, update, candidate (n). The sigmoid gates are computed as 0.5 tanh(0.5 z) + 0.5:
the 0.5 inside is folded into scaled copies of the weights, so that each step takes one
tanh over all its gate blocks at once.

Training's buffers are kept per shape and reused (an evaluation's are not: it may cover
a whole data set): what forward returns, `trace` and the gradients are fresh arrays;
`state_grad` is a view of the last backward's buffer (good until the next backward).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .activations import ACTIVATIONS
from .initializers import Initializer
from .layers import Layer

Array = Any
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


class Recurrent(Layer):
    """What the three share: shapes, buffers, forward's output, trace, the state gradient.

    `input_grad` False skips dx in backward (for a first layer, whose input is the data):
    backward then returns None."""

    gate_names: ClassVar[tuple[str, ...]] = ()
    # Per-step arrays are (T, m, H), or (T, H, m) where feature_major (the LSTM's: each
    # gate block of a step is then one contiguous (H, m) slice).
    feature_major: ClassVar[bool] = False

    def __init__(self, xp: Any, Wx: Array, Wh: Array, return_sequences: bool,
                 in_shape: tuple[int, int] | None = None) -> None:
        super().__init__(xp)
        self.Wx = Wx
        self.Wh = Wh
        self.return_sequences = bool(return_sequences)
        self.in_shape = None if in_shape is None else (int(in_shape[0]), int(in_shape[1]))
        if self.return_sequences and self.in_shape is not None:
            self._shape = (self.in_shape[0], self.units)
        self.input_grad = True
        self._bufs: dict[tuple[Any, ...], Array] = {}
        self._train: dict[str, Array] = {}  # the last training forward's buffers
        self._S: Array = None

    @property
    def units(self) -> int:
        return int(self.Wh.shape[0])

    @property
    def state_grad(self) -> Array:
        """(m, T, H): dL/dh_t after the last backward, the whole gradient at step t
        (through the output at t and every later step); None before any backward."""
        return None if self._S is None else self._batch_major(self._S)

    def _batch_major(self, a: Array) -> Array:
        """A per-step array (T, m, H) or (T, H, m) as a (m, T, H) view."""
        return a.transpose(2, 0, 1) if self.feature_major else a.transpose(1, 0, 2)

    def _buf(self, name: str, shape: tuple[int, ...], dtype: Any) -> Array:
        """A buffer kept between calls while its shape and dtype stay the same; an
        evaluation's ("e..." names) is not kept, since it may cover a whole data set."""
        if name[0] == "e":
            return self.xp.empty(shape, dtype=dtype)
        key = (name, shape, np.dtype(dtype).str)
        a = self._bufs.get(key)
        if a is None:
            stale = [k for k in self._bufs if k[0] == name]
            for k in stale:
                del self._bufs[k]
            a = self._bufs[key] = self.xp.empty(shape, dtype=dtype)
        return a

    def _run(self, x: Array, training: bool) -> dict[str, Array]:
        raise NotImplementedError

    def forward(self, x, training):
        st = self._run(x, training)
        if training:
            self._train = st
        h = st["h"]
        if self.return_sequences:
            return self.xp.ascontiguousarray(self._batch_major(h[1:]))
        return self.xp.ascontiguousarray(h[-1].T) if self.feature_major else h[-1].copy()

    def trace(self, x: Array) -> dict[str, Any]:
        """At evaluation: {"states": (m, T, H), "gates": {name: (m, T, H)}}, fresh arrays."""
        st = self._run(x, False)
        xp = self.xp
        states = xp.ascontiguousarray(self._batch_major(st["h"][1:]))
        gates = {name: xp.ascontiguousarray(self._batch_major(g))
                 for name, g in self._gates(st).items()}
        return {"states": states, "gates": gates}

    def _gates(self, st: dict[str, Array]) -> dict[str, Array]:
        return {}

    def _state_grads(self, dout: Array, T: int, m: int) -> Array:
        """S (T, m, H) or (T, H, m), the gradient arriving from above: every step's with
        return_sequences, else only the last step's (the loop writes the others)."""
        H = self.units
        S = self._buf("S", (T, H, m) if self.feature_major else (T, m, H), dout.dtype)
        if self.return_sequences:
            self._batch_major(S)[...] = dout
        else:
            S[T - 1] = dout.T if self.feature_major else dout
        self._S = S
        return S

    def _carry(self, S: Array, t: int, a: Array, b: Array, tmp: Array) -> None:
        """S[t] += a @ b: what h_t gets back from step t + 1 (dA_{t+1} Wh^T, or
        Wh dA_{t+1} feature-major)."""
        if self.return_sequences:
            self.xp.matmul(a, b, out=tmp)
            S[t] += tmp
        else:
            self.xp.matmul(a, b, out=S[t])

    def _folds(self, C: int) -> bool:
        """Whether a step's product takes x_t and the bias too ([h_{t-1}; x_t; 1] rows,
        the LSTM and GRU): cheaper than adding a precomputed x Wx when C + 1 is small
        beside H."""
        return self.units >= 4 * (C + 1)

    def _describe(self, name: str) -> str:
        return f"{name} {self.Wx.shape[0]}->{self.units}" + (
            " sequences" if self.return_sequences else "")

    def _config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_in": int(self.Wx.shape[0]), "units": self.units,
                               "return_sequences": self.return_sequences}
        if self.in_shape is not None:
            out["in_shape"] = list(self.in_shape)
        return out


class SimpleRNN(Recurrent):
    """h_t = f(x_t Wx + h_{t-1} Wh + b), h_0 = 0 (the course's s_t = f(U x_t + W s_{t-1}),
    with row vectors). Wx (C, H), Wh (H, H), b (H,)."""

    kind = "rnn"
    param_names = ("Wx", "Wh", "b")

    def __init__(self, xp: Any, Wx: Array, Wh: Array, b: Array, activation: str = "tanh",
                 return_sequences: bool = False,
                 in_shape: tuple[int, int] | None = None) -> None:
        super().__init__(xp, Wx, Wh, return_sequences, in_shape)
        self.b = b
        self.act = ACTIVATIONS.get(activation)
        if not self.act.hidden:
            raise ValueError(f"activation {activation!r} cannot be a recurrent layer's")

    def _f(self, a: Array, out: Array) -> None:
        xp, name = self.xp, self.act.name
        if name == "tanh":
            xp.tanh(a, out=out)
        elif name == "relu":
            xp.maximum(a, 0, out=out)
        else:
            out[...] = self.act.fn(xp, a)

    def _run(self, x, training):
        xp = self.xp
        m, T, C = x.shape
        H, dt, tag = self.units, self.Wx.dtype, "t" if training else "e"
        X = self._buf(tag + "x", (T, m, C), dt)
        X[...] = x.transpose(1, 0, 2)
        A = self._buf(tag + "a", (T, m, H), dt)  # pre-activations
        xp.matmul(X.reshape(T * m, C), self.Wx, out=A.reshape(T * m, H))
        A += self.b
        h = self._buf(tag + "h", (T + 1, m, H), dt)
        h[0] = 0
        tmp = self._buf(tag + "tmp", (m, H), dt)
        Wh = self.Wh
        self._f(A[0], h[1])
        for t in range(1, T):
            xp.matmul(h[t], Wh, out=tmp)
            A[t] += tmp
            self._f(A[t], h[t + 1])
        return {"x": X, "a": A, "h": h}

    def backward(self, dout):
        xp = self.xp
        st = self._train
        X, A, h = st["x"], st["a"], st["h"]
        T, m, H = A.shape
        S = self._state_grads(dout, T, m)
        dA = self._buf("dA", (T, m, H), A.dtype)  # f'(a) first, then dL/da in place
        if self.act.name == "tanh":
            xp.multiply(h[1:], h[1:], out=dA)
            xp.subtract(1, dA, out=dA)
        else:
            dA[...] = self.act.der(xp, A, h[1:])
        WT, tmp = self.Wh.T, self._buf("tmp", (m, H), A.dtype)
        dA[T - 1] *= S[T - 1]
        for t in range(T - 2, -1, -1):
            self._carry(S, t, dA[t + 1], WT, tmp)
            dA[t] *= S[t]
        d2 = dA.reshape(T * m, H)
        self.grads["Wh"] = h[1:T].reshape((T - 1) * m, H).T @ d2[m:]
        self.grads["Wx"] = X.reshape(T * m, -1).T @ d2
        self.grads["b"] = d2.sum(axis=0)
        if not self.input_grad:
            return None
        dx = (d2 @ self.Wx.T).reshape(T, m, -1)
        return xp.ascontiguousarray(dx.transpose(1, 0, 2))

    def config(self):
        return {**self._config(), "activation": self.act.name}

    def describe(self):
        return self._describe(f"rnn {self.act.name}")




# The LSTM's gate blocks inside: output, input, forget, candidate (PyTorch's 3, 0, 1, 2),
# so that the sigmoid gates (o, i, f) are one slice and the three that dc multiplies in
# backward (i, f, g) another.
_LSTM_IN = (3, 0, 1, 2)  # inside block j = PyTorch's block _LSTM_IN[j]
_LSTM_OUT = (1, 2, 3, 0)  # PyTorch's block j = inside block _LSTM_OUT[j]
_LSTM_CHUNK = 2**16  # dz entries per chunk of steps for the weight gradients (256 kB)


class LSTM(Recurrent):
    """i, f, o = sigmoid(.), g = tanh(.) of x_t Wx + h_{t-1} Wh + b in four blocks (input,
    forget, candidate g, output: PyTorch's order); c_t = f c_{t-1} + i g;
    h_t = o tanh(c_t); h_0 = c_0 = 0. Wx (C, 4H), Wh (H, 4H), b (4H,).

    Inside it runs feature-major (each step's gates (4H, m), states (H, m)) with its
    blocks reordered (o, i, f, g): every block a step touches is one contiguous slice."""

    kind = "lstm"
    param_names = ("Wx", "Wh", "b")
    gate_names = ("input", "forget", "output", "candidate")
    feature_major = True

    def __init__(self, xp: Any, Wx: Array, Wh: Array, b: Array,
                 return_sequences: bool = False,
                 in_shape: tuple[int, int] | None = None) -> None:
        super().__init__(xp, Wx, Wh, return_sequences, in_shape)
        self.b = b
        # the 0.5 inside sigmoid(z) = 0.5 tanh(0.5 z) + 0.5, per row (o, i, f; not g)
        H = self.units
        self._scale = xp.asarray(np.repeat([0.5, 0.5, 0.5, 1.0], H), dtype=Wx.dtype)

    def _inside(self, a: Array) -> Array:
        return _blocks(self.xp, a, self.units, _LSTM_IN)

    def _run(self, x, training):
        xp = self.xp
        m, T, C = x.shape
        H, dt, tag = self.units, self.Wx.dtype, "t" if training else "e"
        H3, s = 3 * H, self._scale
        G = self._buf(tag + "g", (T, 4 * H, m), dt)  # pre-activations, then the gates
        WhsT = (self._inside(self.Wh) * s).T  # (4H, H)
        WxsT = (self._inside(self.Wx) * s).T  # (4H, C)
        bs = (self._inside(self.b) * s)[:, None]
        fold = self._folds(C)
        if fold:
            # a step's rows [h_{t-1}; x_t; 1]: one product gives its whole pre-activation
            A = self._buf(tag + "a", (T + 1, H + C + 1, m), dt)
            A[0, :H] = 0
            A[:T, H:H + C] = x.transpose(1, 2, 0)
            A[T, H:H + C] = 0
            A[:, H + C] = 1
            W = xp.concatenate([WhsT, WxsT, bs], axis=1)  # (4H, H + C + 1)
            h, X = A[:, :H], A
        else:
            X = self._buf(tag + "x", (T, C, m), dt)
            X[...] = x.transpose(1, 2, 0)
            xp.matmul(WxsT, X, out=G)
            G += bs
            W = xp.ascontiguousarray(WhsT)
            h = self._buf(tag + "h", (T + 1, H, m), dt)
            h[0] = 0
        c = self._buf(tag + "c", (T + 1, H, m), dt)
        tc = self._buf(tag + "tc", (T, H, m), dt)  # tanh(c_t)
        c[0] = 0
        tmp4 = self._buf(tag + "tmp4", (4 * H, m), dt)
        tmp = self._buf(tag + "tmp", (H, m), dt)
        matmul, tanh, multiply = xp.matmul, xp.tanh, xp.multiply
        for t in range(T):
            g = G[t]
            if fold:
                matmul(W, A[t], out=g)
            elif t:
                matmul(W, h[t], out=tmp4)
                g += tmp4
            tanh(g, out=g)
            sig = g[:H3]
            sig *= 0.5
            sig += 0.5
            if t:
                multiply(g[2 * H:H3], c[t], out=c[t + 1])  # f c_{t-1}
                multiply(g[H:2 * H], g[H3:], out=tmp)  # i g
                c[t + 1] += tmp
            else:
                multiply(g[H:2 * H], g[H3:], out=c[1])
            tanh(c[t + 1], out=tc[t])
            multiply(g[:H], tc[t], out=h[t + 1])
        return {"x": X, "g": G, "c": c, "tc": tc, "h": h, "fold": fold}

    def _gates(self, st):
        G = st["g"]
        H = self.units
        return {"input": G[:, H:2 * H], "forget": G[:, 2 * H:3 * H],
                "output": G[:, :H], "candidate": G[:, 3 * H:]}

    def backward(self, dout):
        xp = self.xp
        st = self._train
        X, G, c, tc, h = st["x"], st["g"], st["c"], st["tc"], st["h"]
        T, H4, m = G.shape
        H, dt = H4 // 4, G.dtype
        S = self._state_grads(dout, T, m)
        i, g = G[:, H:2 * H], G[:, 3 * H:]
        # dL/dz per block: [dh tc o(1-o), dc g i(1-i), dc c_prev f(1-f), dc i (1-g^2)]:
        # the factors beside dh and dc for every step at once; the loop multiplies them
        # in place by dh and dc, which leaves dL/dz in M.
        M = self._buf("M", (T, H4, m), dt)
        sig = M[:, :3 * H]
        xp.subtract(1, G[:, :3 * H], out=sig)
        sig *= G[:, :3 * H]  # s (1 - s) for o, i, f
        M[:, :H] *= tc
        M[:, H:2 * H] *= g
        M[:, 2 * H:3 * H] *= c[:T]
        mg = M[:, 3 * H:]
        xp.multiply(g, g, out=mg)
        xp.subtract(1, mg, out=mg)
        mg *= i
        ot = self._buf("ot", (T, H, m), dt)  # dc_t gains dh_t o (1 - tanh(c_t)^2)
        xp.multiply(tc, tc, out=ot)
        xp.subtract(1, ot, out=ot)
        ot *= G[:, :H]
        Wh = self._inside(self.Wh)  # (H, 4H)
        dc = self._buf("dc", (H, m), dt)
        tmp = self._buf("tmp", (H, m), dt)
        M4 = M.reshape(T, 4, H, m)
        multiply = xp.multiply
        # The weight gradients sum dz_t [h_{t-1}; x_t; 1]^T over steps: a chunk of k steps
        # at a time as the loop finishes it, while its dz is still in the cache (one
        # product over all T m columns after the loop, with the copy it needs, measured
        # 10 % slower at T = 100, H = 64).
        C = self.Wx.shape[0]
        K = H + C + 1
        k = max(1, min(T, _LSTM_CHUNK // (H4 * m)))
        P = xp.zeros((H4, K), dtype=dt)
        Dc = self._buf("Dc", (H4, k * m), dt)  # a chunk's dz as (4H, n m)
        Ac = self._buf("Ac", (k * m, K), dt)  # its [h_{t-1}; x_t; 1] rows
        Ac[:, H + C] = 1
        dX = self._buf("dX", (C, T, m), dt) if self.input_grad else None
        Wx = self._inside(self.Wx)  # (C, 4H)
        hi = T
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                self._carry(S, t, Wh, M[t + 1], tmp)
                multiply(S[t], ot[t], out=tmp)
                dc += tmp
            else:
                multiply(S[t], ot[t], out=dc)
            dz = M4[t]
            multiply(dc, dz[1:], out=dz[1:])
            multiply(S[t], dz[0], out=dz[0])
            dc *= G[t, 2 * H:3 * H]  # f_t
            if hi - t == k or t == 0:
                n = hi - t
                d, a = Dc[:, :n * m], Ac[:n * m]
                d.reshape(H4, n, m)[...] = M[t:hi].transpose(1, 0, 2)
                rows = a.reshape(n, m, K)
                if st["fold"]:  # X holds the rows already
                    rows[...] = X[t:hi].transpose(0, 2, 1)
                else:
                    rows[:, :, :H] = h[t:hi].transpose(0, 2, 1)
                    rows[:, :, H:H + C] = X[t:hi].transpose(0, 2, 1)
                P += d @ a
                if dX is not None:
                    dX[:, t:hi] = (Wx @ d).reshape(C, n, m)
                hi = t
        out = _LSTM_OUT
        self.grads["Wh"] = _blocks(xp, P[:, :H].T, H, out)
        self.grads["Wx"] = _blocks(xp, P[:, H:K - 1].T, H, out)
        self.grads["b"] = _blocks(xp, P[:, K - 1], H, out)
        if dX is None:
            return None
        return xp.ascontiguousarray(dX.transpose(2, 1, 0))

    def config(self):
        return self._config()

    def describe(self):
        return self._describe("lstm")


class GRU(Recurrent):
    """r, z = sigmoid(x_t Wx_{r,z} + bx_{r,z} + h_{t-1} Wh_{r,z} + bh_{r,z});
    n = tanh(x_t Wx_n + bx_n + r (h_{t-1} Wh_n + bh_n)); h_t = (1 - z) n + z h_{t-1};
    h_0 = 0 (PyTorch's GRU, Keras' reset_after). Wx (C, 3H), Wh (H, 3H), bx, bh (3H,),
    blocks reset, update, candidate (n).

    Inside it runs feature-major as the LSTM does, each step's rows in four blocks:
    [h_{t-1} Wh_n + bh_n (hn), r's, z's, n's x part x_t Wx_n + bx_n], an order in which
    the sigmoid gates (r, z), the two gradients that dh multiplies (z, n) and the two
    that dn multiplies (hn, r) are each one contiguous slice."""

    kind = "gru"
    param_names = ("Wx", "Wh", "bx", "bh")
    gate_names = ("update", "reset", "candidate")
    feature_major = True

    def __init__(self, xp: Any, Wx: Array, Wh: Array, bx: Array, bh: Array,
                 return_sequences: bool = False,
                 in_shape: tuple[int, int] | None = None) -> None:
        super().__init__(xp, Wx, Wh, return_sequences, in_shape)
        self.bx = bx
        self.bh = bh

    def _rows(self, scaled: bool) -> Array:
        """The step's weights as (4H, H + C + 1) rows [hn; r; z; n's x part] over
        [h_{t-1}; x_t; 1]; r's and z's rows halved when scaled (sigmoid via tanh)."""
        xp, H = self.xp, self.units
        C = self.Wx.shape[0]
        Wh, Wx, bx, bh = self.Wh, self.Wx, self.bx, self.bh
        W = xp.zeros((4 * H, H + C + 1), dtype=Wx.dtype)
        W[:H, :H] = Wh[:, 2 * H:].T
        W[:H, H + C] = bh[2 * H:]
        W[H:3 * H, :H] = Wh[:, :2 * H].T
        W[H:3 * H, H:H + C] = Wx[:, :2 * H].T
        W[H:3 * H, H + C] = bx[:2 * H] + bh[:2 * H]
        W[3 * H:, H:H + C] = Wx[:, 2 * H:].T
        W[3 * H:, H + C] = bx[2 * H:]
        if scaled:
            W[H:3 * H] *= 0.5
        return W

    def _run(self, x, training):
        xp = self.xp
        m, T, C = x.shape
        H, dt, tag = self.units, self.Wx.dtype, "t" if training else "e"
        K = H + C + 1
        W = self._rows(True)
        G = self._buf(tag + "g", (T, 4 * H, m), dt)  # pre-activations, then gates
        fold = self._folds(C)
        if fold:
            A = self._buf(tag + "a", (T + 1, K, m), dt)
            A[0, :H] = 0
            A[:T, H:H + C] = x.transpose(1, 2, 0)
            A[T, H:H + C] = 0
            A[:, H + C] = 1
            h, X = A[:, :H], A
        else:
            X = self._buf(tag + "x", (T, C, m), dt)
            X[...] = x.transpose(1, 2, 0)
            xp.matmul(W[:, H:H + C], X, out=G)
            G += W[:, H + C:]
            Wh3 = xp.ascontiguousarray(W[:3 * H, :H])
            h = self._buf(tag + "h", (T + 1, H, m), dt)
            h[0] = 0
        tmp3 = self._buf(tag + "tmp3", (3 * H, m), dt)
        tmp = self._buf(tag + "tmp", (H, m), dt)
        matmul, tanh, multiply, subtract, add = (xp.matmul, xp.tanh, xp.multiply,
                                                 xp.subtract, xp.add)
        for t in range(T):
            g = G[t]
            if fold:
                matmul(W, A[t], out=g)
            elif t:
                matmul(Wh3, h[t], out=tmp3)
                g[:3 * H] += tmp3
            rz = g[H:3 * H]
            tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            n = g[3 * H:]
            multiply(g[H:2 * H], g[:H], out=tmp)  # r hn
            n += tmp
            tanh(n, out=n)
            subtract(h[t], n, out=tmp)  # h_t = n + z (h_{t-1} - n)
            tmp *= g[2 * H:3 * H]
            add(n, tmp, out=h[t + 1])
        return {"x": X, "g": G, "h": h, "fold": fold}

    def _gates(self, st):
        G = st["g"]
        H = self.units
        return {"update": G[:, 2 * H:3 * H], "reset": G[:, H:2 * H], "candidate": G[:, 3 * H:]}

    def backward(self, dout):
        xp = self.xp
        st = self._train
        X, G, h = st["x"], st["g"], st["h"]
        T, H4, m = G.shape
        H, dt = H4 // 4, G.dtype
        S = self._state_grads(dout, T, m)
        hn, r, z, n = G[:, :H], G[:, H:2 * H], G[:, 2 * H:3 * H], G[:, 3 * H:]
        # dL/d of the step's rows [hn, r_pre, z_pre, n_pre]:
        # d n_pre = dh (1-z)(1-n^2); d z_pre = dh (h_prev - n) z(1-z);
        # d hn = d n_pre r; d r_pre = d n_pre hn r(1-r). F holds the factors beside dh
        # (blocks z, n) and beside d n_pre (blocks hn, r) for every step; the loop
        # multiplies them in place, which leaves the gradient in F.
        F = self._buf("F", (T, H4, m), dt)
        f_hn, f_r, f_z, f_n = F[:, :H], F[:, H:2 * H], F[:, 2 * H:3 * H], F[:, 3 * H:]
        f_hn[...] = r
        xp.subtract(1, r, out=f_r)
        f_r *= r
        f_r *= hn
        xp.subtract(1, z, out=f_z)
        xp.multiply(f_z, 1 - n * n, out=f_n)
        f_z *= z
        f_z *= h[:T] - n
        Wh = self._rows(False)[:, :H].T  # (H, 4H): what h_{t-1} gets back
        F4 = F.reshape(T, 4, H, m)
        dhz = self._buf("dhz", (H, m), dt)  # dh_t z_t: h_{t-1}'s direct share
        tmp = self._buf("tmp", (H, m), dt)
        multiply = xp.multiply
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                self._carry(S, t, Wh, F[t + 1], tmp)
                S[t] += dhz
            d = F4[t]
            multiply(S[t], d[2:], out=d[2:])  # d z_pre, d n_pre
            multiply(d[3], d[:2], out=d[:2])  # d hn, d r_pre
            if t:
                multiply(S[t], z[t], out=dhz)
        D = self._buf("D", (H4, T, m), dt)  # F as one (4H, T m) matrix
        D[...] = F.transpose(1, 0, 2)
        D2 = D.reshape(H4, T * m)
        C = self.Wx.shape[0]
        if st["fold"]:
            P = D2 @ X[:T].transpose(0, 2, 1).reshape(T * m, H + C + 1)
            ph, px, pb = P[:, :H], P[:, H:H + C], P[:, H + C]
        else:
            ph = D2[:3 * H, m:] @ h[1:T].transpose(0, 2, 1).reshape((T - 1) * m, H)
            px = D2[H:] @ X.transpose(0, 2, 1).reshape(T * m, C)
            px = xp.concatenate([xp.zeros((H, C), dtype=dt), px])
            pb = D2.sum(axis=1)
        # rows [hn, r, z, n]: Wh's columns r, z, n are rows r, z, hn; Wx's r, z, n rows
        # r, z, n; bh's r, z the rows' biases (bx's too), bh_n hn's, bx_n n's
        self.grads["Wh"] = xp.concatenate([ph[H:3 * H], ph[:H]]).T
        self.grads["Wx"] = px[H:].T
        self.grads["bx"] = pb[H:].copy()
        self.grads["bh"] = xp.concatenate([pb[H:3 * H], pb[:H]])
        if not self.input_grad:
            return None
        Wx = self._rows(False)[:, H:H + C].T  # (C, 4H)
        dx = (Wx @ D2).reshape(C, T, m)
        return xp.ascontiguousarray(dx.transpose(2, 1, 0))

    def config(self):
        return self._config()

    def describe(self):
        return self._describe("gru")


def _blocks(xp: Any, a: Array, H: int, order: tuple[int, ...]) -> Array:
    """a's last axis as blocks of H, reordered: block j of the result is block order[j]."""
    return xp.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)


# initialization --------------------------------------------------------------------------
def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random (n, n) orthogonal matrix: Q of the QR of a Gaussian, its columns' signs
    set by R's diagonal so that Q is uniform over the orthogonal group (Saxe et al. 2014;
    Keras' and PyTorch's orthogonal)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    return q * d


def recurrent_init(rng: np.random.Generator, init: Initializer, scale: float, n_in: int,
                   units: int, blocks: int, orthogonal_wh: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(Wx (n_in, blocks units), Wh (units, blocks units)) in float64. Each gate block of
    Wx is drawn by `init` with fan_in n_in and fan_out units; each block of Wh is a
    random orthogonal matrix, or drawn by `init` (fan_in = fan_out = units) when
    orthogonal_wh is False. Wx's blocks are drawn first, then Wh's, from rng."""
    Wx = np.concatenate([init(rng, n_in, units, scale) for _ in range(blocks)], axis=1)
    if orthogonal_wh:
        Wh = np.concatenate([orthogonal(rng, units) for _ in range(blocks)], axis=1)
    else:
        Wh = np.concatenate([init(rng, units, units, scale) for _ in range(blocks)], axis=1)
    return Wx, Wh


def initial_bias(kind: str, units: int) -> np.ndarray:
    """The starting bias: zeros, but 1 on the LSTM's forget gate (Keras' unit_forget_bias,
    Jozefowicz et al. 2015: the cell remembers from the start). For a GRU this is bx;
    its bh starts at zero too."""
    b = np.zeros(BLOCKS[kind] * units)
    if kind == "lstm":
        b[units:2 * units] = 1.0
    return b


def make_recurrent(xp: Any, kind: str, rng: np.random.Generator, init: Initializer,
                   scale: float, in_shape: tuple[int, int], units: int, dtype: Any,
                   activation: str = "tanh", return_sequences: bool = False,
                   orthogonal_wh: bool = True) -> Recurrent:
    """A recurrent layer of `kind` ("rnn", "lstm", "gru") on (T, C) inputs, initialized
    as recurrent_init and initial_bias say, with arrays of `dtype` on xp."""
    if kind not in BLOCKS:
        raise ValueError(f"unknown recurrent kind {kind!r}; allowed: {', '.join(BLOCKS)}")
    Wx, Wh = recurrent_init(rng, init, scale, int(in_shape[1]), units, BLOCKS[kind],
                            orthogonal_wh)

    def arr(a: np.ndarray) -> Array:
        return xp.asarray(a, dtype=dtype)

    b = arr(initial_bias(kind, units))
    if kind == "rnn":
        return SimpleRNN(xp, arr(Wx), arr(Wh), b, activation, return_sequences, in_shape)
    if kind == "lstm":
        return LSTM(xp, arr(Wx), arr(Wh), b, return_sequences, in_shape)
    return GRU(xp, arr(Wx), arr(Wh), b, xp.zeros(3 * units, dtype=dtype), return_sequences,
               in_shape)

