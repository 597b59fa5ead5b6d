"""Request and answer bodies, and the websocket's commands (the same models: one parser).

Every route names its answer here, so /openapi.json describes it; an experiment's view
and a share's view are built from one base and cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from .openapi import limit

# requests ----------------------------------------------------------------------------------


class Body(BaseModel):
    """Strict: a number is a JSON number (false is not 0, "1" is not 1; a whole number
    is a float's value), a boolean a JSON boolean."""

    model_config = ConfigDict(extra="forbid", strict=True)


# A paced run trains an epoch at least every 10 s: a smaller speed would hold one of the
# server's running slots for hours with nothing to show.
MIN_SPEED = 0.1
Coordinate = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
Point = Annotated[list[Coordinate], Field(min_length=2, max_length=2)]


class PlayRequest(Body):
    epochs: int | None = Field(None, ge=1, description="how many; none: until paused",
                               json_schema_extra=limit("max_epochs_per_call"))
    speed: float | None = Field(None, ge=MIN_SPEED, le=10_000, allow_inf_nan=False,
                                description="at most this many epochs a second; none: "
                                            "as fast as the server goes")


class TrainRequest(PlayRequest):
    wait: bool = Field(False, description="answer when done (bounded) instead of at once")


class StepRequest(Body):
    epochs: int = Field(1, ge=1, le=1000)


class PredictRequest(Body):
    """Exactly one of x (point experiments) and images (image experiments)."""

    x: list[Point] | None = Field(None, min_length=1, description="raw points [[x1, x2], "
                                  "...]", json_schema_extra=limit("max_predict_points"))
    # 1 .. max_predict_points images, checked with their shape (the message says which)
    images: list[Any] | None = Field(None, description="(n, H, W) or (n, C, H, W) pixels in "
                                                       "[0, 1], for image experiments",
                                     json_schema_extra={**limit("max_predict_points"),
                                                        "minItems": 1})

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        if (self.x is None) == (self.images is None):
            raise ValueError('send {"x": [[x1, x2], ...]} for points or {"images": [...]} '
                             "for images, one of the two")
        return self


class MapsRequest(Body):
    image: list[Any] = Field(description="one image, (H, W) or (C, H, W), pixels in [0, 1]")


class SequenceRequest(Body):
    input: list[Any] = Field(description="one sequence of the data's shape: T numbers (one "
                             "channel) or T rows of C numbers")


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


class ViewCommand(Body):
    """What this viewer shows, so that frames cost only that (docs/protocol.md)."""

    type: Literal["view"]
    frames: bool = Field(True, description="false while the page is hidden: no frames")
    neurons: bool = Field(True, description="false while the network is not on screen: "
                                            "frames without the inputs' and neurons' grids")
    example: int | None = Field(None, ge=0, le=2**31, description="sequences: the test "
                                "sequence the frames trace, for every viewer of the "
                                "experiment; null: as it is")


COMMANDS = (AuthCommand, PlayCommand, PauseCommand, StepCommand, ResetCommand, UpdateCommand,
            SetWeightCommand, PingCommand, ViewCommand)
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
    own_split: bool = Field(description="the upload brought its own test points: "
                                        "dataset.train_fraction does not split them")


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



# classes (backend/experiments/classes.py) -------------------------------------------------


class ClassStart(Body):
    """A starting point: exactly one of config, lesson (with preset), share_id, experiment_id."""

    config: dict[str, Any] | None = Field(None, description="an experiment config")
    lesson: str | None = Field(None, max_length=64, description="a lesson's id (GET /api/lessons)")
    preset: int | None = Field(None, ge=0, le=100, description="the lesson's preset (0: first)")
    share_id: str | None = Field(None, max_length=64, description="a share (/s/<share_id>)")
    experiment_id: str | None = Field(None, max_length=64,
                                      description="an experiment, as it is now, weights too")

    @model_validator(mode="after")
    def _exactly_one(self) -> ClassStart:
        given = [k for k in ("config", "lesson", "share_id", "experiment_id")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one starting point: config, lesson, share_id or "
                             f"experiment_id (not {' and '.join(given) or 'none'})")
        if self.preset is not None and self.lesson is None:
            raise ValueError("preset goes with lesson")
        return self


class ClassCreate(ClassStart):
    name: str = Field("", max_length=200, description="the class's title (at most 80 "
                                                      "characters once trimmed)")
    seed_per_student: bool = Field(True, description="each student's fresh weights from a "
                                   "seed of their own: the starting point's seed plus their "
                                   "join number (false: every student alike)")


class JoinRequest(Body):
    name: str = Field(max_length=200, description="1 to 40 printable characters, trimmed; "
                                                  "unique in the class, ignoring case")


class StartSummary(BaseModel):
    kind: str = Field(description="config | lesson | share | experiment")
    ref: str | None = Field(description="the lesson's, share's or experiment's id")
    preset: int | None
    label: str
    epoch: int = Field(description="the starting weights' epoch (0: fresh from the seed)")
    config: dict[str, Any]
    output_kind: str
    generation: int = Field(description="1 at creation, +1 for each new starting point")
    since: float


class ClassCreated(BaseModel):
    id: str
    name: str
    teacher_token: str
    join_url: str
    teacher_url: str = Field(description="the teacher's page; the token in its #fragment "
                                         "never reaches a server")
    start: StartSummary


class Student(BaseModel):
    name: str
    experiment_id: str
    joined: float
    number: int = Field(description="the join order (1: first); never reused in a class")
    seed: int | None = Field(description="their experiment's seed (null once gone)")
    epoch: int | None
    status: str = Field(description="paused | running | diverged | gone (deleted)")
    running: bool
    message: str
    metrics: Metrics
    output_kind: str | None


class Listening(BaseModel):
    host: str = Field(description="the address the server is bound to (--host)")
    loopback_only: bool = Field(description="bound to this machine only (127.0.0.1, ::1, "
                                "localhost): no student's device can reach it")


class ClassView(BaseModel):
    id: str
    name: str
    created: float
    join_url: str
    max_students: int
    locked: bool = Field(description="students may not train until the teacher unlocks")
    seed_per_student: bool
    listening: Listening
    start: StartSummary
    students: list[Student]


class StudentFailure(BaseModel):
    name: str
    experiment_id: str
    error: str


class PauseResult(ClassView):
    paused: list[str] = Field(description="the students whose run was stopped")
    failed: list[StudentFailure]


class StudentResult(Student):
    curve: list[list[float | None]] = Field(description="[epoch, test loss] pairs (train "
                                            "loss without a test split), at most 200")


class ClassResults(BaseModel):
    id: str
    name: str
    students: list[StudentResult]


class StartResult(ClassView):
    reset: list[str] = Field(description="the students now at the new starting point")
    failed: list[StudentFailure] = Field(description="left as they were, and why")


class ClassJoinInfo(BaseModel):
    id: str
    name: str
    students: int
    max_students: int
    full: bool
    lesson: str | None = Field(description="the starting point's lesson, if it is one")
    preset: int | None


class Joined(BaseModel):
    class_id: str
    name: str
    experiment_id: str
    edit_token: str
    playground_url: str


class Mistake(BaseModel):
    index: int = Field(description="the test image's index (GET /maps?example=index)")
    label: int
    predicted: int
    probability: float = Field(description="the network's probability of its prediction")
    image: list[Any] = Field(description="(C, H, W) pixels in [0, 1]")


class MistakesView(BaseModel):
    count: int = Field(description="test images that match, however many are listed")
    items: list[Mistake]


Steps = list[list[float | None]]


class SequenceLayer(BaseModel):
    layer: int = Field(description="the hidden entry, from 1")
    type: str = Field(description="rnn, lstm or gru")
    units: int
    states: Steps = Field(description="(T, units): the state after each step")
    gates: dict[str, Steps] = Field(description="each gate by name, (T, units): lstm input, "
                                    "forget, output, candidate; gru update, reset, candidate")
    left_out: bool = Field(description="states and gates left out ([] and {}): they would "
                           "have taken the answer past its budget of numbers")


class SequenceView(BaseModel):
    example: int | None = Field(description="the test sequence's index; null for a drawing")
    n_examples: int = Field(description="test sequences to choose from")
    per_step: bool = Field(description="targets and outputs at every step")
    input: Steps = Field(description="(T, C)")
    target: Any = Field(description="the class, the value, or one per step; null for a drawing")
    output: list[Any] = Field(description="class probabilities or values; per step: (T, k)")
    predicted: int | None = Field(description="the class predicted (at the last step)")
    labels: list[str] = Field(description="the classes' names; [] for regression")
    layers: list[SequenceLayer]
    gradient: list[float | None] | None = Field(
        description="(T,): ||dL/dh_t|| of the example's loss for the first recurrent layer's "
        "state; null for a drawing or a network without a recurrent layer")
