"""/api/experiments: create, read, change, train, predict, look inside, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from backend.experiments.config import ExperimentConfig
from backend.experiments.experiment import ExperimentError
from backend.experiments.state import ExportFile

from .deps import ClientAddress, Editable, Readable, ServiceDep, SettingsDep
from .errors import BODY, EDIT, LOOKUP, responses
from .openapi import limit
from .schemas import (
    BoundaryView,
    Created,
    ExperimentView,
    GradientReport,
    HistoryView,
    MapsRequest,
    MistakesView,
    PatchResult,
    PointsView,
    PredictRequest,
    PredictView,
    SequenceRequest,
    SequenceView,
    ShareCreated,
    StepRequest,
    SummaryView,
    TrainRequest,
    WeightEdit,
    WeightsView,
)

router = APIRouter(prefix="/api/experiments", tags=["experiments"])
TRAINING = {202: {"model": ExperimentView, "description": "training goes on in the "
                  "background: wait false, or max_wait_seconds came first"}}


@router.post("", status_code=201, response_model=Created, responses=responses(BODY, 507))
async def create(config: ExperimentConfig, service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.create(service.parse(config.model_dump(mode="json")))
    return {**service.view(exp), "edit_token": token}


@router.post("/import", status_code=201, response_model=Created,
             responses=responses(BODY, 507))
async def import_experiment(state: Annotated[dict[str, Any], Body(
        description="an export (GET /export): " + ", ".join(ExportFile.model_fields))],
        service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.import_(state)
    return {**service.view(exp), "edit_token": token}


@router.get("/{exp_id}", response_model=ExperimentView, responses=responses(LOOKUP))
def get(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return service.view(exp)


@router.patch("/{exp_id}", response_model=PatchResult,
              responses=responses(EDIT, BODY, 409))
async def patch(changes: Annotated[dict[str, Any], Body()], exp: Editable,
                service: ServiceDep) -> dict[str, Any]:
    kept = await service.patch(exp, changes)
    return {**service.view(exp), "weights_kept": kept}


@router.delete("/{exp_id}", status_code=204, responses=responses(EDIT))
async def delete(exp: Editable, service: ServiceDep) -> Response:
    await service.delete(exp)
    return Response(status_code=204)


@router.post("/{exp_id}/train", response_model=ExperimentView,
             responses={**responses(EDIT, BODY, 409, 423, 429), **TRAINING})
async def train(body: TrainRequest, exp: Editable, service: ServiceDep,
                settings: SettingsDep, client: ClientAddress,
                response: Response) -> dict[str, Any]:
    if body.epochs is not None and body.epochs > settings.max_epochs_per_call:
        raise ExperimentError(f"epochs: at most {settings.max_epochs_per_call} per call")
    if body.wait:
        if body.epochs is None:
            raise ExperimentError("wait: true needs a number of epochs")
        if not await service.train_and_wait(exp, body.epochs, client, body.speed):
            response.status_code = 202  # the deadline came first: it goes on training
    else:
        await service.play(exp, body.epochs, client, body.speed)
        response.status_code = 202
    return service.view(exp)


@router.post("/{exp_id}/pause", response_model=ExperimentView, responses=responses(EDIT))
async def pause(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.pause(exp)
    return service.view(exp)


@router.post("/{exp_id}/step", response_model=ExperimentView,
             responses=responses(EDIT, BODY, 409, 423, 429))
async def step(exp: Editable, service: ServiceDep, client: ClientAddress,
               body: StepRequest | None = None) -> dict[str, Any]:
    await service.step(exp, (body or StepRequest()).epochs, client)
    return service.view(exp)


@router.post("/{exp_id}/reset", response_model=ExperimentView, responses=responses(EDIT))
async def reset(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.reset(exp)
    return service.view(exp)


@router.post("/{exp_id}/predict", response_model=PredictView,
             responses=responses(LOOKUP, BODY))
def predict(body: PredictRequest, exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return service.predict(exp, body.x, body.images)


MAPS = {200: {"content": {"application/octet-stream": {}},
              "description": "one image's feature maps and class probabilities, in the "
                             "frame layout (docs/protocol.md, \"Feature maps of one image\")"}}


# Looking inside a network: the same for an experiment and a snapshot (routes_shares).
Example = Annotated[int, Query(ge=0, description="a test image's index")]
TrueClass = Annotated[int | None, Query(ge=0, lt=10, description="a true class")]
Predicted = Annotated[int | None, Query(ge=0, lt=10, description="a predicted class")]
Limit = Annotated[int, Query(ge=1, le=64)]


@router.get("/{exp_id}/maps", responses={**MAPS, **responses(LOOKUP)})
def maps(exp: Readable, service: ServiceDep, example: Example = 0) -> Response:
    """A test image's way through an image experiment's network."""
    return Response(service.maps(exp, example), media_type="application/octet-stream")


@router.post("/{exp_id}/maps", responses={**MAPS, **responses(LOOKUP, BODY)})
def maps_of(body: MapsRequest, exp: Readable, service: ServiceDep) -> Response:
    """A drawing's way through the network: the page's canvas, classified as one draws."""
    return Response(service.maps(exp, image=body.image),
                    media_type="application/octet-stream")


SequenceExample = Annotated[int, Query(ge=0, description="a test sequence's index")]


@router.get("/{exp_id}/sequence", response_model=SequenceView, responses=responses(LOOKUP))
def sequence(exp: Readable, service: ServiceDep, example: SequenceExample = 0) -> dict[str, Any]:
    """A test sequence through time: input, target, output, every recurrent layer's
    states and gates, and the gradient through time."""
    return service.sequence(exp, example)


@router.post("/{exp_id}/sequence", response_model=SequenceView,
             responses=responses(LOOKUP, BODY))
def sequence_of(body: SequenceRequest, exp: Readable, service: ServiceDep) -> dict[str, Any]:
    """A drawn sequence through time: the page's wave, as one draws."""
    return service.sequence(exp, drawing=body.input)


