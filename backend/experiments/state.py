"""An experiment as plain data (for the store, exports and shares) and back."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from backend.data import UserData
from backend.engine import Backend, Model

from .config import parse_config
from .experiment import Experiment, ExperimentError
from .history import History
from .limits import DEFAULT_LIMITS, Limits

FORMAT = "neural-playground-experiment/1"


def to_state(exp: Experiment, with_data: bool = False) -> dict[str, Any]:
    """Config, model (weights, optimizer state), curve and status; the uploaded points
    themselves only `with_data` (exports and shares), else the data set's id suffices."""
    with exp.lock:
        state: dict[str, Any] = {
            "format": FORMAT, "config": exp.config.model_dump(mode="json"),
            "model": exp.model.to_dict(), "history": exp.history.to_dict(),
            "metrics": exp.metrics, "status": exp.status, "message": exp.message,
            "created": exp.created, "updated": exp.updated,
        }
    if with_data and exp.upload is not None:
        state["data"] = exp.upload.to_json()
    return state


def from_state(id: str, state: dict[str, Any], upload: UserData | None, backend: Backend,
               limits: Limits = DEFAULT_LIMITS) -> Experiment:
    """Rebuild an experiment; anything inconsistent is an ExperimentError that says what."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ExperimentError(f"not an experiment export: 'format' must be {FORMAT!r}")
    try:
        config = parse_config(state["config"], limits)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ExperimentError(f"config.{where}: {first['msg']}") from None
    except KeyError:
        raise ExperimentError("the export has no 'config'") from None
    exp = Experiment(id, config, upload, backend)
    try:
        model = Model.from_dict(state["model"], backend)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ExperimentError(f"the saved model cannot be loaded: {exc}") from None
    if model.spec != exp.model.spec:
        raise ExperimentError("the saved model does not match its config")
    exp.model = model
    exp.history = History.from_dict(state.get("history") or {})
    exp.metrics = dict(state.get("metrics") or exp.metrics)
    exp.status = state.get("status") if state.get("status") == "diverged" else "paused"
    exp.message = str(state.get("message", ""))
    exp.created = float(state.get("created", exp.created))
    exp.updated = float(state.get("updated", exp.updated))
    return exp
