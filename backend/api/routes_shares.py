"""/api/shares: read-only snapshots, and forks of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from . import routes_experiments as experiments
from .deps import ServiceDep, Shared
from .errors import BODY, LOOKUP, responses
from .schemas import (
    Created,
    MapsRequest,
    MistakesView,
    PointsView,
    SequenceRequest,
    SequenceView,
    ShareView,
    SummaryView,
)

router = APIRouter(prefix="/api/shares", tags=["shares"])
ShareId = Annotated[str, Path(max_length=64)]


@router.get("/{share_id}", response_model=ShareView, responses=responses(LOOKUP))
def get(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    return service.share_view(share_id)


@router.post("/{share_id}/fork", status_code=201, response_model=Created,
             responses=responses(LOOKUP))
async def fork(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    exp, token = await service.fork(share_id)
    return {**service.view(exp), "edit_token": token}


@router.get("/{share_id}/points", response_model=PointsView, responses=responses(LOOKUP))
def points(share_id: ShareId, service: ServiceDep) -> dict[str, Any]:
    return service.shared(share_id).points_view()


@router.get("/{share_id}/frame", responses={**responses(LOOKUP), 200: {
    "content": {"application/octet-stream": {}},
    "description": "the snapshot as one websocket frame (docs/protocol.md)"}})
def frame(share_id: ShareId, service: ServiceDep) -> Response:
    """The snapshot as one websocket frame, to draw it exactly as it was."""
    return Response(service.share_frame(share_id), media_type="application/octet-stream")


# Looking inside a snapshot is not changing it: maps, a drawing's way, sequences, mistakes,
# summary.
@router.get("/{share_id}/maps", responses={**experiments.MAPS, **responses(LOOKUP)})
def maps(exp: Shared, service: ServiceDep, example: experiments.Example = 0) -> Response:
    return experiments.maps(exp, service, example)


@router.post("/{share_id}/maps",
             responses={**experiments.MAPS, **responses(LOOKUP, BODY)})
def maps_of(body: MapsRequest, exp: Shared, service: ServiceDep) -> Response:
    return experiments.maps_of(body, exp, service)


@router.get("/{share_id}/sequence", response_model=SequenceView, responses=responses(LOOKUP))
def sequence(exp: Shared, service: ServiceDep,
             example: experiments.SequenceExample = 0) -> dict[str, Any]:
    return experiments.sequence(exp, service, example)


@router.post("/{share_id}/sequence", response_model=SequenceView,
             responses=responses(LOOKUP, BODY))
def sequence_of(body: SequenceRequest, exp: Shared, service: ServiceDep) -> dict[str, Any]:
    return experiments.sequence_of(body, exp, service)


@router.get("/{share_id}/mistakes", response_model=MistakesView, responses=responses(LOOKUP))
def mistakes(exp: Shared, true: experiments.TrueClass = None,
             predicted: experiments.Predicted = None,
             limit: experiments.Limit = 16) -> dict[str, Any]:
    return experiments.mistakes(exp, true, predicted, limit)


@router.get("/{share_id}/summary", response_model=SummaryView, responses=responses(LOOKUP))
def summary(exp: Shared) -> dict[str, Any]:
    return experiments.summary(exp)
