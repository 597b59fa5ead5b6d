"""/api/datasets: upload points as JSON or CSV, images as an NPZ or MNIST's IDX files, or
sequences as an NPZ (kind=sequences), then use {"name": "custom", "id": ...}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from backend.data import DATASETS, DataError, generate
from backend.engine.params import Param
from backend.experiments.config import BOUNDS
from backend.experiments.dataset import ImageUpload, SequenceUpload

from .deps import ServiceDep
from .errors import BODY, responses

router = APIRouter(prefix="/api/datasets", tags=["datasets"])
Problem = Literal["classification", "regression"]


class CustomDataset(BaseModel):
    name: Literal["custom"] = "custom"
    id: str


class UploadUse(BaseModel):
    dataset: CustomDataset
    problem: Problem
    features: list[str] | None = Field(None, description="[] for images and sequences: no "
                                       "2-D features")


class Uploaded(BaseModel):
    id: str = Field(description="use it as the config's dataset.id")
    kind: Literal["images", "sequences"] | None = Field(None, description="absent for points")
    problem: Problem
    n_classes: int = Field(description="1 for regression")
    n_train: int
    n_test: int = Field(description="0: the config's train_fraction splits the points")
    shape: list[int] | None = Field(None, description="images: (channels, height, width); "
                                    "sequences: (steps, channels)")
    per_step: bool | None = Field(None, description="sequences: a target at every step")
    use: UploadUse = Field(description="the part of a config that trains on this upload")


class Preview(BaseModel):
    name: str
    problem: Problem
    x: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        description="[[x1, x2], ...]")
    y: list[int | float] = Field(description="class indices, or regression targets")


def _query(p: Param) -> Any:
    """A query parameter with the config's bounds, as /api/meta lists them."""
    return Query(ge=p.low, le=p.high, allow_inf_nan=False, description=p.description)


NPZ_TYPES = ("application/octet-stream", "application/x-npz", "application/zip")
ZIP_MAGIC = b"PK\x03\x04"  # an NPZ is a zip file
FORM_FILES = ("images", "labels", "npz")


async def form_parts(request: Request) -> dict[str, bytes]:
    """A multipart/form-data body's files (name -> bytes), parsed as it streams in: a part
    past the three files (or three other fields) is refused as it comes, however many
    follow. Only the first of each name counts."""
    most = len(FORM_FILES)
    parts: dict[str, bytes] = {}
    try:
        async with request.form(max_files=most, max_fields=most) as form:
            for name, value in form.multi_items():
                if name not in FORM_FILES or name in parts:
                    continue
                if isinstance(value, str):
                    raise DataError(f"the form field {name!r} came as text: send it as a file "
                                    f"(curl -F {name}=@FILE)")
                parts[name] = await value.read()
    except HTTPException as exc:  # Starlette's words: too many parts, no boundary, ...
        raise DataError(f"the multipart form could not be read ({exc.detail}): send the files "
                        "'images' and 'labels' (MNIST's IDX files), or 'npz'") from None
    return parts


@router.post("", status_code=201, response_model=Uploaded, response_model_exclude_none=True,
             responses=responses(BODY, 507),
             openapi_extra={"requestBody": {
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "x": {"type": "array"}, "y": {"type": "array"},
            "x_test": {"type": "array"}, "y_test": {"type": "array"}}}},
        "text/csv": {"schema": {"type": "string"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                "description": "an NPZ of images, or of "
                                                               "sequences with kind=sequences"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "images": {"type": "string", "format": "binary"},
            "labels": {"type": "string", "format": "binary"},
            "npz": {"type": "string", "format": "binary"}}}}}, "required": True}})
async def upload(request: Request, service: ServiceDep,
                 problem: Annotated[Problem | None, Query()] = None,
                 kind: Annotated[Literal["points", "npz", "sequences"] | None, Query(
                     description="npz: the body is an NPZ of images (found by itself from "
                                 "its content type or its first bytes); sequences: an NPZ "
                                 "of sequences (the body, or the form's file 'npz')")] = None
                 ) -> Uploaded:
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";")[0].strip().lower()
    if kind == "sequences":
        if mime == "multipart/form-data":
            parts = await form_parts(request)
            if "npz" not in parts:
                raise DataError("send the sequences' NPZ as the form's file 'npz' (curl -F "
                                "npz=@FILE), or as the body")
            body = parts["npz"]
        else:
            body = await request.body()
        ds_id, sequences = await service.upload_sequences(body, problem)
        return _sequences(ds_id, sequences)
    if mime == "multipart/form-data":
        parts = await form_parts(request)
        if "npz" in parts:
            ds_id, images = await service.upload_images(npz=parts["npz"])
        else:
            ds_id, images = await service.upload_images(images=parts.get("images"),
                                                        labels=parts.get("labels"))
        return _images(ds_id, images)
    body = await request.body()
    if kind == "npz" or (kind is None and (mime in NPZ_TYPES or body[:4] == ZIP_MAGIC)):
        ds_id, images = await service.upload_images(npz=body)
        return _images(ds_id, images)
    ds_id, data = await service.upload(body, mime, problem)
    return Uploaded(id=ds_id, problem=data.problem, n_classes=data.n_classes,
                    n_train=len(data.y_train),
                    n_test=0 if data.y_test is None else len(data.y_test),
                    use=UploadUse(dataset=CustomDataset(id=ds_id), problem=data.problem))


def _images(ds_id: str, images: ImageUpload) -> Uploaded:
    return Uploaded(id=ds_id, kind="images", problem="classification",
                    n_classes=images.n_classes, n_train=len(images.images.y), n_test=0,
                    shape=list(images.images.shape),
                    use=UploadUse(dataset=CustomDataset(id=ds_id), problem="classification",
                                  features=[]))


def _sequences(ds_id: str, upload: SequenceUpload) -> Uploaded:
    s = upload.sequences
    problem: Problem = "classification" if s.problem == "classification" else "regression"
    return Uploaded(id=ds_id, kind="sequences", problem=problem, n_classes=s.n_classes,
                    n_train=len(s.y), n_test=0 if s.y_test is None else len(s.y_test),
                    shape=list(s.shape), per_step=s.per_step,
                    use=UploadUse(dataset=CustomDataset(id=ds_id), problem=problem,
                                  features=[]))


@router.get("/preview", response_model=Preview, responses=responses(422))
def preview(name: Annotated[str, Query(max_length=40, description="a point data set",
                                       json_schema_extra={"enum": list(DATASETS)})],
            n: Annotated[int, Query(ge=1, le=1000, description="points to draw")] = 200,
            noise: Annotated[float, _query(BOUNDS["noise"])] = BOUNDS["noise"].default,
            classes: Annotated[int, _query(BOUNDS["classes"])] = BOUNDS["classes"].default,
            seed: Annotated[int, _query(BOUNDS["seed"])] = BOUNDS["seed"].default) -> Preview:
    """Points of a built-in data set, for its thumbnail: nothing is stored."""
    x, y = generate(name, n, noise, seed, classes)  # an unknown name: a DataError, 422
    return Preview(name=name, problem=DATASETS[name].problem, x=x.tolist(), y=y.tolist())
