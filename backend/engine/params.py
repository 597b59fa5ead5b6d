"""A numeric parameter with its default and bounds: declared once, where its option lives.

The config, the engine, /api/meta and docs/config.md all read these tables, and every
check goes through `resolve`, so an option's parameters are refused alike everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


class ParamError(ValueError):
    """A parameter that its option does not take, or one outside its bounds."""


def fmt(x: float) -> str:
    """A bound as messages and docs write it: whole numbers in full, others short."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def _shown(name: str) -> str:
    """A name as a message prints it: escaped (a lone surrogate cannot travel in JSON), short."""
    text = repr(name)[1:-1]
    return text if len(text) <= 40 else text[:40] + "..."


@dataclass(frozen=True)
class Param:
    default: float
    low: float
    high: float
    description: str = ""

    def check(self, value: float, what: str) -> float:
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ParamError(f"{what} must be between {fmt(self.low)} and {fmt(self.high)}, "
                             f"not {value:g}")
        return float(value)

    def to_dict(self) -> dict[str, float | str]:
        return {"default": self.default, "min": self.low, "max": self.high,
                "description": self.description}


def resolve(table: Mapping[str, Param], given: Mapping[str, float],
            owner: str) -> dict[str, float]:
    """All of `owner`'s parameters: the given ones checked, the others at their defaults."""
    unknown = [_shown(k) for k in given if k not in table]
    if unknown:
        takes = f"its parameters are {', '.join(table)}" if table else "it has no parameters"
        raise ParamError(f"{owner} takes no {', '.join(unknown)}; {takes}")
    return {k: p.check(given[k], f"{owner}: {k}") if k in given else float(p.default)
            for k, p in table.items()}
