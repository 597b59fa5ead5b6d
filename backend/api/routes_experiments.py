"""/api/experiments: create, read, change, train, predict, look inside, export."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from backend.experiments.config import ExperimentConfig
from backend.experiments.experiment import Experiment, ExperimentError
from backend.experiments.service import Service

from .deps import Editable, Readable, ServiceDep, SettingsDep
from .schemas import (
    Created,
    ExperimentView,
    PatchResult,
    PredictRequest,
    StepRequest,
    TrainRequest,
    WeightEdit,
)

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


def view(exp: Experiment, service: Service) -> dict[str, Any]:
    return {"id": exp.id, "config": exp.config.model_dump(mode="json"), "status": exp.status,
            "message": exp.message, "epoch": exp.epoch,
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in exp.metrics.items()},
            "learning_rate": exp.model.learning_rate, "revision": exp.revision,
            "running": service.runner.running(exp.id), "n_classes": exp.data.n_classes,
            "extent": exp.extent()}


@router.post("", status_code=201, response_model=Created)
async def create(config: ExperimentConfig, service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.create(service.parse(config.model_dump(mode="json")))
    return {**view(exp, service), "edit_token": token}


@router.post("/import", status_code=201, response_model=Created)
async def import_experiment(state: Annotated[dict[str, Any], Body()],
                            service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.import_(state)
    return {**view(exp, service), "edit_token": token}


@router.get("/{exp_id}", response_model=ExperimentView)
def get(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return view(exp, service)


@router.patch("/{exp_id}", response_model=PatchResult)
async def patch(changes: Annotated[dict[str, Any], Body()], exp: Editable,
                service: ServiceDep) -> dict[str, Any]:
    kept = await service.patch(exp, changes)
    return {**view(exp, service), "weights_kept": kept}


@router.delete("/{exp_id}", status_code=204)
async def delete(exp: Editable, service: ServiceDep) -> Response:
    await service.delete(exp)
    return Response(status_code=204)


@router.post("/{exp_id}/train", response_model=ExperimentView)
async def train(body: TrainRequest, exp: Editable, service: ServiceDep,
                settings: SettingsDep, request: Request, response: Response) -> dict[str, Any]:
    client = request.client.host if request.client else ""
    if body.epochs is not None and body.epochs > settings.max_epochs_per_call:
        raise ExperimentError(f"epochs: at most {settings.max_epochs_per_call} per call")
    if body.wait:
        if body.epochs is None:
            raise ExperimentError("wait: true needs a number of epochs")
        await service.train_and_wait(exp, body.epochs, client)
    else:
        service.play(exp, body.epochs, client)
        response.status_code = 202
    return view(exp, service)


@router.post("/{exp_id}/pause", response_model=ExperimentView)
async def pause(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.pause(exp)
    return view(exp, service)


@router.post("/{exp_id}/step", response_model=ExperimentView)
async def step(exp: Editable, service: ServiceDep,
               body: StepRequest | None = None) -> dict[str, Any]:
    await service.step(exp, (body or StepRequest()).epochs)
    return view(exp, service)


@router.post("/{exp_id}/reset", response_model=ExperimentView)
async def reset(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.reset(exp)
    return view(exp, service)


@router.post("/{exp_id}/predict")
def predict(body: PredictRequest, exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return exp.predict(service.check_points(body.x))


@router.get("/{exp_id}/boundary")
def boundary(exp: Readable, settings: SettingsDep,
             resolution: Annotated[int | None, Query(ge=2)] = None,
             neurons: bool = True) -> dict[str, Any]:
    res = resolution or settings.grid_resolution
    if res > settings.max_grid_resolution:
        raise ExperimentError(f"resolution: at most {settings.max_grid_resolution}")
    grids = exp.unit_grids(res)
    out: dict[str, Any] = {"resolution": res, "extent": exp.extent(), "epoch": exp.epoch,
                           "order": "rows from y = +extent down, x from -extent right",
                           "output": grids[-1].tolist()}
    if neurons:
        out["layers"] = [g.tolist() for g in grids[:-1]]
    return out


def points_view(exp: Experiment) -> dict[str, Any]:
    d = exp.data
    return {"x_train": d.x_train.tolist(), "y_train": d.y_train.tolist(),
            "x_test": d.x_test.tolist(), "y_test": d.y_test.tolist(),
            "n_classes": d.n_classes, "extent": exp.extent()}


@router.get("/{exp_id}/points")
def points(exp: Readable) -> dict[str, Any]:
    return points_view(exp)


@router.get("/{exp_id}/history")
def history(exp: Readable) -> dict[str, Any]:
    with exp.lock:
        return {"epoch": exp.epoch, **exp.history.to_dict()}


@router.get("/{exp_id}/weights")
def weights(exp: Readable) -> dict[str, Any]:
    return {"epoch": exp.epoch, "layers": exp.weights()}


@router.patch("/{exp_id}/weights")
async def edit_weight(body: WeightEdit, exp: Editable, service: ServiceDep) -> dict[str, Any]:
    await service.set_weight(exp, body.layer, body.source, body.target, body.value)
    return {"epoch": exp.epoch, "layers": exp.weights(), "metrics": exp.metrics}


@router.get("/{exp_id}/gradient-check")
async def gradient_check(exp: Readable, service: ServiceDep,
                         points: Annotated[int, Query(ge=1, le=256)] = 32) -> dict[str, Any]:
    return await service.gradient_check(exp, points)


@router.get("/{exp_id}/summary")
def summary(exp: Readable) -> dict[str, Any]:
    with exp.lock:
        return exp.model.summary()


@router.get("/{exp_id}/export")
async def export(exp: Readable, service: ServiceDep) -> dict[str, Any]:
    return await service.export(exp)


@router.post("/{exp_id}/share", status_code=201)
async def share(exp: Editable, service: ServiceDep) -> dict[str, Any]:
    share_id = await service.share(exp)
    return {"share_id": share_id, "url": f"/s/{share_id}"}
