"""Arrays as plain data: floats survive JSON exactly (float32 and float64 alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

_DTYPES = ("float32", "float64")


def encode_array(a: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}


def decode_array(data: Any, shape: tuple[int, ...], what: str = "array") -> np.ndarray:
    """An encoded array of the given shape; its size is checked before its values are read,
    so a file cannot make us allocate more than the model it claims to fit."""
    if not isinstance(data, dict) or data.get("dtype") not in _DTYPES:
        raise ValueError(f"{what}: an array with dtype one of {', '.join(_DTYPES)}")
    values = data.get("data")
    if data.get("shape") != list(shape) or not isinstance(values, list) or \
            len(values) != int(np.prod(shape)):
        raise ValueError(f"{what}: shape {data.get('shape')} where {list(shape)} belongs")
    try:
        a = np.asarray(values, dtype=data["dtype"])
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what}: every value must be a number") from None
    if a.ndim != 1 or not np.isfinite(a).all():
        raise ValueError(f"{what}: values must be finite numbers")
    return a.reshape(shape)
