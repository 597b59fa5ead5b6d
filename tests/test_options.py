"""One table per kind of option: the config, /api/meta and docs/config.md all agree with it.

Each option's parameters are declared once (backend.engine.params.Param, in the option's
own module) and the config's numbers once (BOUNDS in backend.experiments.config); these
tests prove that validation, the meta and the docs say what those tables say.

`python -m tests.test_options` rewrites the generated table in docs/config.md.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.api.app import create_app
from backend.data import DATASETS, FEATURES
from backend.data import MAX_CLASSES as DATA_MAX_CLASSES
from backend.engine import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYER_TYPES,
    LOSSES,
    OPTIMIZERS,
    REGULARIZERS,
    ModelSpec,
    SpecError,
)
from backend.engine.params import Param, ParamError, fmt
from backend.experiments.config import (
    BOUNDS,
    OPTIMIZER_PARAMS,
    InitConfig,
    OptimizerConfig,
    RegularizationConfig,
    bounds,
    parse_config,
)
from backend.experiments.limits import DEFAULT_LIMITS, Limits

from .conftest import make_settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"
BEGIN, END = "<!-- options table: generated -->\n", "<!-- end of options table -->"
# The kinds of option with a parameter table: the config field that names one -> registry.
KINDS: dict[str, Any] = {"loss": LOSSES, "init": INITIALIZERS, "optimizer": OPTIMIZERS,
                         "regularization": REGULARIZERS}
# Where each of BOUNDS sits in the config (and is a row of docs/config.md's table).
PATHS = {"n_samples": ["dataset.n_samples"], "noise": ["dataset.noise"],
         "train_fraction": ["dataset.train_fraction"], "classes": ["dataset.classes"],
         "seed": ["dataset.seed", "seed"], "learning_rate": ["optimizer.learning_rate"],
         "decay": ["optimizer.decay"], "batch_size": ["batch_size"],
         "regularization_rate": ["regularization.rate"], "dropout": ["dropout"]}
BASE = {"dataset": {"name": "blobs"}}  # the one data set where every bound can be reached


# the generated table ---------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def options_table() -> str:
    """Every option of every kind with its parameters, as docs/config.md shows them."""
    rows = ["| option | name | parameter | default | min .. max | meaning |",
            "|---|---|---|---|---|---|"]
    kinds = [("activation", {n: {} for n in ACTIVATIONS}, ACTIVATIONS)]
    kinds += [(kind, {n: e.params for n, e in reg.items()}, reg) for kind, reg in KINDS.items()]
    for kind, tables, registry in kinds:
        for name, table in tables.items():
            rows.append(f"| {kind} | {name} | | | | {_cell(registry.get(name).description)} |")
            rows += [f"| | | `{p}` | {fmt(spec.default)} | {fmt(spec.low)} .. {fmt(spec.high)} "
                     f"| {_cell(spec.description)} |" for p, spec in table.items()]
    for kind in LAYER_TYPES.values():  # hidden_layers entries: one table for all
        rows.append(f"| layer | {kind.name} | | | | {_cell(kind.description)} |")
        for f in kind.fields:
            shown = "required" if f.default is None else str(f.default).lower()
            if f.choices is None:
                rows.append(f"| | | `{f.name}` | {shown} | {fmt(f.low)} .. {fmt(f.high)} | "
                            f"{_cell(f.description)} |")
            else:
                allowed = ("a hidden activation" if f.name == "activation"
                           else " \\| ".join(str(c).lower() for c in f.choices))
                rows.append(f"| | | `{f.name}` | {shown} | {allowed} | {_cell(f.description)} |")
    return "\n".join(rows) + "\n"


def documented_table(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


def write_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + options_table() + text[end:], encoding="utf-8")


def test_the_docs_table_of_options_is_generated_from_the_registries() -> None:
    assert documented_table(DOC.read_text(encoding="utf-8")) == options_table(), (
        "docs/config.md is stale: run `python -m tests.test_options`")


# the hand-written table of fields ---------------------------------------------------------


def field_rows() -> dict[str, str]:
    """docs/config.md's table of fields: the first cell -> the rest of the row."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") or line.startswith("| hidden activations"):
            rows[cells[0]] = " | ".join(cells[1:])
    return rows


