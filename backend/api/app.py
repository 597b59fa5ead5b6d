"""The app factory: settings in, a FastAPI app with the service in its state out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend import __version__
from backend.engine import get_backend
from backend.experiments.classes import Classes, ClassLimits
from backend.experiments.ownership import Ownership, Solo
from backend.experiments.service import Service
from backend.experiments.store import open_store
from backend.settings import Settings

from . import (
    errors,
    openapi,
    routes_classes,
    routes_datasets,
    routes_experiments,
    routes_lessons,
    routes_meta,
    routes_pages,
    routes_shares,
    ws,
)
from .headers import SecurityHeaders
from .limits import RequestLimits

log = logging.getLogger("playground")


async def housekeeping(service: Service) -> None:
    """Every minute, idle experiments leave memory; at start, then hourly, the retention
    policy (settings.retention_days) deletes old ones."""
    for minute in itertools.count():
        try:
            if minute % 60 == 0:
                gone = await service.expire()
                if gone:
                    log.info("deleted %d experiments unchanged for the retention period", gone)
            await service.evict()
        except Exception:  # a full or locked disk: try again next time, never stop serving
            log.exception("housekeeping failed")
        await asyncio.sleep(60)


def replica_url(settings: Settings) -> str:
    """Where the other replicas reach this one: replica_url, else this server's address
    (a wildcard bind named by the machine's name)."""
    if settings.replica_url:
        return settings.replica_url.rstrip("/")
    host = settings.host
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    backend = get_backend(settings.device)
    if backend.note:
        log.warning(backend.note)
    store = open_store(settings)
    # Replicas sharing a database agree on who serves what (ownership.py); alone, a server
    # serves everything and asks nobody.
    ownership = Ownership(replica_url(settings), settings.replica_ttl) if settings.shared \
        else Solo()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.open()
        await ownership.start(app.state.service, app.state.classes)
        expiry = asyncio.get_running_loop().create_task(housekeeping(app.state.service))
        yield
        expiry.cancel()
        await app.state.service.shutdown()
        await ownership.stop()
        store.close()

    # No /docs or /redoc: FastAPI loads their scripts from a CDN, and nothing here may
    # leave the machine. The schema itself is at /openapi.json; docs/api.md describes it.
    # Nor FastAPI's OpenTelemetry: off whatever the environment says (it could export).
    app = FastAPI(title="Neural Playground", version=__version__, lifespan=lifespan,
                  description="Train small neural networks and watch them learn.",
                  docs_url=None, redoc_url=None,
                  default_response_class=errors.StrictJSONResponse,
                  telemetry={"tracing": False, "metrics": False, "logs": False,
                             "operation_spans": False, "auto_configure": False})
    app.state.settings = settings
    app.state.service = Service(settings, store, backend, ownership)
    app.state.ownership = ownership
    app.state.sockets = {}
    app.state.classes = Classes(app.state.service, store, ClassLimits(
        max_students=settings.max_students, max_classes=settings.max_classes))
    errors.install(app)
    for module in (routes_meta, routes_experiments, routes_datasets, routes_shares,
                   routes_lessons, routes_classes, ws, routes_pages):
        app.include_router(module.router)
    for name in ("static", "frontend"):
        app.mount(f"/{name}", StaticFiles(directory=routes_pages.ROOT / name), name=name)
    app.add_middleware(RequestLimits, max_bytes=settings.max_upload_bytes,
                       seconds=settings.request_timeout, name="max_upload_bytes",
                       larger={"/api/experiments/import": (settings.max_import_bytes,
                                                           "max_import_bytes")})
    if settings.shared:  # what another replica holds goes there (imports httpx)
        from .forward import Forwarder

        app.add_middleware(Forwarder, ownership=ownership,
                           timeout=settings.request_timeout + 5)
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: openapi.document(app, settings)  # type: ignore[method-assign]
    return app
