"""A numeric hyperparameter with its default and bounds, as /api/meta lists it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    default: float
    low: float
    high: float
    description: str = ""

    def to_dict(self) -> dict[str, float | str]:
        return {"default": self.default, "min": self.low, "max": self.high,
                "description": self.description}
