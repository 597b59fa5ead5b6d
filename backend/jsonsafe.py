"""Strict JSON both ways. Out: a number that is not finite is null, since browsers'
JSON.parse refuses NaN and Infinity, so one of them in a frame header or an answer would
hide the very state (a diverged run) it describes. In: whatever text a client sends, a
failure is a ValueError with a message to send back.
"""

from __future__ import annotations

import json
import math
import sys
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
    try:  # the common case, without a walk of its own (a frame header has ~700 numbers)
        return json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(finite(obj), allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """A client's JSON text -> its value; a ValueError whose message says what is wrong,
    whatever the text: besides bad syntax, Python refuses numbers of over 4300 digits
    (a plain ValueError) and nesting past its recursion limit (a RecursionError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except ValueError:
        raise ValueError(f"not JSON that can be read: a number has over "
                         f"{sys.get_int_max_str_digits()} digits") from None
    except RecursionError:
        raise ValueError("not JSON that can be read: lists or objects nest too deeply") \
            from None
