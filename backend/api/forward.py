"""API replicas: a request or websocket for an experiment or a class that another live
replica holds goes to that replica (backend/experiments/ownership.py), so that any
replica answers anything and each experiment keeps one writer.

HTTP is streamed both ways (httpx), status and headers kept; a websocket is relayed
message by message (the `websockets` client). What is forwarded carries the database's
secret and the client's address, which the receiver believes only with that secret, and
serves itself: a forwarded request is never forwarded again. An owner that does not answer
and whose heartbeat is stale is taken over (the request is served here); one that does
not answer but may still be alive gets a 503 that says to ask again. A relayed websocket
whose owner dies is closed with 1012, and the page connects again by itself.

Imported only for a shared database (PostgreSQL): the default mode never loads httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from backend.experiments.ownership import Owner, Ownership, class_unit
from backend.experiments.store import StoreError

from .headers import HEADERS

log = logging.getLogger("playground.replicas")
SECRET = b"x-playground-secret"
CLIENT = b"x-playground-client"
# Headers of one connection, not of the request or answer (RFC 9110 7.6.1); and the ones
# the websocket client makes itself.
HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
       b"trailer", b"transfer-encoding", b"upgrade", SECRET, CLIENT}
HANDSHAKE = {b"host", b"sec-websocket-key", b"sec-websocket-version",
             b"sec-websocket-extensions", b"sec-websocket-accept", b"content-length"}
# SecurityHeaders adds these to every answer, and uvicorn its date and name
ADDED_HERE = {name for name, _ in HEADERS} | {b"date", b"server"}
EXPERIMENT = re.compile(r"^/(?:api|ws)/experiments/([^/]{1,64})(?:/|$)")
CLASS = re.compile(r"^/(?:api|ws)/classes/([^/]{1,64})(/.*)?$")
# Read from the class's row alone, by any replica (the QR code names the asker's host);
# a join itself (POST) goes to the class's owner, who seats and holds its students.
ANY_REPLICA = {("GET", "/join"), ("HEAD", "/join"), ("GET", "/qr.svg"), ("HEAD", "/qr.svg")}


class Forwarder:
    """ASGI middleware: serve here what this replica holds (or nobody does), forward the
    rest to its holder."""

    def __init__(self, app: ASGIApp, ownership: Ownership, timeout: float) -> None:
        self.app = app
        self.ownership = ownership
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made in the server's event loop, kept for its life
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=2.0),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100))
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the client's connections close with the server
            async def closing(message: Message) -> None:
                if message["type"].startswith("lifespan.shutdown."):
                    await self.aclose()
                await send(message)

            await self.app(scope, receive, closing)
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._trusted(scope):  # forwarded by another replica: served here, always
            await self.app(scope, receive, send)
            return
        unit = self._unit_name(scope)
        owner = None
        if unit is not None:
            try:
                unit = await unit
                owner = await self.ownership.owner(unit)
            except StoreError:
                owner = None  # the route answers what the database allows (507)
        if owner is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send, unit, owner)  # type: ignore[arg-type]
        else:
            await self._websocket(scope, receive, send, unit, owner)  # type: ignore[arg-type]

    def _trusted(self, scope: Scope) -> bool:
        """Whether the request came from another replica (the right secret): then the
        client's address it names is the request's. Without it both headers are dropped:
        nobody poses as another address by sending them."""
        headers = scope.get("headers") or []
        given = next((v for k, v in headers if k == SECRET), None)
        client = next((v for k, v in headers if k == CLIENT), None)
        if given is None and client is None:
            return False
        scope["headers"] = [(k, v) for k, v in headers if k not in (SECRET, CLIENT)]
        secret = self.ownership.secret.encode()
        if given is None or not secret or not hmac.compare_digest(given, secret):
            return False
        if client is not None:
            port = scope["client"][1] if scope.get("client") else 0
            scope["client"] = (client.decode("latin-1"), port)
        return True

    def _unit_name(self, scope: Scope) -> Any:
        """An awaitable of the unit the path names, or None for a path any replica serves."""
        path: str = scope.get("path", "")
        match = EXPERIMENT.match(path)
        if match is not None:
            if path == "/api/experiments/import":
                return None
            return self.ownership.unit_of(match.group(1))
        match = CLASS.match(path)
        if match is not None and \
                (scope.get("method"), match.group(2) or "") not in ANY_REPLICA:
            return _ready(class_unit(match.group(1)))
        return None

    # HTTP ---------------------------------------------------------------------------------
    def _headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        client = scope["client"][0] if scope.get("client") else ""
        return [(k, v) for k, v in scope["headers"] if k not in HOP] + \
            [(SECRET, self.ownership.secret.encode()), (CLIENT, client.encode("latin-1"))]

    async def _http(self, scope: Scope, receive: Receive, send: Send, unit: str,
                    owner: Owner) -> None:
        started = False  # the body began to go: it cannot be served here any more

        async def body() -> AsyncIterator[bytes]:
            nonlocal started
            started = True
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                more = message.get("more_body", False)
                yield message.get("body", b"")

        headers = dict(scope["headers"])
        has_body = b"content-length" in headers or b"transfer-encoding" in headers
        url = owner[1] + _target(scope)
        request = self.client.build_request(scope["method"], url, headers=self._headers(scope),
                                            content=body() if has_body else None)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.ConnectError:
            self.ownership.forget_owner(unit)
            if not started and await self._take_over(unit, owner):
                await self.app(scope, receive, send)
                return
            await _refuse(send, "the server that holds this experiment or class does not "
                                "answer; ask again in a few seconds")
            return
        except httpx.HTTPError as exc:
            self.ownership.forget_owner(unit)
            await _refuse(send, f"the server that holds this experiment or class failed "
                                f"({type(exc).__name__}); ask again in a few seconds")
            return
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw
                                    if k.lower() not in HOP and k.lower() not in ADDED_HERE]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError:
            # Mid-answer: nothing truthful can follow the part sent; the client sees a
            # connection cut short.
            log.warning("the answer of %s for %s broke off", owner[1], scope["path"])
        finally:
            await response.aclose()

    async def _take_over(self, unit: str, owner: Owner) -> bool:
        """After `owner` did not answer: whether this replica holds the unit now."""
        try:
            if not await self.ownership.holder_gone(unit, owner):
                return False
            return await self.ownership.owner(unit) is None
        except StoreError:
            return False

    # websockets ---------------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send, unit: str,
                         owner: Owner) -> None:
        first = await receive()  # websocket.connect
        if first["type"] != "websocket.connect":
            return
        url = "ws" + owner[1].removeprefix("http") + _target(scope)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers(scope)
                   if k not in HANDSHAKE]
        try:
            upstream = await connect(url, additional_headers=headers, compression=None,
                                     max_size=None, open_timeout=5,
                                     ping_interval=self.ownership.ttl,
                                     ping_timeout=self.ownership.ttl)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self.ownership.forget_owner(unit)
            # refused or timed out (an OSError): taken over if its heartbeat is stale
            if isinstance(exc, OSError) and await self._take_over(unit, owner):
                await self.app(scope, _replay(first, receive), send)
                return
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps({
                "type": "error", "message": "the server that holds this experiment or class "
                                            "does not answer; reconnecting"})})
            await send({"type": "websocket.close", "code": 1013})
            return
        await send({"type": "websocket.accept"})
        await _relay(upstream, receive, send)


async def _relay(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    """Messages both ways until either side closes; the owner's close code goes to the
    client, and an owner that vanished (no close frame) is a 1012: reconnect."""

    async def up() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                code = message.get("code", 1000)
                # codes a close frame may not carry (1005, 1006: none came) become 1000
                await upstream.close(code if code >= 3000 or code in SENDABLE else 1000)
                return
            text = message.get("text")
            await upstream.send(text if text is not None else message.get("bytes") or b"")

    async def down() -> None:
        code, reason = 1012, ""
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        received = upstream.protocol.close_rcvd  # None: the owner's end just vanished
        if received is not None:
            code, reason = received.code, received.reason
        await send({"type": "websocket.close", "code": code, "reason": reason})

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await upstream.close()


SENDABLE = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


def _target(scope: Scope) -> str:
    """The request's path and query as the client sent them."""
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive`, with the message already taken from it given again first."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await receive()

    return again


async def _ready(value: str) -> str:
    return value


async def _refuse(send: Send, message: str) -> None:
    raw = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode()),
                            (b"retry-after", b"2")]})
    await send({"type": "http.response.body", "body": raw})
