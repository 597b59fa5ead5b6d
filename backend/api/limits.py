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
    """`max_bytes` a body (the setting that names it: `name`); the paths in `larger` take
    their own (an export of a big network is larger than any upload)."""

    def __init__(self, app: ASGIApp, max_bytes: int, seconds: float, name: str = "",
                 larger: dict[str, tuple[int, str]] | None = None) -> None:
        self.app = app
        self.limit = (max_bytes, name)
        self.larger = larger or {}
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, name = self.larger.get(scope.get("path", ""), self.limit)
        too_large = (f"the request body is over {max_bytes} bytes, the server's limit "
                     f"({name}): send a smaller file")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, 413, too_large)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
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
                await self._reject(send, 413, too_large)
        except TimeoutError:
            if not started:
                await self._reject(send, 503, f"the request took over {self.seconds:g} s, the "
                                              "limit; for long training use wait: false")

    @staticmethod
    async def _reject(send: Send, status: int, message: str) -> None:
        body: dict[str, Any] = {"error": message}
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})