@router.get("/{exp_id}/mistakes", response_model=MistakesView, responses=responses(LOOKUP))
def mistakes(exp: Readable, true: TrueClass = None, predicted: Predicted = None,
             limit: Limit = 16) -> dict[str, Any]:
    """The test images an image network gets wrong, the most confident first; or one
    row, column or cell of its confusion matrix."""
    return exp.mistakes(true, predicted, limit)


@router.get("/{exp_id}/boundary", response_model=BoundaryView, responses=responses(LOOKUP))
def boundary(exp: Readable, service: ServiceDep,
             resolution: Annotated[int | None, Query(
                 ge=2, json_schema_extra=limit("max_grid_resolution"))] = None,
             neurons: bool = True) -> dict[str, Any]:
    return service.boundary(exp, resolution, neurons)


@router.get("/{exp_id}/points", response_model=PointsView, responses=responses(LOOKUP))
def points(exp: Readable) -> dict[str, Any]:
    return exp.points_view()


@router.get("/{exp_id}/history", response_model=HistoryView, responses=responses(LOOKUP))
def history(exp: Readable) -> dict[str, Any]:
    return exp.history_view()


@router.get("/{exp_id}/weights", response_model=WeightsView, responses=responses(LOOKUP))
def weights(exp: Readable) -> dict[str, Any]:
    return exp.weights_view()


@router.patch("/{exp_id}/weights", response_model=WeightsView,
              responses=responses(EDIT, BODY))
async def edit_weight(body: WeightEdit, exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.set_weight(exp, body.layer, body.source, body.target, body.value)
    return exp.weights_view(metrics=True)


@router.get("/{exp_id}/gradient-check", response_model=GradientReport,
            responses=responses(LOOKUP, 409, 429))
async def gradient_check(exp: Readable, service: ServiceDep, client: ClientAddress,
                         points: Annotated[int, Query(ge=1, le=256)] = 32) -> dict[str, Any]:
    return await service.gradient_check(exp, points, client)


@router.get("/{exp_id}/summary", response_model=SummaryView, responses=responses(LOOKUP))
def summary(exp: Readable) -> dict[str, Any]:
    return exp.summary()


@router.get("/{exp_id}/export", response_model=ExportFile, responses=responses(LOOKUP))
async def export(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return await service.export(exp)


@router.post("/{exp_id}/share", status_code=201, response_model=ShareCreated,
             responses=responses(EDIT))
async def share(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    share_id = await service.share(exp)
    return {"share_id": share_id, "url": f"/s/{share_id}"}
