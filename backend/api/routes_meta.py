"""/api/meta and /healthz: every option with its parameters and bounds, and the limits.

Everything here is read from the registries and the config's BOUNDS, the same tables
that validate a config: the page's menus cannot offer what the server refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from backend.data import DATASETS, FEATURES, apply_features
from backend.data.images import IMAGE_SETS
from backend.data.sequences import SEQUENCE_SETS
from backend.engine import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYER_TYPES,
    LOSSES,
    OPTIMIZERS,
    REGULARIZERS,
)
from backend.engine.params import Param
from backend.experiments.config import bounds, layer_field
from backend.experiments.dataset import plane_points
from backend.experiments.service import Service
from backend.settings import Settings

from .deps import ServiceDep, SettingsDep
from .errors import responses

router = APIRouter(tags=["meta"])
Number = int | float


class ParamInfo(BaseModel):
    default: Number
    min: Number
    max: Number
    description: str


class DatasetInfo(BaseModel):
    name: str
    label: str = Field(description="the name people read, as the page shows it")
    problem: str
    description: str
    min_classes: int
    max_classes: int


class ImageDatasetInfo(DatasetInfo):
    shape: list[int] = Field(description="one image: (channels, height, width), at the "
                                         "set's own side")
    sides: list[int] = Field(description="[min, max] of dataset.side, in pixels")
    size: int | None = Field(description="a fixed set's images (n_samples is ignored); "
                                         "null: n_samples are generated")


class SequenceDatasetInfo(DatasetInfo):
    lengths: list[int] = Field(description="[min, max] of dataset.length, in steps")
    length: int = Field(description="its own steps (dataset.length null)")
    size: int | None = Field(description="a fixed set's sequences (n_samples is ignored); "
                                         "null: n_samples are generated")
    per_step: bool = Field(description="a target at every step (the next value), not one "
                                       "per sequence")
    train_fraction: float | None = Field(description="the share of its published split that "
                                         "trains, which a config naming the set without a "
                                         "train_fraction takes (mnist1d: 0.8, 4 000 / 1 000)")
    channels: int = Field(description="values per step")


class LayerFieldInfo(BaseModel):
    default: bool | Number | str | None = Field(description="null: required")
    min: Number | None = None
    max: Number | None = None
    choices: list[bool | str] | None = Field(None, description="the values allowed, where "
                                             "they are a few words or true and false")
    description: str = ""


class LayerTypeInfo(BaseModel):
    type: str
    label: str
    description: str
    inputs: list[str] = Field(description="the kinds of data it may be used on: points, "
                              "images, sequences")
    token: list[str] = Field(description="how an address writes an entry: these words joined "
                             "by ':', each a field's value, but for a first word that names "
                             "no field: the type itself")
    fields: dict[str, LayerFieldInfo]


class FeatureInfo(BaseModel):
    name: str
    label: str
    description: str
    grid: list[list[float]] = Field(description="the feature over the plane (its thumbnail), "
                                                "rows from y = +6 down, x from -6 right")


class ActivationInfo(BaseModel):
    name: str
    hidden: bool = Field(description="false: for the output layer only")
    description: str


class OptionInfo(BaseModel):
    name: str
    description: str
    params: dict[str, ParamInfo] = Field(description="the only parameters it takes")


class LossInfo(OptionInfo):
    needs: str | None = Field(description="the output activation it requires, if any")


class Meta(BaseModel):
    problems: list[str]
    datasets: list[DatasetInfo] = Field(description="the point data sets")
    image_datasets: list[ImageDatasetInfo] = Field(description="the image data sets (their "
                                                               "configs have features [])")
    sequence_datasets: list[SequenceDatasetInfo] = Field(
        description="the sequence data sets (their configs have features [])")
    layer_types: list[LayerTypeInfo] = Field(description="the kinds of hidden_layers entry, "
                                                         "their fields and bounds")
    features: list[FeatureInfo]
    activations: list[ActivationInfo]
    losses: list[LossInfo]
    initializers: list[OptionInfo]
    optimizers: list[OptionInfo]
    regularizations: list[OptionInfo]
    bounds: dict[str, Annotated[list[Number], Field(min_length=2, max_length=2)]] = Field(
        description="[min, max] of the config's numbers, this server's limits applied")
    limits: dict[str, Number]
    device: str


class Health(BaseModel):
    status: str
    device: str
    experiments_loaded: int
    running: int
    frames_built: int = Field(description="frames built since the server started")
    frame_seconds: float = Field(description="seconds spent building them, in the training "
                                             "processes and the server")


def feature_grid(name: str, resolution: int) -> list[list[float]]:
    """The server's own feature, so the page needs no second implementation of it."""
    values = apply_features([name], plane_points(resolution))[:, 0]
    return np.round(values.reshape(resolution, resolution), 4).tolist()


