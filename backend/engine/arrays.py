"""The array module (numpy or cupy), chosen at run time, and the float type."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("cpu", "gpu", "auto")
DTYPES = {"float32": np.float32, "float64": np.float64}


class DeviceError(RuntimeError):
    """The GPU was asked for but cannot be used."""


@dataclass(frozen=True)
class Backend:
    """Where arrays live: `xp` is numpy or cupy; `note` says why, e.g. after a fallback."""

    xp: ModuleType
    device: str
    note: str = ""

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.get() if hasattr(a, "get") and self.xp is not np else np.asarray(a)


def _cupy() -> ModuleType:
    try:
        import cupy  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DeviceError(
            "device 'gpu' needs CuPy: install the extra with `pip install .[gpu]`"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise DeviceError(f"device 'gpu': CuPy is installed, CUDA is not usable ({exc})") from exc
    if count < 1:
        raise DeviceError("device 'gpu': CuPy is installed but no GPU is visible")
    return cupy


def get_backend(device: str = "cpu") -> Backend:
    """numpy for 'cpu'; cupy for 'gpu' or an error; 'auto' tries the GPU, says if it fell back."""
    if device == "cpu":
        return Backend(np, "cpu")
    if device == "gpu":
        return Backend(_cupy(), "gpu")
    if device == "auto":
        try:
            return Backend(_cupy(), "gpu")
        except DeviceError as exc:
            return Backend(np, "cpu", note=f"fell back to the CPU: {exc}")
    raise ValueError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")


def get_dtype(name: str) -> Any:
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; allowed: {', '.join(DTYPES)}") from None
