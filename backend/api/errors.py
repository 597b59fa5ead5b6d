"""Every error is JSON {"error": message, "details": [...]} with a status that fits."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from backend import jsonsafe
from backend.data import DataError
from backend.engine import DeviceError
from backend.experiments.experiment import Conflict, Deleted, ExperimentError
from backend.experiments.service import Busy, Forbidden, Locked, NotFound
from backend.experiments.store import StoreError
from backend.experiments.workers import WorkerError


def describe(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """pydantic's errors as one readable line plus details (field path and message)."""
    details = []
    for e in errors:
        if e.get("type") == "json_invalid":  # its loc is a character's place, not a field
            at = next((p for p in e.get("loc", ()) if isinstance(p, int)), None)
            where = f" at character {at}" if at is not None else ""
            details.append({"field": "", "message": f"the body is not valid JSON{where} "
                            f"({e.get('ctx', {}).get('error', 'unreadable')})"})
            continue
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        details.append({"field": ".".join(loc), "message": msg})
    line = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"]
                     for d in details[:5])
    return line or "invalid request", details


class StrictJSONResponse(JSONResponse):
    """Every answer's JSON: a number that is not finite goes out as null (see jsonsafe)."""

    def render(self, content: Any) -> bytes:
        return jsonsafe.dumps(content).encode()


def error(status: int, message: str, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return StrictJSONResponse(body, status_code=status, headers=headers)


# FastAPI's words when json.loads fails, which also covers what only Python refuses.
UNREADABLE = ("the body is not JSON that can be read: check its syntax; numbers may have at "
              "most 4300 digits and objects or lists nest at most 1000 deep")

STATUS: dict[type[Exception], int] = {
    NotFound: 404, Deleted: 404, Forbidden: 403, Conflict: 409, Locked: 423,
    ExperimentError: 422, DataError: 422,
    DeviceError: 503, WorkerError: 503, Busy: 429, StoreError: 507,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = describe(list(exc.errors()))
        return error(422, message, details)

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        message, details = describe(list(exc.errors()))
        return error(422, message, details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message = UNREADABLE
        return error(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client left mid-upload: nobody reads this answer, and it is no server error
        # (uvicorn would log a whole traceback for each one).
        return error(400, "the client went away before its request body arrived")

    for kind, status in STATUS.items():
        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return error(status, str(exc))

        app.add_exception_handler(kind, handler)
