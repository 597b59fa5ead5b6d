"""Strict JSON for everything the server sends: a number that is not finite is null.

Browsers' JSON.parse refuses NaN and Infinity, so one of them in a frame header or an
answer would hide the very state (a diverged run) it describes.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(obj: Any) -> Any:
    """obj with every NaN and infinity (at any depth) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(finite(obj), allow_nan=False, separators=(",", ":"))
