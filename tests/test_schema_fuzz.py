"""Schemathesis against our own OpenAPI schema: no 500s, no answer that breaks its schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from backend.api.app import create_app

from .conftest import make_settings

APP = create_app(make_settings(Path(tempfile.mkdtemp(prefix="schemathesis-")),
                               max_samples=300, max_units=8, max_layers=3,
                               max_wait_epochs=20, max_epochs_per_call=50,
                               max_predict_points=100, max_grid_resolution=30))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_fit_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance,
                                   content_type_conformance])