@pytest.mark.parametrize(("row", "names"), [
    ("`dataset.name`", list(DATASETS)),
    ("`features`", list(FEATURES)),
    ("hidden activations", [n for n, a in ACTIVATIONS.items() if a.hidden]),
    ("`loss`", list(LOSSES)),
    ("`init.name`", list(INITIALIZERS)),
    ("`optimizer.name`", list(OPTIMIZERS)),
    ("`regularization.name`", list(REGULARIZERS)),
    ("`dataset.classes`", [n for n, d in DATASETS.items() if d.max_classes > 2]),
])
def test_the_docs_list_every_name(row: str, names: list[str]) -> None:
    text = field_rows()[row]
    missing = [n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert not missing, f"docs/config.md's row {row} lacks {missing}"


def test_the_docs_name_every_optimizer_parameter_field() -> None:
    (cell,) = [c for c in field_rows() if c.startswith("`optimizer.momentum`")]
    assert set(re.findall(r"`(?:optimizer\.)?(\w+)`", cell)) == set(OPTIMIZER_PARAMS)


@pytest.mark.parametrize("name", BOUNDS)
def test_the_docs_give_each_bound_and_default(name: str) -> None:
    p, rows = BOUNDS[name], field_rows()
    for path in PATHS[name]:
        allowed, default = rows[f"`{path}`"].split(" | ")
        assert allowed.startswith(f"{fmt(p.low)} .. {fmt(p.high)}"), (path, allowed)
        assert default == fmt(p.default), (path, default)


def test_the_docs_give_the_default_limits() -> None:
    row = field_rows()["`hidden_layers`"]
    assert f"`max_layers` ({DEFAULT_LIMITS.max_layers})" in row
    assert f"`max_units` ({DEFAULT_LIMITS.max_units})" in row


# the config enforces the tables -----------------------------------------------------------


def _set(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


def _outside(p: Param) -> list[float]:
    """Values just past each bound."""
    if isinstance(p.high, int):
        return [p.low - 1, p.high + 1]
    return [p.low - 1e-3 * max(abs(p.low), 1), p.high + 1e-3 * max(abs(p.high), 1)]


def _refusal(config: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """The errors as the API words them: each field's path and its message."""
    with pytest.raises(ValidationError) as info:
        parse_config(config, limits)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in info.value.errors())


def test_bounds_is_what_the_fields_and_limits_allow() -> None:
    assert set(PATHS) == set(BOUNDS)
    assert bounds()["n_samples"] == BOUNDS["n_samples"]
    small = bounds(Limits(max_samples=300))
    assert small["n_samples"].high == small["batch_size"].high == 300


@pytest.mark.parametrize("name", BOUNDS)
@pytest.mark.parametrize("limits", [DEFAULT_LIMITS, Limits(max_samples=300)])
def test_the_config_takes_each_bound_and_refuses_past_it(name: str, limits: Limits) -> None:
    p = bounds(limits)[name]
    for path in PATHS[name]:
        for value in (p.low, p.high):
            config = parse_config(_set(BASE, path, value), limits)
            node: Any = config
            for key in path.split("."):
                node = getattr(node, key)
            assert node == value
        for value in _outside(p):
            assert path.split(".")[-1] in _refusal(_set(BASE, path, value), limits)


@pytest.mark.parametrize("name", BOUNDS)
def test_the_config_defaults_are_the_tables(name: str) -> None:
    config = parse_config({})
    for path in PATHS[name]:
        node: Any = config
        for key in path.split("."):
            node = getattr(node, key)
        assert node == BOUNDS[name].default


def _loss_context(loss: str) -> dict[str, Any]:
    """A config in which this loss fits the head, so only its parameters can be refused."""
    for head in ({"problem": "regression", "dataset": {"name": "reg-plane"}},
                 {"dataset": {"name": "circle"}},
                 {"dataset": {"name": "circle"}, "output_activation": "tanh"},
                 {"dataset": {"name": "blobs", "classes": 3}}):
        config = {**head, "loss": loss}
        try:
            parse_config(config)
        except ValidationError:
            continue
        return config
    raise AssertionError(f"no head fits loss {loss!r}")


def _with_params(kind: str, name: str, params: dict[str, float]) -> dict[str, Any]:
    if kind == "loss":
        return {**_loss_context(name), "loss_params": params}
    return {**BASE, kind: {"name": name, **params}}


OPTION_PARAMS = [(kind, name, p) for kind, reg in KINDS.items() for name, entry in reg.items()
                 for p in entry.params]


@pytest.mark.parametrize(("kind", "name", "param"), OPTION_PARAMS)
def test_each_parameter_is_checked_against_its_own_bounds(kind: str, name: str,
                                                          param: str) -> None:
    p = KINDS[kind].get(name).params[param]
    for value in (p.low, p.default, p.high):
        parse_config(_with_params(kind, name, {param: value}))
    for value in [*_outside(p), float("inf")]:
        message = _refusal(_with_params(kind, name, {param: value}))
        assert f"{kind} {name!r}: {param} must be between {fmt(p.low)} and {fmt(p.high)}" \
            in message


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, reg in KINDS.items() for n in reg])
def test_an_option_refuses_the_parameters_of_the_others(kind: str, name: str) -> None:
    own = KINDS[kind].get(name).params
    others = {p for _, entry in KINDS[kind].items() for p in entry.params} - set(own)
    for param in others | ({"bogus"} if kind == "loss" else set()):  # a dict, not fields
        message = _refusal(_with_params(kind, name, {param: 0.5}))
        takes = f"its parameters are {', '.join(own)}" if own else "it has no parameters"
        assert f"{kind} {name!r} takes no {param}; {takes}" in message


