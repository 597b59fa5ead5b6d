"""/api/experiments: create, read, change, train, predict, look inside, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from backend.experiments.config import ExperimentConfig
from backend.experiments.experiment import ExperimentError
from backend.experiments.frames import build_maps
from backend.experiments.state import ExportFile

from . import views
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
    return {**views.experiment(exp, service), "edit_token": token}


@router.post("/import", status_code=201, response_model=Created,
             responses=responses(BODY, 507))
async def import_experiment(state: Annotated[dict[str, Any], Body(
        description="an export (GET /export): " + ", ".join(ExportFile.model_fields))],
        service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.import_(state)
    return {**views.experiment(exp, service), "edit_token": token}


@router.get("/{exp_id}", response_model=ExperimentView, responses=responses(LOOKUP))
def get(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return views.experiment(exp, service)


@router.patch("/{exp_id}", response_model=PatchResult, responses=responses(EDIT, BODY))
async def patch(changes: Annotated[dict[str, Any], Body()], exp: Editable,
                service: ServiceDep) -> dict[str, Any]:
    kept = await service.patch(exp, changes)
    return {**views.experiment(exp, service), "weights_kept": kept}


@router.delete("/{exp_id}", status_code=204, responses=responses(EDIT))
async def delete(exp: Editable, service: ServiceDep) -> Response:
    await service.delete(exp)
    return Response(status_code=204)


@router.post("/{exp_id}/train", response_model=ExperimentView,
             responses={**responses(EDIT, BODY, 429), **TRAINING})
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
        service.play(exp, body.epochs, client, body.speed)
        response.status_code = 202
    return views.experiment(exp, service)


@router.post("/{exp_id}/pause", response_model=ExperimentView, responses=responses(EDIT))
async def pause(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.pause(exp)
    return views.experiment(exp, service)


@router.post("/{exp_id}/step", response_model=ExperimentView,
             responses=responses(EDIT, BODY, 429))
async def step(exp: Editable, service: ServiceDep, client: ClientAddress,
               body: StepRequest | None = None) -> dict[str, Any]:
    await service.step(exp, (body or StepRequest()).epochs, client)
    return views.experiment(exp, service)


@router.post("/{exp_id}/reset", response_model=ExperimentView, responses=responses(EDIT))
async def reset(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.reset(exp)
    return views.experiment(exp, service)


@router.post("/{exp_id}/predict", response_model=PredictView,
             responses=responses(LOOKUP, BODY))
def predict(body: PredictRequest, exp: Readable, service: ServiceDep) -> dict[str, Any]:
    if body.images is not None:
        return exp.predict_images(service.check_images(exp, body.images))
    exp.require_points("x")
    return exp.predict(service.check_points(body.x))


MAPS = {200: {"content": {"application/octet-stream": {}},
              "description": "one image's feature maps and class probabilities, in the "
                             "frame layout (docs/protocol.md, \"Feature maps of one image\")"}}


# Looking inside a network: the same for an experiment and a snapshot (routes_shares).
Example = Annotated[int, Query(ge=0, description="a test image's index")]
TrueClass = Annotated[int | None, Query(ge=0, lt=10, description="a true class")]
Predicted = Annotated[int | None, Query(ge=0, lt=10, description="a predicted class")]
Limit = Annotated[int, Query(ge=1, le=64)]


@router.get("/{exp_id}/maps", responses={**MAPS, **responses(LOOKUP)})
def maps(exp: Readable, example: Example = 0) -> Response:
    """A test image's way through an image experiment's network."""
    exp.require_images("maps")
    return Response(build_maps(exp, example=example), media_type="application/octet-stream")


@router.post("/{exp_id}/maps", responses={**MAPS, **responses(LOOKUP, BODY)})
def maps_of(body: MapsRequest, exp: Readable, service: ServiceDep) -> Response:
    """A drawing's way through the network: the page's canvas, classified as one draws."""
    image = service.check_images(exp, [body.image], one=True)[0]
    return Response(build_maps(exp, image=image), media_type="application/octet-stream")


@router.get("/{exp_id}/mistakes", response_model=MistakesView, responses=responses(LOOKUP))
def mistakes(exp: Readable, true: TrueClass = None, predicted: Predicted = None,
             limit: Limit = 16) -> dict[str, Any]:
    """The test images an image network gets wrong, the most confident first; or one
    row, column or cell of its confusion matrix."""
    return exp.mistakes(true, predicted, limit)


@router.get("/{exp_id}/boundary", response_model=BoundaryView, responses=responses(LOOKUP))
def boundary(exp: Readable, settings: SettingsDep,
             resolution: Annotated[int | None, Query(
                 ge=2, json_schema_extra=limit("max_grid_resolution"))] = None,
             neurons: bool = True) -> dict[str, Any]:
    exp.require_points("boundary")
    res = resolution or settings.grid_resolution
    if res > settings.max_grid_resolution:
        raise ExperimentError(f"resolution: at most {settings.max_grid_resolution}")
    # The answer grows with the network: a cap tied to its size keeps it bounded.
    with exp.lock:
        units = exp.model.head.n_outputs + (sum(h.units for h in exp.config.hidden_layers)
                                            if neurons else 0)
    if res * res * units > settings.max_grid_values:
        most = int((settings.max_grid_values / units) ** 0.5)
        raise ExperimentError(f"resolution: at most {most} for this network's {units} "
                              "grids" + (", or ask with neurons=false" if neurons else ""))
    with exp.lock:
        grids, epoch, extent = exp.unit_grids(res), exp.epoch, exp.extent()
    out: dict[str, Any] = {"resolution": res, "extent": extent, "epoch": epoch,
                           "order": "rows from y = +extent down, x from -extent right",
                           "output": grids[-1].tolist()}
    if neurons:
        out["layers"] = [g.tolist() for g in grids[:-1]]
    return out


@router.get("/{exp_id}/points", response_model=PointsView, responses=responses(LOOKUP))
def points(exp: Readable) -> dict[str, Any]:
    return views.points(exp)


@router.get("/{exp_id}/history", response_model=HistoryView, responses=responses(LOOKUP))
def history(exp: Readable) -> dict[str, Any]:
    return views.history(exp)


@router.get("/{exp_id}/weights", response_model=WeightsView, responses=responses(LOOKUP))
def weights(exp: Readable) -> dict[str, Any]:
    with exp.lock:
        return {"epoch": exp.epoch, "layers": exp.weights()}


@router.patch("/{exp_id}/weights", response_model=WeightsView,
              responses=responses(EDIT, BODY))
async def edit_weight(body: WeightEdit, exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.set_weight(exp, body.layer, body.source, body.target, body.value)
    with exp.lock:
        return {"epoch": exp.epoch, "layers": exp.weights(), "metrics": exp.public_metrics()}


@router.get("/{exp_id}/gradient-check", response_model=GradientReport,
            responses=responses(LOOKUP, 429))
async def gradient_check(exp: Readable, service: ServiceDep, client: ClientAddress,
                         points: Annotated[int, Query(ge=1, le=256)] = 32) -> dict[str, Any]:
    return await service.gradient_check(exp, points, client)


@router.get("/{exp_id}/summary", response_model=SummaryView, responses=responses(LOOKUP))
def summary(exp: Readable) -> dict[str, Any]:
    with exp.lock:
        return exp.model.summary()


@router.get("/{exp_id}/export", response_model=ExportFile, responses=responses(LOOKUP))
async def export(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return await service.export(exp)


@router.post("/{exp_id}/share", status_code=201, response_model=ShareCreated,
             responses=responses(EDIT))
async def share(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    share_id = await service.share(exp)
    return {"share_id": share_id, "url": f"/s/{share_id}"}
