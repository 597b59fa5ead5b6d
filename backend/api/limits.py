"""Request limits as plain ASGI middleware: a body size (a 413 before the body is read
whole) and a time (a 503 when a request, slow client included, takes too long)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, 413, self._too_large)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, limited, tracking)
        except BodyTooLarge:
            if not started:
                await self._reject(send, 413, self._too_large)
        except TimeoutError:
            if not started:
                await self._reject(send, 503, f"the request took over {self.seconds:g} s, the "
                                              "limit; for long training use wait: false")

    @property
    def _too_large(self) -> str:
        return f"the request body is over {self.max_bytes} bytes, the limit (see /api/meta)"

    @staticmethod
    async def _reject(send: Send, status: int, message: str) -> None:
        body: dict[str, Any] = {"error": message}
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})
