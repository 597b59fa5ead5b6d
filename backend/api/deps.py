"""Dependencies: the service from the app's state, the experiment from the path, the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from backend.experiments.experiment import Experiment
from backend.experiments.service import Service
from backend.settings import Settings

ExperimentId = Annotated[str, Path(max_length=64, description="the experiment's id")]


# Async where they only read: FastAPI runs a plain def dependency on a worker thread, a
# hop per request that under a class's load (threads busy saving and taking answers in)
# made /api/meta wait 200 ms. The lookups that may read the store stay on threads.
async def get_service(request: Request) -> Service:
    return request.app.state.service


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def readable(exp_id: ExperimentId, service: ServiceDep) -> Experiment:
    return service.get(exp_id)


def editable(exp_id: ExperimentId, service: ServiceDep,
             authorization: Annotated[str | None, Header()] = None) -> Experiment:
    return service.authorize(exp_id, bearer(authorization))


async def client_address(request: Request) -> str:
    """The peer's address (a named proxy's X-Forwarded-For, see settings.trusted_proxies)."""
    return request.client.host if request.client else ""


def shared(share_id: Annotated[str, Path(max_length=64)], service: ServiceDep) -> Experiment:
    """A snapshot, read-only: what can be looked at in it, but never changed."""
    return service.shared(share_id)


Readable = Annotated[Experiment, Depends(readable)]
Shared = Annotated[Experiment, Depends(shared)]
ClientAddress = Annotated[str, Depends(client_address)]
Editable = Annotated[Experiment, Depends(editable)]
