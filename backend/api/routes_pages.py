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


# a teacher's class (backend/api/routes_classes.py) -----------------------------------------
def class_page(request: Request, class_id: str, template: str) -> HTMLResponse:
    try:
        cls = request.app.state.classes.get(class_id[:64])
    except NotFound:
        return TEMPLATES.TemplateResponse(request, "class_missing.html", status_code=404,
                                          context={"version": __version__,
                                                   "class_id": class_id[:64]})
    return TEMPLATES.TemplateResponse(request, template, {"version": __version__,
                                                         "class_id": cls.id, "name": cls.name})


@router.get("/c/{class_id}", response_class=HTMLResponse)
def join_class(request: Request, class_id: str) -> HTMLResponse:
    """A student's way in: a name, then a network of their own."""
    return class_page(request, class_id, "join.html")


@router.get("/c/{class_id}/teacher", response_class=HTMLResponse)
def teach_class(request: Request, class_id: str) -> HTMLResponse:
    """The teacher's page; its token comes in the #fragment, which no server sees."""
    return class_page(request, class_id, "class.html")


@router.get("/classes/new", response_class=HTMLResponse)
def new_class(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "class_new.html", {"version": __version__})
