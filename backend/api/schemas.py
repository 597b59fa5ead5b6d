"""Request and response bodies that are not the experiment config itself."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainRequest(Body):
    epochs: int | None = Field(None, ge=1, description="how many; none: until paused")
    wait: bool = Field(False, description="answer when done (bounded) instead of at once")


class StepRequest(Body):
    epochs: int = Field(1, ge=1, le=1000)


class PredictRequest(Body):
    x: list[list[float]] = Field(description="raw points [[x1, x2], ...]")


class WeightEdit(Body):
    layer: int = Field(ge=0, description="dense layer, 0 = first hidden, last = output")
    source: int | None = Field(None, ge=0, description="input unit; none: edit the bias")
    target: int = Field(ge=0, description="unit of this layer")
    value: float = Field(allow_inf_nan=False)


class ExperimentView(BaseModel):
    id: str
    config: dict[str, Any]
    status: str
    message: str
    epoch: int
    metrics: dict[str, float | None]
    learning_rate: float
    revision: int
    running: bool
    n_classes: int
    extent: float


class Created(ExperimentView):
    edit_token: str


class PatchResult(ExperimentView):
    weights_kept: bool
