"""/api/shares: read-only snapshots, and forks of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from .deps import ServiceDep
from .routes_experiments import points_view

router = APIRouter(prefix="/api/shares", tags=["shares"])
ShareId = Annotated[str, Path(max_length=64)]


@router.get("/{share_id}")
def get(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    state = service.load_share(share_id)
    return {"share_id": share_id, **state}


@router.post("/{share_id}/fork", status_code=201)
async def fork(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.fork(share_id)
    return {"id": exp.id, "edit_token": token, "epoch": exp.epoch,
            "config": exp.config.model_dump(mode="json")}


@router.get("/{share_id}/points")
def points(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    return points_view(service.shared(share_id))


@router.get("/{share_id}/frame")
def frame(share_id: ShareId, service: ServiceDep) -> Response:
    """The snapshot as one websocket frame (docs/protocol.md), to draw it as it was."""
    exp = service.shared(share_id)
    return Response(service.runner.frames.build(exp, 0),
                    media_type="application/octet-stream")