@pytest.mark.parametrize(("model", "fixed", "registry"), [
    (InitConfig, {"name", "recurrent"}, INITIALIZERS),
    (OptimizerConfig, {"name", "learning_rate", "decay", "clip_norm"}, OPTIMIZERS),
    (RegularizationConfig, {"name", "rate"}, REGULARIZERS)])
def test_every_parameter_of_the_tables_has_its_config_field(model: Any, fixed: set[str],
                                                            registry: Any) -> None:
    params = {p for _, entry in registry.items() for p in entry.params}
    assert set(model.model_fields) - fixed == params


def test_the_data_and_the_engine_agree_on_the_classes() -> None:
    assert DATA_MAX_CLASSES == BOUNDS["classes"].high == max(
        d.max_classes for d in DATASETS.values())


def test_he_with_a_scale_is_a_422_that_says_what_he_takes(client: TestClient) -> None:
    """Bug: the scale of an initializer that has none was accepted and silently ignored."""
    r = client.post("/api/experiments", json={"init": {"name": "he", "scale": 50}})
    assert r.status_code == 422, r.text
    assert "init 'he' takes no scale; it has no parameters" in r.json()["error"]
    r = client.post("/api/experiments", json={"init": {"name": "uniform", "scale": 101}})
    assert r.status_code == 422
    assert "init 'uniform': scale must be between 0 and 100, not 101" in r.json()["error"]
    r = client.post("/api/experiments", json={"loss": "mse", "loss_params": {"delta": 2}})
    assert r.status_code == 422
    assert "loss 'mse' takes no delta; it has no parameters" in r.json()["error"]


def test_the_engine_refuses_the_same_parameters() -> None:
    with pytest.raises(SpecError, match="init 'he' takes no scale"):
        ModelSpec(n_inputs=2, init="he", init_scale=50.0)
    with pytest.raises(SpecError, match="l1_ratio must be between 0 and 1"):
        ModelSpec(n_inputs=2, regularization="elastic_net", regularization_params={"l1_ratio": 2})
    with pytest.raises(ParamError, match="beta1 must be between"):
        OPTIMIZERS.get("adam")(beta1=1.5)


def test_a_hostile_parameter_name_is_shown_escaped_and_short() -> None:
    name = "\ud800" + "x" * 1000
    message = _refusal({"loss": "mse", "loss_params": {name: 1.0}})
    assert "\\ud800xxx" in message and "x" * 100 not in message


# /api/meta lists the tables ----------------------------------------------------------------


@pytest.mark.parametrize("max_samples", [10_000, 300])
def test_meta_lists_the_tables(tmp_path: Path, max_samples: int) -> None:
    settings = make_settings(tmp_path, max_samples=max_samples)
    with TestClient(create_app(settings)) as client:
        meta = client.get("/api/meta").json()
    for key, registry in [("losses", LOSSES), ("initializers", INITIALIZERS),
                          ("optimizers", OPTIMIZERS), ("regularizations", REGULARIZERS)]:
        assert [e["name"] for e in meta[key]] == list(registry)
        for entry in meta[key]:
            assert entry["params"] == {n: p.to_dict()
                                       for n, p in registry.get(entry["name"]).params.items()}
    assert [a["name"] for a in meta["activations"]] == list(ACTIVATIONS)
    assert meta["bounds"] == {n: [p.low, p.high] for n, p in bounds(settings.limits).items()}
    assert meta["bounds"]["n_samples"] == [2, max_samples]


def test_meta_and_health_have_response_models(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, name in [("/api/meta", "Meta"), ("/healthz", "Health")]:
        answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": f"#/components/schemas/{name}"}
    meta = schema["components"]["schemas"]["Meta"]["properties"]
    assert {"bounds", "optimizers", "limits"} <= set(meta)
    assert schema["components"]["schemas"]["ParamInfo"]["required"] == [
        "default", "min", "max", "description"]


if __name__ == "__main__":
    write_table()