def layer_types(settings: Settings) -> list[LayerTypeInfo]:
    """LAYER_TYPES with each field's default and bounds (this server's limits applied)."""
    out = []
    for kind in LAYER_TYPES.values():
        info = {}
        for f in kind.fields:
            f = layer_field(f, settings.limits)
            if f.choices is None:
                info[f.name] = LayerFieldInfo(default=f.default, min=f.low, max=f.high,
                                              description=f.description)
            else:
                info[f.name] = LayerFieldInfo(default=f.default, choices=list(f.choices),
                                              description=f.description)
        out.append(LayerTypeInfo(type=kind.name, label=kind.label, description=kind.description,
                                 inputs=kind.inputs, token=kind.token, fields=info))
    return out


def _params(params: Mapping[str, Param]) -> dict[str, ParamInfo]:
    return {name: ParamInfo.model_validate(p.to_dict()) for name, p in params.items()}


@router.get("/api/meta", response_model=Meta, responses=responses())
async def meta(request: Request, settings: SettingsDep, service: ServiceDep) -> Response:
    """The same for the server's whole life (a class asks it on every page load): built
    and serialized once (48 kB of JSON, ~4 ms each time), answered on the event loop
    without a thread's turn, which under a class's load was what made it wait."""
    body: bytes | None = getattr(request.app.state, "meta", None)
    if body is None:
        body = request.app.state.meta = build_meta(settings, service).model_dump_json(
            ).encode()
    return Response(body, media_type="application/json")


def build_meta(settings: Settings, service: Service) -> Meta:
    return Meta(
        problems=["classification", "regression"],
        datasets=[DatasetInfo(name=d.name, label=d.label, problem=d.problem,
                              description=d.description,
                              min_classes=d.min_classes, max_classes=d.max_classes)
                  for d in DATASETS.values()],
        image_datasets=[ImageDatasetInfo(name=d.name, label=d.label, problem="classification",
                                         description=d.description, shape=list(d.shape),
                                         min_classes=d.min_classes, max_classes=d.max_classes,
                                         sides=list(d.sides), size=d.size)
                        for d in IMAGE_SETS.values()],
        sequence_datasets=[SequenceDatasetInfo(
            name=d.name, label=d.label, problem=d.problem, description=d.description,
            min_classes=d.min_classes, max_classes=d.max_classes, lengths=list(d.lengths),
            length=d.length, size=d.size, per_step=d.per_step, channels=d.channels,
            train_fraction=d.train_fraction)
            for d in SEQUENCE_SETS.values()],
        layer_types=layer_types(settings),
        features=[FeatureInfo(name=f.name, label=f.label, description=f.description,
                              grid=feature_grid(f.name, settings.neuron_resolution))
                  for f in FEATURES.values()],
        activations=[ActivationInfo(name=a.name, hidden=a.hidden, description=a.description)
                     for _, a in ACTIVATIONS.items()],
        losses=[LossInfo(name=n, description=loss.description, needs=loss.needs or None,
                         params=_params(loss.params)) for n, loss in LOSSES.items()],
        initializers=[OptionInfo(name=n, description=i.description, params=_params(i.params))
                      for n, i in INITIALIZERS.items()],
        optimizers=[OptionInfo(name=n, description=o.description, params=_params(o.params))
                    for n, o in OPTIMIZERS.items()],
        regularizations=[OptionInfo(name=n, description=r.description,
                                    params=_params(r.params)) for n, r in REGULARIZERS.items()],
        bounds={name: (p.low, p.high) for name, p in bounds(settings.limits).items()},
        limits={**settings.limits.to_dict(),
                "max_grid_resolution": settings.max_grid_resolution,
                "grid_resolution": settings.grid_resolution,
                "neuron_resolution": settings.neuron_resolution,
                "max_predict_points": settings.max_predict_points,
                "max_upload_bytes": settings.max_upload_bytes,
                "max_import_bytes": settings.max_import_bytes,
                "max_images": settings.max_images,
                "max_image_values": settings.max_image_values,
                "max_running": settings.max_running, "max_viewers": settings.max_viewers,
                "max_wait_epochs": settings.max_wait_epochs,
                "frame_rate": settings.frame_rate, "idle_stop_seconds": settings.idle_stop},
        device=service.backend.device,
    )


@router.get("/healthz", response_model=Health, responses=responses())
def healthz(service: ServiceDep) -> Health:
    return Health(status="ok", device=service.backend.device, **service.counts())
