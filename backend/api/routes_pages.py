"""The pages: the playground at / (templates/ + frontend/ + static/, nothing from outside)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from backend import __version__
from backend.experiments.service import NotFound

from .deps import ServiceDep

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Jinja2Templates(directory=str(ROOT / "templates"))

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def playground(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "index.html",
                                      {"version": __version__, "share_id": ""})


@router.get("/s/{share_id}", response_class=HTMLResponse)
def shared(request: Request, share_id: str, service: ServiceDep) -> HTMLResponse:
    share_id = share_id[:64]
    try:
        service.load_share(share_id)
    except NotFound:  # a page a person can read, not the API's JSON
        return TEMPLATES.TemplateResponse(request, "missing.html", status_code=404,
                                          context={"version": __version__, "share_id": share_id})
    return TEMPLATES.TemplateResponse(request, "index.html",
                                      {"version": __version__, "share_id": share_id})


@router.get("/lessons", response_class=HTMLResponse)
def lessons(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "lessons.html", {"version": __version__})
