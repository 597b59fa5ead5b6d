"""Answers built from the domain's objects: one function per view, shared by the routes."""

from __future__ import annotations

from typing import Any

from backend.data import UserData
from backend.experiments.experiment import Experiment
from backend.experiments.service import Service


def snapshot(exp: Experiment) -> dict[str, Any]:
    """The fields an experiment and a share have in common, read under one lock."""
    with exp.lock:
        return {"config": exp.config.model_dump(mode="json"), "status": exp.status,
                "message": exp.message, "epoch": exp.epoch, "metrics": exp.public_metrics(),
                "learning_rate": exp.model.learning_rate, "n_classes": exp.data.n_classes,
                "extent": exp.extent(), "data_scale": exp.data.scale}


def experiment(exp: Experiment, service: Service) -> dict[str, Any]:
    return {**snapshot(exp), "id": exp.id, "revision": exp.revision,
            "running": service.running(exp)}


def history(exp: Experiment) -> dict[str, Any]:
    with exp.lock:
        return {"epoch": exp.epoch, **exp.history.to_dict()}


def points(exp: Experiment) -> dict[str, Any]:
    exp.require_points("points")
    with exp.lock:
        d, extent, upload = exp.data, exp.extent(), exp.upload
    own_split = isinstance(upload, UserData) and upload.x_test is not None
    return {"x_train": d.x_train.tolist(), "y_train": d.y_train.tolist(),
            "x_test": d.x_test.tolist(), "y_test": d.y_test.tolist(),
            "n_classes": d.n_classes, "extent": extent, "scale": d.scale,
            "own_split": own_split}
