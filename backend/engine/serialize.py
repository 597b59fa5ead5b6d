"""Arrays as plain data: floats survive JSON exactly (float32 and float64 alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

_DTYPES = ("float32", "float64")


def encode_array(a: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}


def decode_array(data: dict[str, Any]) -> np.ndarray:
    if data.get("dtype") not in _DTYPES:
        raise ValueError(f"array dtype must be one of {', '.join(_DTYPES)}")
    a = np.asarray(data["data"], dtype=data["dtype"])
    shape = tuple(int(s) for s in data["shape"])
    if a.size != int(np.prod(shape)):
        raise ValueError(f"array of {a.size} values cannot have shape {shape}")
    if not np.isfinite(a).all():
        raise ValueError("array holds NaN or infinite values")
    return a.reshape(shape)
