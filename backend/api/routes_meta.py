"""/api/meta and /healthz: every option with its parameters and bounds, and the limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.data import DATASETS, FEATURES
from backend.engine import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    MAX_CLASSES,
    OPTIMIZERS,
    REGULARIZERS,
)

from .deps import ServiceDep, SettingsDep

router = APIRouter(tags=["meta"])


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {name: p.to_dict() for name, p in params.items()}


@router.get("/api/meta")
def meta(settings: SettingsDep, service: ServiceDep) -> dict[str, Any]:
    return {
        "problems": ["classification", "regression"],
        "datasets": [{"name": d.name, "problem": d.problem, "description": d.description,
                      "min_classes": d.min_classes, "max_classes": d.max_classes}
                     for d in DATASETS.values()],
        "features": [{"name": f.name, "label": f.label, "description": f.description}
                     for f in FEATURES.values()],
        "activations": [{"name": a.name, "hidden": a.hidden, "description": a.description}
                        for _, a in ACTIVATIONS.items()],
        "losses": [{"name": n, "description": loss.description, "needs": loss.needs or None,
                    "params": _params(loss.params)} for n, loss in LOSSES.items()],
        "initializers": [{"name": n, "description": i.description, "params": _params(i.params)}
                         for n, i in INITIALIZERS.items()],
        "optimizers": [{"name": n, "description": o.description, "params": _params(o.hyper)}
                       for n, o in OPTIMIZERS.items()],
        "regularizations": [{"name": n, "description": r.description,
                             "params": _params(r.params)} for n, r in REGULARIZERS.items()],
        "bounds": {"noise": [0.0, 0.5], "train_fraction": [0.1, 0.9],
                   "learning_rate": [0.0, 10.0], "decay": [0.0, 10.0],
                   "regularization_rate": [0.0, 10.0], "dropout": [0.0, 0.9],
                   "classes": [2, MAX_CLASSES], "batch_size": [1, settings.max_samples]},
        "limits": {**settings.limits.to_dict(),
                   "max_grid_resolution": settings.max_grid_resolution,
                   "grid_resolution": settings.grid_resolution,
                   "neuron_resolution": settings.neuron_resolution,
                   "max_predict_points": settings.max_predict_points,
                   "max_upload_bytes": settings.max_upload_bytes,
                   "max_running": settings.max_running, "max_viewers": settings.max_viewers,
                   "max_wait_epochs": settings.max_wait_epochs,
                   "frame_rate": settings.frame_rate, "idle_stop_seconds": settings.idle_stop},
        "device": service.backend.device,
    }


@router.get("/healthz")
def healthz(service: ServiceDep) -> dict[str, Any]:
    return {"status": "ok", "device": service.backend.device,
            "experiments_loaded": len(service.experiments),
            "running": len(service.runner.runs)}
