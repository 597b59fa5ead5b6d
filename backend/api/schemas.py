"""Request and answer bodies, and the websocket's commands (the same models: one parser).

Every route names its answer here, so /openapi.json describes it; an experiment's view
and a share's view are built from one base and cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# requests ----------------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlayRequest(Body):
    epochs: int | None = Field(None, ge=1, description="how many; none: until paused")
    speed: float | None = Field(None, gt=0, le=10_000, allow_inf_nan=False,
                                description="at most this many epochs a second; none: "
                                            "as fast as the server goes")


class TrainRequest(PlayRequest):
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


# websocket commands: the REST bodies with a `type` ----------------------------------------


class AuthCommand(Body):
    type: Literal["auth"]
    token: str = Field(max_length=200)


class PlayCommand(PlayRequest):
    type: Literal["play"]


class PauseCommand(Body):
    type: Literal["pause"]


class StepCommand(StepRequest):
    type: Literal["step"]


class ResetCommand(Body):
    type: Literal["reset"]


class UpdateCommand(Body):
    type: Literal["update"]
    config: dict[str, Any] = Field(description="the config fields to change, as in PATCH")


class SetWeightCommand(WeightEdit):
    type: Literal["set_weight"]


class PingCommand(Body):
    type: Literal["ping"]


COMMANDS = (AuthCommand, PlayCommand, PauseCommand, StepCommand, ResetCommand, UpdateCommand,
            SetWeightCommand, PingCommand)
COMMAND = TypeAdapter(Annotated[Union[COMMANDS], Field(discriminator="type")])  # noqa: UP007
COMMAND_TYPES = tuple(get_args(c.model_fields["type"].annotation)[0] for c in COMMANDS)

# answers -----------------------------------------------------------------------------------

Metrics = dict[str, float | None]


class Snapshot(BaseModel):
    """What an experiment and a share both show."""

    config: dict[str, Any]
    status: str = Field(description="paused | running | diverged")
    message: str
    epoch: int
    metrics: Metrics
    learning_rate: float | None
    n_classes: int
    extent: float
    data_scale: float = Field(description="plane units per unit of the uploaded points "
                                          "(< 1: they were scaled into the plane)")


class ExperimentView(Snapshot):
    id: str
    revision: int
    running: bool


class Created(ExperimentView):
    edit_token: str


class PatchResult(ExperimentView):
    weights_kept: bool


class HistoryView(BaseModel):
    epoch: int
    stride: int
    rows: list[Metrics]


class ShareView(Snapshot):
    share_id: str
    history: HistoryView


class ShareCreated(BaseModel):
    share_id: str
    url: str


class PredictView(BaseModel):
    outputs: list[list[float | None]]
    probabilities: list[list[float | None]] | None = None
    classes: list[int] | None = None


class BoundaryView(BaseModel):
    resolution: int
    extent: float
    epoch: int
    order: str
    output: list[list[list[float | None]]] = Field(description="(outputs, res, res)")
    layers: list[list[list[list[float | None]]]] | None = Field(
        None, description="each hidden layer: (units, res, res)")


class PointsView(BaseModel):
    x_train: list[list[float]]
    y_train: list[float]
    x_test: list[list[float]]
    y_test: list[float]
    n_classes: int
    extent: float
    scale: float = Field(description="the points are the data times this (see data_scale)")


class LayerWeights(BaseModel):
    layer: int
    W: list[list[float | None]]
    b: list[float | None] | None


class WeightsView(BaseModel):
    epoch: int
    layers: list[LayerWeights]
    metrics: Metrics | None = None


class GradientParam(BaseModel):
    relative_difference: float | None
    checked: int
    size: int


class GradientLayer(BaseModel):
    index: int
    layer: str
    params: dict[str, GradientParam]
    relative_difference: float | None
    verdict: str


class GradientReport(BaseModel):
    epsilon: float
    relative_difference: float | None
    verdict: str
    layers: list[GradientLayer]


class SummaryLayer(BaseModel):
    index: int
    kind: str
    name: str
    output_shape: list[int | None]
    trainable_params: int
    non_trainable_params: int


class SummaryView(BaseModel):
    layers: list[SummaryLayer]
    trainable_params: int
    non_trainable_params: int
    total_params: int


class LessonPreset(BaseModel):
    label: str
    config: dict[str, Any]
    epochs: int


class LessonView(BaseModel):
    id: str
    title: str
    text: str
    presets: list[LessonPreset]

