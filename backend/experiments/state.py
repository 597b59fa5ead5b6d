"""An experiment as plain data (for the store, exports and shares) and back.

A file from outside is checked in this order, so nothing it claims is allocated before
it is known to fit: the file's shape (ExportFile), the config against the server's
limits, then the model's arrays against the model that config builds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backend.engine import Backend

from .config import parse_config
from .dataset import Upload
from .experiment import Experiment, ExperimentError
from .history import History
from .limits import DEFAULT_LIMITS, Limits

FORMAT = "neural-playground-experiment/1"
MAX_HISTORY_ROWS = 2 * History().capacity


class HistoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stride: int = Field(1, ge=1, le=2**40, description="epochs between two rows")
    rows: list[dict[str, float | None]] = Field(default_factory=list,
                                                max_length=MAX_HISTORY_ROWS)

    @field_validator("rows")
    @classmethod
    def _epochs(cls, rows: list[dict[str, float | None]]) -> list[dict[str, float | None]]:
        last = -1.0
        for row in rows:
            epoch = row.get("epoch")
            if epoch is None or epoch != int(epoch) or epoch < last:
                raise ValueError("each row needs a whole 'epoch', in increasing order")
            last = epoch
        return rows


class ExportFile(BaseModel):
    """An experiment export (GET /export, POST /import): what one must hold."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["neural-playground-experiment/1"]
    config: dict[str, Any]
    model: dict[str, Any] = Field(description="weights, optimizer state, epoch, random state")
    history: HistoryFile = Field(default_factory=HistoryFile)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    status: Literal["paused", "running", "diverged"] = "paused"
    message: str = Field("", max_length=2000)
    created: float | None = None
    updated: float | None = None
    data: dict[str, Any] | None = Field(None, description="the uploaded points, if any, or "
                                       'images: {"kind": "images", "npz": base64}')


def to_state(exp: Experiment, with_data: bool = False) -> dict[str, Any]:
    """Config, model (weights, optimizer state), curve and status; the uploaded points
    themselves only `with_data` (exports and shares), else the data set's id suffices."""
    with exp.lock:
        state: dict[str, Any] = {
            "format": FORMAT, "config": exp.config.model_dump(mode="json"),
            "model": exp.model.to_dict(), "history": exp.history.to_dict(),
            "metrics": dict(exp.metrics), "status": exp.status, "message": exp.message,
            "created": exp.created, "updated": exp.updated,
        }
        upload = exp.upload
    if with_data and upload is not None:
        state["data"] = upload.to_json()
    return state


def check_state(state: Any) -> ExportFile:
    """The file's shape, or an ExperimentError naming the first thing wrong."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ExperimentError(f"not an experiment export: 'format' must be {FORMAT!r}")
    try:
        return ExportFile.model_validate(state)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ExperimentError(f"{where}: {first['msg']}") from None


def from_state(id: str, state: Any, upload: Upload | None, backend: Backend,
               limits: Limits = DEFAULT_LIMITS) -> Experiment:
    """Rebuild an experiment; anything inconsistent is an ExperimentError that says what."""
    file = check_state(state)
    try:
        config = parse_config(file.config, limits)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ExperimentError(f"config.{where}: {first['msg']}") from None
    exp = Experiment(id, config, upload, backend, measure=False)
    try:
        exp.model.load_dict(file.model)
    except ValueError as exc:
        raise ExperimentError(f"model: {exc}") from None
    if file.history.rows and file.history.rows[-1]["epoch"] > exp.epoch:  # type: ignore[operator]
        raise ExperimentError("history: it goes past the model's epoch")
    exp.history = History.from_dict(file.history.model_dump())
    exp.measure()  # the loaded weights, whatever the file says
    exp.status = "diverged" if file.status == "diverged" else "paused"
    exp.message = file.message
    exp.created = file.created if file.created is not None else exp.created
    exp.updated = file.updated if file.updated is not None else exp.updated
    exp.dirty = False  # as it was saved (an import is saved by the service at once)
    return exp
