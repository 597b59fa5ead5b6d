"""/openapi.json: FastAPI's document with the bounds this server enforces in its schemas.

A bound that a setting sets (max_grid_resolution, say) is declared where its parameter
is, with `limit(name)`; the document takes the setting's value when it is built. The
config's bounds and choices come from the tables that validate it (backend/experiments/
config.py, the registries), with this server's limits, as /api/meta lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.data import DATASETS, FEATURES
from backend.data.images import IMAGE_SETS, MAX_SIDE
from backend.data.sequences import SEQUENCE_SETS
from backend.engine import ACTIVATIONS, INITIALIZERS, LAYER_TYPES, LOSSES, OPTIMIZERS, REGULARIZERS
from backend.experiments.config import bounds, layer_field
from backend.experiments.limits import Limits
from backend.settings import Settings

LIMIT = "x-limit"  # names the setting whose value a bound is
NUMBER = ("integer", "number")


def limit(name: str) -> dict[str, Any]:
    """json_schema_extra for a parameter or field at most the setting `name` (a number's
    maximum, an array's maxItems)."""
    return {LIMIT: name}


def document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        _limits(doc, settings)
        _config(doc["components"]["schemas"], settings.limits)
        app.openapi_schema = doc
    return app.openapi_schema


def _branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node itself, or the branches of its anyOf (an optional value: X or null)."""
    return [b for b in node.get("anyOf", [node]) if isinstance(b, dict)]


def bound(node: dict[str, Any], low: float | None = None, high: float | None = None) -> None:
    """A number's or an array's bounds, on whichever of the node's branches they fit. A
    default that the bounds leave out (n_samples' 500 on a server of max_samples 300) is
    no default there: a config without that field is refused."""
    default = node.get("default")
    if isinstance(default, int | float) and not isinstance(default, bool) and (
            (low is not None and default < low) or (high is not None and default > high)):
        del node["default"]
    for branch in _branches(node):
        kind = branch.get("type")
        if kind in NUMBER:
            if low is not None:
                branch["minimum"] = low
            if high is not None:
                branch["maximum"] = high
        elif kind == "array":
            if low is not None:
                branch["minItems"] = int(low)
            if high is not None:
                branch["maxItems"] = int(high)


def _limits(node: Any, settings: Settings) -> None:
    if isinstance(node, dict):
        if isinstance(node.get(LIMIT), str):
            bound(node, high=getattr(settings, node[LIMIT]))
        for value in node.values():
            _limits(value, settings)
    elif isinstance(node, list):
        for value in node:
            _limits(value, settings)


def _choices(node: dict[str, Any], names: list[str]) -> None:
    for branch in _branches(node):
        if branch.get("type") == "string" and "const" not in branch:
            branch["enum"] = names
        elif branch.get("type") == "array":
            _choices(branch["items"], names)


def _config(schemas: dict[str, Any], limits: Limits) -> None:
    """The config's numbers and names as its validators check them."""
    fields = {"DatasetConfig": ("n_samples", "noise", "train_fraction", "seed", "classes"),
              "OptimizerConfig": ("learning_rate", "decay"),
              "ExperimentConfig": ("batch_size", "dropout", "seed")}
    params = bounds(limits)
    for model, names in fields.items():
        for name in names:
            bound(schemas[model]["properties"][name], params[name].low, params[name].high)
    low, high = params["regularization_rate"].low, params["regularization_rate"].high
    bound(schemas["RegularizationConfig"]["properties"]["rate"], low, high)
    layer = schemas["LayerConfig"]["properties"]
    for name in layer:  # a field several types share takes the widest of their bounds
        fields = [layer_field(f, limits) for kind in LAYER_TYPES.values()
                  for f in kind.fields if f.name == name and f.choices is None]
        if fields:
            high = max(max(f.high for f in fields), limits.max_units if name == "units" else 0)
            bound(layer[name], min(f.low for f in fields), high)
    bound(schemas["ExperimentConfig"]["properties"]["hidden_layers"], high=limits.max_layers)
    bound(schemas["DatasetConfig"]["properties"]["side"],
          min(s.sides[0] for s in IMAGE_SETS.values()), MAX_SIDE)
    bound(schemas["DatasetConfig"]["properties"]["length"],
          min(s.lengths[0] for s in SEQUENCE_SETS.values()),
          max(s.lengths[1] for s in SEQUENCE_SETS.values()))
    hidden = [n for n, a in ACTIVATIONS.items() if a.hidden]
    for model, name, names in (
            ("DatasetConfig", "name", [*DATASETS, *IMAGE_SETS, *SEQUENCE_SETS, "custom"]),
            ("ExperimentConfig", "features", list(FEATURES)),
            ("ExperimentConfig", "output_activation", ["auto", *ACTIVATIONS]),
            ("ExperimentConfig", "loss", ["auto", *LOSSES]),
            ("LayerConfig", "activation", hidden),
            ("InitConfig", "name", list(INITIALIZERS)),
            ("OptimizerConfig", "name", list(OPTIMIZERS)),
            ("RegularizationConfig", "name", list(REGULARIZERS))):
        _choices(schemas[model]["properties"][name], names)
