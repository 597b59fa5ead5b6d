"""/api/datasets: upload points as JSON or CSV, then use {"name": "custom", "id": ...}."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from backend.data import DATASETS, DataError, generate, parse_csv, parse_json

from .deps import ServiceDep, SettingsDep

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


@router.post("", status_code=201, openapi_extra={"requestBody": {"content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "x": {"type": "array"}, "y": {"type": "array"},
        "x_test": {"type": "array"}, "y_test": {"type": "array"}}}},
    "text/csv": {"schema": {"type": "string"}}}, "required": True}})
async def upload(request: Request, service: ServiceDep, settings: SettingsDep,
                 problem: Annotated[Literal["classification", "regression"] | None,
                                    Query()] = None) -> dict[str, Any]:
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limits = {"max_rows": settings.max_samples}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("the upload is not UTF-8 text") from None
    if kind in ("text/csv", "text/plain", "application/csv"):
        data = parse_csv(text, problem, **limits)
    elif kind in ("application/json", ""):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"the upload is not JSON: {exc.msg} at line {exc.lineno}") from None
        data = parse_json(obj, problem, **limits)
    else:
        raise DataError(f"send application/json or text/csv, not {kind!r}")
    ds_id = service.upload(data)
    return {"id": ds_id, "problem": data.problem, "n_classes": data.n_classes,
            "n_train": len(data.y_train),
            "n_test": 0 if data.y_test is None else len(data.y_test),
            "use": {"dataset": {"name": "custom", "id": ds_id}, "problem": data.problem}}


@router.get("/preview")
def preview(name: Annotated[str, Query(max_length=40)],
            n: Annotated[int, Query(ge=1, le=1000)] = 200,
            noise: Annotated[float, Query(ge=0.0, le=0.5)] = 0.0,
            classes: Annotated[int, Query(ge=2, le=10)] = 2,
            seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0) -> dict[str, Any]:
    """Points of a built-in data set, for its thumbnail: nothing is stored."""
    x, y = generate(name, n, noise, seed, classes)
    return {"name": name, "problem": DATASETS[name].problem, "x": x.tolist(), "y": y.tolist()}
