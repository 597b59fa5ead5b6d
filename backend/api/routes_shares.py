"""/api/shares: read-only snapshots, and forks of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from .deps import ServiceDep

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
