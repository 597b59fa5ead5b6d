"""/api/datasets: upload points as JSON or CSV, then use {"name": "custom", "id": ...}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from backend.data import DATASETS, generate
from backend.engine.params import Param
from backend.experiments.config import BOUNDS

from .deps import ServiceDep

router = APIRouter(prefix="/api/datasets", tags=["datasets"])
Problem = Literal["classification", "regression"]


class CustomDataset(BaseModel):
    name: Literal["custom"] = "custom"
    id: str


class UploadUse(BaseModel):
    dataset: CustomDataset
    problem: Problem


class Uploaded(BaseModel):
    id: str = Field(description="use it as the config's dataset.id")
    problem: Problem
    n_classes: int = Field(description="1 for regression")
    n_train: int
    n_test: int = Field(description="0: the config's train_fraction splits the points")
    use: UploadUse = Field(description="the part of a config that trains on this upload")


class Preview(BaseModel):
    name: str
    problem: Problem
    x: list[tuple[float, float]]
    y: list[int | float] = Field(description="class indices, or regression targets")


def _query(p: Param) -> Any:
    """A query parameter with the config's bounds, as /api/meta lists them."""
    return Query(ge=p.low, le=p.high, allow_inf_nan=False, description=p.description)


@router.post("", status_code=201, response_model=Uploaded, openapi_extra={"requestBody": {
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "x": {"type": "array"}, "y": {"type": "array"},
            "x_test": {"type": "array"}, "y_test": {"type": "array"}}}},
        "text/csv": {"schema": {"type": "string"}}}, "required": True}})
async def upload(request: Request, service: ServiceDep,
                 problem: Annotated[Problem | None, Query()] = None) -> Uploaded:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    ds_id, data = await service.upload(await request.body(), kind, problem)
    return Uploaded(id=ds_id, problem=data.problem, n_classes=data.n_classes,
                    n_train=len(data.y_train),
                    n_test=0 if data.y_test is None else len(data.y_test),
                    use=UploadUse(dataset=CustomDataset(id=ds_id), problem=data.problem))


@router.get("/preview", response_model=Preview)
def preview(name: Annotated[str, Query(max_length=40)],
            n: Annotated[int, Query(ge=1, le=1000, description="points to draw")] = 200,
            noise: Annotated[float, _query(BOUNDS["noise"])] = BOUNDS["noise"].default,
            classes: Annotated[int, _query(BOUNDS["classes"])] = BOUNDS["classes"].default,
            seed: Annotated[int, _query(BOUNDS["seed"])] = BOUNDS["seed"].default) -> Preview:
    """Points of a built-in data set, for its thumbnail: nothing is stored."""
    x, y = generate(name, n, noise, seed, classes)  # an unknown name: a DataError, 422
    return Preview(name=name, problem=DATASETS[name].problem, x=x.tolist(), y=y.tolist())
