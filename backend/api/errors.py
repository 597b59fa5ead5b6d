"""Every error is JSON {"error": message, "details": [...]} with a status that fits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount

from backend import jsonsafe
from backend.data import DataError
from backend.engine import DeviceError
from backend.experiments.experiment import Conflict, Deleted, ExperimentError
from backend.experiments.ownership import Moved
from backend.experiments.service import Busy, Forbidden, Locked, NotFound
from backend.experiments.store import StoreError, StoreUnavailable
from backend.experiments.workers import WorkerError


class ErrorDetail(BaseModel):
    field: str = Field(description="the field's path, dotted; empty: the body as a whole")
    message: str


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong and what to fix")
    details: list[ErrorDetail] | None = Field(None, description="validation errors: one a "
                                                                "field")


# What each status means, the one table every route's `responses=` is built from (the
# table in docs/api.md says the same).
MEANING: dict[int, str] = {
    400: "the body is not JSON that can be read (not UTF-8, a number of over 4300 digits, "
         "nesting over 1000 deep), or the client left before it arrived",
    401: "no teacher token: send Authorization: Bearer <teacher_token>",
    403: "the token is not the experiment's edit token (or the class's teacher token)",
    404: "no such experiment, share, class or student, or it was deleted meanwhile",
    409: "another request changed the experiment first (the message says how: look, then "
         "ask again); or, joining a class, the name is taken or the class is full",
    413: "the body is over max_upload_bytes (max_import_bytes for an import)",
    422: "a value that is not allowed; the message and details name the field",
    423: "the experiment's class is locked by its teacher: no training until unlocked",
    429: "the server, or this address, runs as many trainings and gradient checks as it may",
    503: "the request took over request_timeout, or the training engine failed, or (API "
         "replicas) the server that holds the experiment does not answer yet: ask again",
    507: "the data directory cannot be written, or holds its limit; nothing was changed",
}
# The statuses that parts of a route bring; a route's list is the sum of its parts.
LOOKUP = (404, 422, 507)  # an id read from the store (422: an id that is too long)
EDIT = (*LOOKUP, 403)  # and its edit token
TEACH = (*LOOKUP, 401, 403)  # a class and its teacher token
BODY = (400, 413, 422)  # a body that is read and validated
ALWAYS = (503,)  # any request may outlast request_timeout
BEARER = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def responses(*parts: int | Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these statuses (and ALWAYS): each with
    ErrorBody and its MEANING."""
    statuses = set(ALWAYS)
    for part in parts:
        statuses.update([part] if isinstance(part, int) else part)
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(statuses):
        out[status] = {"model": ErrorBody, "description": MEANING[status]}
        if status == 401:
            out[status]["headers"] = BEARER
    return out


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
UNREADABLE = ("the body is not JSON that can be read: check its syntax and that it is UTF-8; "
              "numbers may have at most 4300 digits and objects or lists nest at most 1000 "
              "deep")

STATUS: dict[type[Exception], int] = {
    NotFound: 404, Deleted: 404, Forbidden: 403, Conflict: 409, Locked: 423,
    ExperimentError: 422, DataError: 422,
    DeviceError: 503, WorkerError: 503, Moved: 503, Busy: 429, StoreError: 507,
    StoreUnavailable: 503,  # the database is restarting: the next call reconnects
}


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this request's path, and OPTIONS (the mounted
    static files take GET alone, and answer their own 405)."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [method for method in METHODS if any(
        route.matches({**request.scope, "method": method})[0] == Match.FULL
        for route in routes)] + ["OPTIONS"]


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
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:  # Starlette names only the first route's method
            allow = ", ".join(allowed_methods(request))
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            return error(405, f"{request.method} is not allowed here; this path takes "
                              f"{allow}", headers={"Allow": allow})
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
