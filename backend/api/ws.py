"""/ws/experiments/{id}: commands in (JSON text), frames out (binary), acks and errors (JSON).

Each viewer has a sender task that always sends the newest frame, at most frame_rate a
second; a slow viewer's send waits on its socket, so it simply gets fewer frames and no
backlog grows. Frames are built once per change of the experiment and shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnected

from backend.experiments.experiment import Experiment, ExperimentError
from backend.experiments.frames import FrameCache
from backend.experiments.service import Busy, Forbidden, NotFound, Service
from backend.experiments.tokens import token_matches
from backend.settings import Settings

from .errors import describe

router = APIRouter()
FLOOD_RATE = 50.0  # commands per second a viewer may send, with bursts of as many


class Viewer:
    def __init__(self, ws: WebSocket, service: Service, settings: Settings, exp: Experiment,
                 token: str | None) -> None:
        self.ws, self.service, self.settings, self.exp = ws, service, settings, exp
        self.token = token
        self.client = ws.client.host if ws.client else ""
        self.send_lock = asyncio.Lock()
        self.allowance = FLOOD_RATE
        self.last_check = time.monotonic()

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(message))

    def flooding(self) -> bool:
        now = time.monotonic()
        self.allowance = min(FLOOD_RATE, self.allowance + (now - self.last_check) * FLOOD_RATE)
        self.last_check = now
        if self.allowance < 1:
            return True
        self.allowance -= 1
        return False

    async def frames(self, cache: FrameCache) -> None:
        watch = self.service.runner.watch(self.exp.id)
        interval = 1.0 / self.settings.frame_rate
        sent, due = -1, 0.0  # due: when the next frame may go, on a fixed schedule
        while True:
            version = await watch.wait(sent, timeout=10.0)
            if version == sent:
                continue
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            version = watch.version
            frame = await cache.get(self.exp, version)
            async with self.send_lock:
                await self.ws.send_bytes(frame)
            sent = version
            # A schedule, not "last send + interval": small delays must not add up.
            due = max(due + interval, time.monotonic() - interval)

    # commands ---------------------------------------------------------------------------
    def editable(self) -> Experiment:
        return self.service.authorize(self.exp.id, self.token)

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        kind = message.get("type")
        command = COMMANDS.get(kind) if isinstance(kind, str) else None
        if command is None:
            raise ExperimentError(f"unknown command {kind!r}; allowed: {', '.join(COMMANDS)}")
        return await command(self, message) or {}


Command = Callable[[Viewer, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def _auth(v: Viewer, m: dict[str, Any]) -> dict[str, Any]:
    token = m.get("token")
    v.token = token if isinstance(token, str) else None
    return {"editable": token_matches(v.token, v.service.token_hashes[v.exp.id])}


async def _play(v: Viewer, m: dict[str, Any]) -> None:
    epochs = m.get("epochs")
    if epochs is not None and (not isinstance(epochs, int) or not
                               1 <= epochs <= v.settings.max_epochs_per_call):
        raise ExperimentError(f"epochs must be 1..{v.settings.max_epochs_per_call}")
    v.service.play(v.editable(), epochs, v.client)


async def _pause(v: Viewer, m: dict[str, Any]) -> None:
    await v.service.pause(v.editable())


async def _step(v: Viewer, m: dict[str, Any]) -> None:
    epochs = m.get("epochs", 1)
    if not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ExperimentError("epochs must be a whole number 1..1000")
    await v.service.step(v.editable(), epochs)


async def _reset(v: Viewer, m: dict[str, Any]) -> None:
    await v.service.reset(v.editable())


async def _update(v: Viewer, m: dict[str, Any]) -> dict[str, Any]:
    changes = m.get("config")
    if not isinstance(changes, dict):
        raise ExperimentError("update needs 'config': an object with the fields to change")
    kept = await v.service.patch(v.editable(), changes)
    return {"weights_kept": kept, "config": v.exp.config.model_dump(mode="json")}


async def _set_weight(v: Viewer, m: dict[str, Any]) -> None:
    def whole(name: str, optional: bool = False) -> int | None:
        value = m.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ExperimentError(f"set_weight needs '{name}' as a whole number")
        return value

    value = m.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ExperimentError("set_weight needs 'value' as a number")
    layer, target = whole("layer"), whole("target")
    assert layer is not None and target is not None
    await v.service.set_weight(v.editable(), layer, whole("source", True), target,
                               float(value))


async def _ping(v: Viewer, m: dict[str, Any]) -> dict[str, Any]:
    return {"time": time.time()}


COMMANDS: dict[str, Command] = {
    "auth": _auth, "play": _play, "pause": _pause, "step": _step, "reset": _reset,
    "update": _update, "set_weight": _set_weight, "ping": _ping,
}


@router.websocket("/ws/experiments/{exp_id}")
async def watch_experiment(ws: WebSocket, exp_id: str) -> None:
    service: Service = ws.app.state.service
    settings: Settings = ws.app.state.settings
    cache: FrameCache = service.runner.frames
    await ws.accept()
    try:
        exp = service.get(exp_id[:65])
    except (NotFound, ExperimentError) as exc:
        await ws.send_text(json.dumps({"type": "error", "message": str(exc)}))
        await ws.close(code=4404)
        return
    address = ws.client.host if ws.client else ""
    sockets: dict[str, int] = ws.app.state.sockets  # open websockets per client address
    if sockets.get(address, 0) >= settings.max_sockets_per_client:
        await ws.send_text(json.dumps({"type": "error", "message":
                                       f"{settings.max_sockets_per_client} connections from "
                                       "your address are open, the limit; close some"}))
        await ws.close(code=4429)
        return
    watch = service.runner.watch(exp_id)
    if watch.viewers >= settings.max_viewers:
        await ws.send_text(json.dumps({"type": "error", "message":
                                       f"this experiment has {settings.max_viewers} viewers, "
                                       "the limit; try again later"}))
        await ws.close(code=4429)
        return
    viewer = Viewer(ws, service, settings, exp, ws.query_params.get("token"))
    watch.viewers += 1
    sockets[address] = sockets.get(address, 0) + 1
    sender = asyncio.create_task(viewer.frames(cache))
    try:
        await viewer.send_json({"type": "hello", "id": exp.id, "protocol": 1,
                                "editable": token_matches(viewer.token,
                                                          service.token_hashes[exp.id]),
                                "frame_rate": settings.frame_rate})
        await _serve(viewer)
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass  # the viewer left, possibly while we were answering
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        watch.viewers -= 1
        watch.last_viewed = time.monotonic()
        sockets[address] -= 1
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
        message = json.loads(text)
    except json.JSONDecodeError:
        return {"type": "error", "message": "not JSON: send {\"type\": \"play\"} and the like"}
    if not isinstance(message, dict):
        return {"type": "error", "message": "a command is a JSON object with a 'type'"}
    kind = message.get("type")
    try:
        result = await viewer.handle(message)
    except ValidationError as exc:
        return {"type": "error", "command": kind, "message": describe(list(exc.errors()))[0]}
    except (ExperimentError, Forbidden, Busy, NotFound, ValueError) as exc:
        return {"type": "error", "command": kind, "message": str(exc)}
    return {"type": "ack", "command": kind, **result}
