"""Schemathesis against our own OpenAPI document: the document is valid OpenAPI 3.1, every
operation in it is fuzzed, every answer's status is one the document lists for it, no
5xx, every answer fits its schema, and data outside the schema is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.api.app import create_app

from .conftest import SMALL, make_settings

APP = create_app(make_settings(Path(tempfile.mkdtemp(prefix="schemathesis-")),
                               max_samples=300, max_units=8, max_layers=3,
                               max_wait_epochs=20, max_epochs_per_call=50,
                               max_predict_points=100, max_grid_resolution=30,
                               grid_resolution=20, max_wait_seconds=2))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance, response_headers_conformance, negative_data_rejection]
EXAMPLES = 20  # per operation and mode: about 25 s of CPU for the whole module
IMAGES = {"dataset": {"name": "shapes", "n_samples": 60, "classes": 2}, "features": [],
          "hidden_layers": [{"type": "conv", "filters": 2, "kernel": 3},
                            {"type": "pool", "size": 2}, {"units": 4}]}


def call(method: str, path: str, **parts: Any) -> Any:
    """A request through Schemathesis's own transport (the app and lifespan it fuzzes)."""
    return schema[path][method].Case(**parts).call()


class Real:
    """Things that exist, so that the fuzzed ids reach the routes' work and not only their
    404: a point and an image experiment, a share of each, a class with a student, each
    with its token."""

    def __init__(self) -> None:
        self.ids: dict[str, list[tuple[str, str]]] = {}  # path parameter -> (id, token)

    def ensure(self) -> None:
        """(Re)make whatever the operation fuzzed before deleted."""
        exps = [e for e in self.ids.get("exp_id", [])
                if self._there("/api/experiments/{exp_id}", exp_id=e[0])]
        for config in (SMALL, IMAGES)[len(exps):]:
            r = call("POST", "/api/experiments", body=config).json()
            exps.append((r["id"], r["edit_token"]))
        shares = [s for s in self.ids.get("share_id", [])
                  if self._there("/api/shares/{share_id}", share_id=s[0])]
        for exp_id, token in exps[len(shares):]:
            r = call("POST", "/api/experiments/{exp_id}/share", path_parameters={
                "exp_id": exp_id}, headers={"Authorization": f"Bearer {token}"})
            shares.append((r.json()["share_id"], ""))
        classes = self.ids.get("class_id") or []
        if not classes:
            r = call("POST", "/api/classes", body={"config": SMALL}).json()
            classes = [(r["id"], r["teacher_token"])]
        class_id, teacher = classes[0]
        students = call("GET", "/api/classes/{class_id}", path_parameters={
            "class_id": class_id}, headers={"Authorization": f"Bearer {teacher}"})
        live = [s for s in students.json()["students"] if s["status"] != "gone"]
        if not live:
            r = call("POST", "/api/classes/{class_id}/join", path_parameters={
                "class_id": class_id}, body={"name": f"ana {len(students.json()['students'])}"})
            live = [r.json()]
        self.ids = {"exp_id": exps, "share_id": shares, "class_id": classes,
                    "experiment_id": [(live[0]["experiment_id"], teacher)]}

    @staticmethod
    def _there(path: str, **ids: str) -> bool:
        return call("GET", path, path_parameters=ids).status_code == 200

    def variants(self, path: str) -> list[dict[str, Any]]:
        """Fixed parts for as_strategy: the real ids of the path's parameters, the k-th of
        each, without and with their token (the rest is generated)."""
        names = [name for name in self.ids if "{" + name + "}" in path]
        out: list[dict[str, Any]] = []
        for k in range(2 if names else 0):
            params = {name: self.ids[name][k % len(self.ids[name])][0] for name in names}
            token = next((self.ids[name][k % len(self.ids[name])][1] for name in names
                          if self.ids[name][k % len(self.ids[name])][1]), "")
            out.append({"path_parameters": params})
            if token:
                out.append({"path_parameters": params,
                            "headers": {"authorization": f"Bearer {token}"}})
        return out


REAL = Real()


def documented() -> set[str]:
    return {f"{method.upper()} {path}" for path, ops in APP.openapi()["paths"].items()
            for method in ops}


def test_the_document_is_valid_openapi() -> None:
    validate(APP.openapi())  # raises, naming the place, on any invalid part


def test_every_operation_is_fuzzed_and_answers_only_documented_statuses() -> None:
    covered: set[str] = set()
    answered: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation Schemathesis cannot read fails here
        REAL.ensure()
        spec = APP.openapi()["paths"][operation.path][operation.method.lower()]
        takes = spec.get("parameters") or spec.get("requestBody")  # or nothing to negate
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[:2 if takes else 1]:

            strategies = [operation.as_strategy(generation_mode=mode, **fixed)
                          for fixed in [{}, *REAL.variants(operation.path)]]

            @given(case=st.one_of(strategies))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def fuzz(case: schemathesis.Case) -> None:
                response = case.call_and_validate(checks=CHECKS)
                answered.setdefault(case.operation.label, set()).add(response.status_code)
                covered.add(case.operation.label)

            try:
                fuzz()
            except Exception as exc:
                exc.add_note(f"operation: {operation.label}, {mode.value} data")
                raise
    assert covered == documented()
    # The real ids reach past the lookups: most operations answered a 2xx at least once.
    succeeded = {label for label, statuses in answered.items() if min(statuses) < 300}
    assert len(succeeded) >= len(documented()) // 2, sorted(documented() - succeeded)


@pytest.mark.parametrize("name", ["circle", "spiral"])
def test_a_preview_fits_its_schema(name: str) -> None:
    """Its points were a tuple (prefixItems), which Schemathesis could not validate."""
    case = schema["/api/datasets/preview"]["GET"].Case(query={"name": name, "n": 5})
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 200
    assert all(len(point) == 2 for point in response.json()["x"])
