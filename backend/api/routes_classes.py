"""/api/classes and /ws/classes/{id}: a teacher's class (backend/experiments/classes.py).

The teacher's token travels in `Authorization: Bearer` (REST) or an `auth` command (the
websocket), never in an address; a student's edit token is answered once, to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from backend import jsonsafe
from backend.experiments.classes import Class, Classes, Source, results_csv
from backend.experiments.classfeed import RATE, ClassFeed
from backend.experiments.ownership import Moved, Solo, class_unit
from backend.experiments.service import NotFound

from .deps import bearer
from .errors import BODY, LOOKUP, TEACH, responses
from .qr import TooLong, qr_svg
from .schemas import (
    ClassCreate,
    ClassCreated,
    ClassJoinInfo,
    ClassResults,
    ClassStart,
    ClassView,
    Joined,
    JoinRequest,
    PauseResult,
    StartResult,
)

router = APIRouter(tags=["classes"])
ClassId = Annotated[str, Path(max_length=64, description="the class's id")]
MAX_COMMAND = 4096  # bytes: the feed takes two small commands


def get_classes(request: Request) -> Classes:
    return request.app.state.classes


ClassesDep = Annotated[Classes, Depends(get_classes)]


def teacher(class_id: ClassId, classes: ClassesDep,
            authorization: Annotated[str | None, Header()] = None) -> Class:
    cls = classes.get(class_id)  # an unknown class is a 404 with or without a token
    classes.service.ownership.acquire_unit(class_unit(cls.id))  # replicas: Moved, or ours
    token = bearer(authorization)
    if not token:
        raise HTTPException(401, "this needs the class's teacher token (Authorization: "
                                 "Bearer <teacher_token>)", headers={"WWW-Authenticate": "Bearer"})
    return classes.authorize(cls, token)


Teacher = Annotated[Class, Depends(teacher)]


def source(body: ClassStart) -> Source:
    if body.config is not None:
        return Source("config", config=body.config)
    if body.lesson is not None:
        return Source("lesson", ref=body.lesson, preset=body.preset or 0)
    if body.share_id is not None:
        return Source("share", ref=body.share_id)
    return Source("experiment", ref=body.experiment_id or "")


def loopback(host: str) -> bool:
    """A bind address that only this machine reaches."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may be anything
        return False


async def view(classes: Classes, cls: Class) -> dict[str, Any]:
    host = classes.service.settings.host
    return {"id": cls.id, "name": cls.name, "created": cls.created, "join_url": f"/c/{cls.id}",
            "max_students": classes.limits.max_students, "locked": cls.locked,
            "seed_per_student": cls.seed_per_student,
            "listening": {"host": host, "loopback_only": loopback(host)},
            "start": cls.start, "students": await classes.roster(cls.id)}


@router.post("/api/classes", status_code=201, response_model=ClassCreated,
             responses=responses(BODY, 507))
async def create(body: ClassCreate, classes: ClassesDep) -> dict[str, Any]:
    cls, token = await classes.create(body.name, source(body), body.seed_per_student)
    return {"id": cls.id, "name": cls.name, "teacher_token": token, "join_url": f"/c/{cls.id}",
            "teacher_url": f"/c/{cls.id}/teacher#token={token}", "start": cls.start}


