"""/api/lessons: the course's ready-made experiments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.experiments.lessons import LESSONS

from .errors import responses
from .schemas import LessonView

router = APIRouter(prefix="/api/lessons", tags=["lessons"])


@router.get("", response_model=list[LessonView], responses=responses())
def lessons() -> list[dict[str, Any]]:
    return [lesson.to_dict() for lesson in LESSONS.values()]
