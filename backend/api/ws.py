"""/ws/experiments/{id}: commands in (JSON text), frames out (binary), acks and errors (JSON).

Each viewer has a sender task that always sends the newest frame, at most frame_rate a
second; a slow viewer's send waits on its socket, so it simply gets fewer frames and no
backlog grows. Frames are built once per change of the experiment and shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnected

from backend import jsonsafe
from backend.experiments.experiment import Experiment, ExperimentError
from backend.experiments.ownership import Moved, Solo
from backend.experiments.service import NotFound, Service
from backend.settings import Settings

from .deps import bearer
from .errors import STATUS, describe
from .schemas import (
    COMMAND,
    COMMAND_TYPES,
    AuthCommand,
    PauseCommand,
    PingCommand,
    PlayCommand,
    ResetCommand,
    SetWeightCommand,
    StepCommand,
    UpdateCommand,
    ViewCommand,
)

router = APIRouter()
FLOOD_RATE = 50.0  # commands per second a viewer may send, with bursts of as many


class Viewer:
    def __init__(self, ws: WebSocket, service: Service, settings: Settings,
                 exp: Experiment) -> None:
        self.ws, self.service, self.settings, self.exp = ws, service, settings, exp
        self.token: str | None = None  # given by the auth command, never in the address
        self.client = ws.client.host if ws.client else ""
        self.send_lock = asyncio.Lock()
        self.allowance = FLOOD_RATE
        self.last_check = time.monotonic()
        self.resend = False  # send the frame of now even if its version was sent

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(jsonsafe.dumps(message))

    def flooding(self) -> bool:
        now = time.monotonic()
        self.allowance = min(FLOOD_RATE, self.allowance + (now - self.last_check) * FLOOD_RATE)
        self.last_check = now
        if self.allowance < 1:
            return True
        self.allowance -= 1
        return False

    async def frames(self) -> None:
        watch = self.service.watch(self.exp)
        interval = 1.0 / self.settings.frame_rate
        sent, due = -1, 0.0  # due: when the next frame may go, on a fixed schedule
        while True:
            version = await watch.wait(sent, timeout=10.0)
            if self.exp.closed.is_set():
                if self.service.moved(self.exp):  # to another replica: the page reconnects
                    await self.ws.close(code=1012)
                    return
                await self.send_json({"type": "error", "message": "the experiment was deleted"})
                await self.ws.close(code=4404)
                return
            frames, neurons = watch.views.get(id(self), (True, True))
            if not frames:  # hidden: the next change (or view) wakes it
                sent = version
                continue
            if version == sent and not self.resend:
                continue
            self.resend = False
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            version = watch.version
            frame = await self.service.frame(self.exp, version, neurons)
            async with self.send_lock:
                await self.ws.send_bytes(frame)
            sent = version
            # A schedule, not "last send + interval": small delays must not add up.
            due = max(due + interval, time.monotonic() - interval)

    # commands ---------------------------------------------------------------------------
    def editable(self) -> Experiment:
        return self.service.authorize(self.exp.id, self.token)

    async def handle(self, command: Any) -> dict[str, Any]:
        s, exp = self.service, self.exp
        match command:
            case AuthCommand(token=token):
                self.token = token
                return {"editable": s.can_edit(s.get(exp.id), token)}
            case PlayCommand(epochs=epochs, speed=speed):
                if epochs is not None and epochs > self.settings.max_epochs_per_call:
                    raise ExperimentError(f"epochs: at most {self.settings.max_epochs_per_call}")
                await s.play(self.editable(), epochs, self.client, speed)
            case PauseCommand():
                await s.pause(self.editable())
            case StepCommand(epochs=epochs):
                await s.step(self.editable(), epochs, self.client)
            case ResetCommand():
                await s.reset(self.editable())
            case UpdateCommand(config=changes):
                kept = await s.patch(self.editable(), changes)
                return {"weights_kept": kept, "config": exp.config.model_dump(mode="json")}
            case SetWeightCommand(layer=layer, source=source, target=target, value=value):
                await s.set_weight(self.editable(), layer, source, target, value)
            case PingCommand():
                return {"time": time.time()}
            case ViewCommand(frames=frames, neurons=neurons, example=example):
                watch = s.watch(exp)
                if example is not None:
                    exp.check_example(example)  # refused as GET /sequence refuses it
                changed = watch.show(id(self), frames, neurons)
                if example is not None and example != watch.example:
                    watch.example = example
                    watch.bump()  # a new frame, of that sequence, for every viewer
                elif changed:
                    self.resend = True  # what it shows now, at once: only this viewer
                    watch.poke()
        return {}


@router.websocket("/ws/experiments/{exp_id}")
async def watch_experiment(ws: WebSocket, exp_id: str) -> None:
    service: Service = ws.app.state.service
    settings: Settings = ws.app.state.settings
    ownership: Solo = ws.app.state.ownership
    await ws.accept()
    try:
        exp = service.get(exp_id[:65])
    except (NotFound, ExperimentError, Moved) as exc:
        await ws.send_text(jsonsafe.dumps({"type": "error", "message": str(exc)}))
        # moved to another replica: 1012, and the page connects again (to the other)
        await ws.close(code=1012 if isinstance(exc, Moved) else 4404)
        return
    address = ws.client.host if ws.client else ""
    sockets: dict[str, int] = ws.app.state.sockets  # open websockets per client address
    elsewhere = await ownership.used_elsewhere("sockets", address) if ownership.shared else 0
    if sockets.get(address, 0) + elsewhere >= settings.max_sockets_per_client:
        await ws.send_text(jsonsafe.dumps({"type": "error", "message":
                                       f"{settings.max_sockets_per_client} connections from "
                                       "your address are open, the limit; close some"}))
        await ws.close(code=4429)
        return
    watch = service.watch(exp)
    if watch.viewers >= settings.max_viewers:
        await ws.send_text(jsonsafe.dumps({"type": "error", "message":
                                       f"this experiment has {settings.max_viewers} viewers, "
                                       "the limit; try again later"}))
        await ws.close(code=4429)
        return
    viewer = Viewer(ws, service, settings, exp)
    viewer.token = bearer(ws.headers.get("authorization"))  # scripts may send a header
    watch.show(id(viewer))  # a viewer from now, showing everything
    sockets[address] = sockets.get(address, 0) + 1
    ownership.use("sockets", address, sockets[address])
    sender = asyncio.create_task(viewer.frames())
    try:
        await viewer.send_json({"type": "hello", "id": exp.id, "protocol": 1,
                                "editable": service.can_edit(exp, viewer.token),
                                "commands": list(COMMAND_TYPES),
                                "frame_rate": settings.frame_rate})
        await _serve(viewer)
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass  # the viewer left, possibly while we were answering
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        watch.leave(id(viewer))
        sockets[address] -= 1
        ownership.use("sockets", address, sockets[address])
        if not sockets[address]:
            del sockets[address]


async def _serve(viewer: Viewer) -> None:
    limit = viewer.settings.max_message_bytes
    while True:
        msg = await viewer.ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text")
        reply: dict[str, Any]
        if text is None:
            reply = {"type": "error", "message": "binary messages are not commands; send JSON"}
        elif len(text) > limit:
            reply = {"type": "error", "message": f"message over {limit} bytes"}
        elif viewer.flooding():
            reply = {"type": "error", "message": "too many messages; slow down"}
        else:
            reply = await _dispatch(viewer, text)
        await viewer.send_json(reply)


async def _dispatch(viewer: Viewer, text: str) -> dict[str, Any]:
    try:
        message = jsonsafe.loads(text)
    except ValueError as exc:
        return {"type": "error", "message": f"{exc}: send {{\"type\": \"play\"}} and the like"}
    if not isinstance(message, dict):
        return {"type": "error", "message": "a command is a JSON object with a 'type'"}
    kind = message.get("type")
    if kind not in COMMAND_TYPES:
        return {"type": "error", "command": kind if isinstance(kind, str) else None,
                "message": f"unknown command {kind!r}; allowed: {', '.join(COMMAND_TYPES)}"}
    try:
        command = COMMAND.validate_python(message)
    except ValidationError as exc:
        errors = [{**e, "loc": e["loc"][1:]} for e in exc.errors()]  # drop the union's tag
        return {"type": "error", "command": kind, "message": describe(errors)[0]}
    try:
        result = await viewer.handle(command)
    except ValidationError as exc:
        return {"type": "error", "command": kind, "message": describe(list(exc.errors()))[0]}
    except tuple(STATUS) as exc:  # the errors REST answers with a status, the same words
        return {"type": "error", "command": kind, "message": str(exc)}
    return {"type": "ack", "command": kind, **result}