@router.get("/api/classes/{class_id}", response_model=ClassView, responses=responses(TEACH))
async def get(cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    return await view(classes, cls)


@router.get("/api/classes/{class_id}/join", response_model=ClassJoinInfo,
            responses=responses(LOOKUP))
def join_info(class_id: ClassId, classes: ClassesDep) -> dict[str, Any]:
    """What the join page shows: no token, only what anyone with the link may see."""
    cls = classes.get(class_id)
    seated = len(classes.students(cls.id))
    lesson = cls.start["kind"] == "lesson"
    return {"id": cls.id, "name": cls.name, "students": seated,
            "max_students": classes.limits.max_students,
            "full": seated >= classes.limits.max_students,
            "lesson": cls.start["ref"] if lesson else None,
            "preset": cls.start["preset"] if lesson else None}


@router.post("/api/classes/{class_id}/join", status_code=201, response_model=Joined,
             responses=responses(LOOKUP, BODY, 409))
async def join(class_id: ClassId, body: JoinRequest, classes: ClassesDep) -> dict[str, Any]:
    student, exp, token, start = await classes.join(class_id, body.name)
    return {"class_id": class_id, "name": student["name"], "experiment_id": exp.id,
            "edit_token": token, "playground_url": playground_url(exp.id, start)}


def playground_url(exp_id: str, start: dict[str, Any]) -> str:
    """The student's playground; for a lesson, with the lesson's text above it."""
    url = f"/?e={exp_id}"
    if start["kind"] == "lesson":
        url += f"&lesson={start['ref']}&preset={start['preset']}"
    return url


@router.post("/api/classes/{class_id}/pause", response_model=PauseResult,
             responses=responses(TEACH))
async def pause(cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    paused, failed = await classes.pause_all(cls)
    return {**await view(classes, cls), "paused": paused, "failed": failed}


@router.post("/api/classes/{class_id}/lock", response_model=PauseResult,
             responses=responses(TEACH))
async def lock(cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    """Pause all and keep them paused: students' play, step and train answer 423 until
    unlock (stored with the class: a restart keeps it)."""
    paused, failed = await classes.lock(cls)
    now = await asyncio.to_thread(classes.get, cls.id)
    return {**await view(classes, now), "paused": paused, "failed": failed}


@router.post("/api/classes/{class_id}/unlock", response_model=ClassView,
             responses=responses(TEACH))
async def unlock(cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    await classes.unlock(cls)
    return await view(classes, await asyncio.to_thread(classes.get, cls.id))


@router.get("/api/classes/{class_id}/results", response_model=ClassResults,
            responses=responses(TEACH))
async def results(cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    return {"id": cls.id, "name": cls.name, "students": await classes.results(cls)}


@router.get("/api/classes/{class_id}/results.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}},
                             "description": "one line per student"}, **responses(TEACH)})
async def results_table(cls: Teacher, classes: ClassesDep) -> Response:
    filename = f"class-{cls.id}-results.csv"
    return Response(results_csv(await classes.results(cls)), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/api/classes/{class_id}/qr.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}},
                             "description": "a QR code of the join link"},
                       **responses(LOOKUP)})
def qr(class_id: ClassId, classes: ClassesDep, request: Request) -> Response:
    """The join link as a QR code, for the address this request came by (the teacher's
    page asks by the address it was opened at, which is the one it shows)."""
    cls = classes.get(class_id)
    try:
        svg = qr_svg(f"{request.base_url}c/{cls.id}")
    except TooLong as exc:  # the Host header is the asker's to choose
        raise HTTPException(422, str(exc)) from None
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


@router.post("/api/classes/{class_id}/start", response_model=StartResult,
             responses=responses(TEACH, BODY))
async def start(body: ClassStart, cls: Teacher, classes: ClassesDep) -> dict[str, Any]:
    _, reset, failed = await classes.restart(cls, source(body))
    now = await asyncio.to_thread(classes.get, cls.id)
    return {**await view(classes, now), "reset": reset, "failed": failed}


@router.delete("/api/classes/{class_id}/students/{experiment_id}", status_code=204,
               responses=responses(TEACH))
async def remove(cls: Teacher, classes: ClassesDep,
                 experiment_id: Annotated[str, Path(max_length=64)]) -> Response:
    await classes.remove(cls, experiment_id)
    return Response(status_code=204)


# the teacher's live view ------------------------------------------------------------------


