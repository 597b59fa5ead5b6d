"""Property tests: whatever arrives, validation either accepts something the engine can
build, or refuses with its own error. Never another exception."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from backend.data import DataError, UserData, parse_csv, parse_json
from backend.engine import Model
from backend.experiments.config import parse_config
from backend.experiments.limits import Limits

SMALL = Limits(max_layers=3, max_units=8, max_samples=200)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)

NAMES = {
    "problem": st.sampled_from(["classification", "regression", "other", 3]),
    "dataset": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["circle", "xor", "spiral", "blobs", "reg-plane", "custom",
                                 "nope"]),
        "n_samples": st.integers(-5, 400), "noise": st.floats(-1, 1),
        "train_fraction": st.floats(0, 1), "classes": st.integers(0, 12),
        "seed": st.integers(-1, 2**33)}),
    "features": st.lists(st.sampled_from(["x1", "x2", "x1_x2", "sin_x1", "x9"]), max_size=4),
    "hidden_layers": st.lists(st.fixed_dictionaries(
        {"units": st.integers(-2, 12)},
        optional={"activation": st.sampled_from(["tanh", "relu", "softmax", "gelu", "??"])}),
        max_size=4),
    "output_activation": st.sampled_from(["auto", "sigmoid", "softmax", "tanh", "relu"]),
    "loss": st.sampled_from(["auto", "mse", "hinge", "cross_entropy",
                             "binary_cross_entropy", "huber", "x"]),
    "optimizer": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["sgd", "adam", "momentum", "rmsprop", "bogus"]),
        "learning_rate": st.floats(-1, 20), "beta1": st.floats(-1, 2),
        "momentum": st.floats(-1, 2)}),
    "batch_size": st.one_of(st.integers(-1, 300), st.just("full"), st.just("half")),
    "regularization": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["none", "l1", "l2", "elastic_net", "l3"]),
        "rate": st.floats(-1, 20), "l1_ratio": st.floats(-1, 2)}),
    "dropout": st.floats(-1, 2), "batch_norm": st.booleans(), "seed": st.integers(-1, 10),
}
configs = st.one_of(json_values, st.fixed_dictionaries({}, optional={**NAMES, "extra": scalars}))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(configs)
def test_config_is_accepted_and_buildable_or_refused(data: Any) -> None:
    try:
        config = parse_config(data, SMALL)
    except ValidationError:
        return
    spec = config.to_spec()
    model = Model(spec)  # anything accepted must build
    assert model.spec.n_inputs == len(config.features)


rows = st.lists(st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-9, 9),
                                   st.text(max_size=4)), min_size=0, max_size=5), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["x1", "x2", "y", "split", "z", ""]), max_size=5), rows)
def test_csv_is_parsed_or_refused_with_a_data_error(header: list[str], body: list[list]) -> None:
    text = ",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in body)
    try:
        data = parse_csv(text)
    except DataError as exc:
        assert str(exc)
        return
    check_user_data(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_as_csv(text: str) -> None:
    with contextlib.suppress(DataError):
        check_user_data(parse_csv(text))


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "x": st.lists(st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=2)),
                           max_size=3), max_size=6),
    "y": st.lists(st.one_of(st.floats(), st.integers(-2, 12), st.booleans()), max_size=6),
    "x_test": st.lists(st.lists(st.floats(), max_size=3), max_size=3),
    "y_test": st.lists(st.integers(-1, 3), max_size=3)})))
def test_json_upload_is_parsed_or_refused(obj: Any) -> None:
    with contextlib.suppress(DataError):
        check_user_data(parse_json(obj))


def check_user_data(data: UserData) -> None:
    assert data.x_train.ndim == 2 and data.x_train.shape[1] == 2
    assert len(data.x_train) == len(data.y_train) >= 2
    assert np.isfinite(data.x_train).all() and np.isfinite(data.y_train).all()
    if data.problem == "classification":
        assert 2 <= data.n_classes <= 10
        assert data.y_train.min() >= 0 and data.y_train.max() < data.n_classes
    if data.x_test is not None:
        assert data.x_test.shape[1] == 2 and len(data.x_test) == len(data.y_test)