def _command(text: str) -> tuple[Any, str]:
    """A message read as a command, or None and what was wrong with it ("" if nothing
    was: a command that is not auth or ping)."""
    if len(text) > MAX_COMMAND:
        return None, f"a command is at most {MAX_COMMAND} characters; "
    try:
        return jsonsafe.loads(text), ""
    except ValueError as exc:
        return None, f"{exc}; "


@router.websocket("/ws/classes/{class_id}")
async def watch_class(ws: WebSocket, class_id: str) -> None:
    """Hello, then (once the teacher's token came, by `auth` command or header) a binary
    message of the whole class at most RATE times a second (backend/experiments/classfeed)."""
    classes: Classes = ws.app.state.classes
    settings = ws.app.state.settings
    ownership: Solo = ws.app.state.ownership
    await ws.accept()

    async def refuse(message: str, code: int) -> None:
        await ws.send_text(jsonsafe.dumps({"type": "error", "message": message}))
        await ws.close(code=code)

    try:
        cls = await asyncio.to_thread(classes.get, class_id[:65])
        if ownership.shared:  # the class's owner serves its feed (the page reconnects)
            await asyncio.to_thread(ownership.acquire_unit, class_unit(cls.id))
    except NotFound as exc:
        await refuse(str(exc), 4404)
        return
    except Moved as exc:
        await refuse(str(exc), 1012)
        return
    address = ws.client.host if ws.client else ""
    sockets: dict[str, int] = ws.app.state.sockets  # shared with the experiments' sockets
    elsewhere = await ownership.used_elsewhere("sockets", address) if ownership.shared else 0
    if sockets.get(address, 0) + elsewhere >= settings.max_sockets_per_client:
        await refuse(f"{settings.max_sockets_per_client} connections from your address are "
                     "open, the limit; close some", 4429)
        return
    sockets[address] = sockets.get(address, 0) + 1
    ownership.use("sockets", address, sockets[address])
    classes.watching[cls.id] = classes.watching.get(cls.id, 0) + 1
    teaching = asyncio.Event()
    if classes.can_teach(cls, bearer(ws.headers.get("authorization"))):
        teaching.set()
    lock = asyncio.Lock()

    async def send_json(message: dict[str, Any]) -> None:
        async with lock:
            await ws.send_text(jsonsafe.dumps(message))

    async def feed() -> None:
        await teaching.wait()
        try:
            async for message in ClassFeed(classes, cls.id).stream():
                async with lock:
                    await ws.send_bytes(message)
        except NotFound:  # the class expired meanwhile
            await refuse(f"no class {cls.id!r} any more", 4404)
        except Moved as exc:  # another replica took the class over: reconnect to it
            await refuse(str(exc), 1012)

    sender = asyncio.create_task(feed())
    try:
        await send_json({"type": "hello", "id": cls.id, "protocol": 1, "rate": RATE,
                         "teacher": teaching.is_set(), "commands": ["auth", "ping"]})
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            command, problem = _command(msg.get("text") or "")
            kind = command.get("type") if isinstance(command, dict) else None
            if kind == "auth" and isinstance(command.get("token"), str):
                if not classes.can_teach(cls, command["token"][:200]):
                    await refuse("the teacher token was refused: open the teacher link "
                                 "again", 4403)
                    return
                teaching.set()
                await send_json({"type": "ack", "command": "auth", "teacher": True})
            elif kind == "ping":
                await send_json({"type": "ack", "command": "ping"})
            else:
                await send_json({"type": "error", "message": problem + "commands: {\"type\": "
                                 "\"auth\", \"token\": <teacher_token>} or {\"type\": \"ping\"}"})
                await asyncio.sleep(0.1)  # a page that floods us waits
    except (WebSocketDisconnect, WebSocketDisconnected, RuntimeError):
        pass  # the page left, possibly while we were sending
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        sockets[address] -= 1
        ownership.use("sockets", address, sockets[address])
        if not sockets[address]:
            del sockets[address]
        classes.watching[cls.id] -= 1
        if not classes.watching[cls.id]:
            del classes.watching[cls.id]
