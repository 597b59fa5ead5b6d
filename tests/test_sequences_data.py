"""Sequence data (issue 19, "Data"): the built-in sets sine, waves and MNIST-1D, the
dataset.length field and its checks, uploads of sequences as an NPZ, and build_data."""

from __future__ import annotations

import base64
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.api.app import create_app
from backend.data import DataError
from backend.data import npz as npz_module
from backend.data.images import parse_npz
from backend.data.sequences import (
    DIGIT_OUTLINES,
    MAX_CHANNELS,
    SEQUENCE_SETS,
    WAVES,
    _resample,
    _smoothed,
    mnist1d,
    parse_sequences_npz,
    sequence_set,
)
from backend.experiments.config import parse_config
from backend.experiments.dataset import (
    ImageUpload,
    SequenceUpload,
    build_data,
    read_upload,
)
from backend.experiments.service import merge_config

from .conftest import make_settings


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def refusal(config: Any) -> str:
    with pytest.raises(ValidationError) as info:
        parse_config(config)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in info.value.errors())


# the built-in sets -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs", "x_shape", "y_shape", "y_dtype"), [
    ("sine", {}, (30, 40, 1), (30, 40), np.float32),
    ("sine", {"length": 100}, (30, 100, 1), (30, 100), np.float32),
    ("waves", {"length": 12, "classes": 4}, (30, 12, 1), (30,), np.int64),
    ("mnist1d", {}, (5000, 40, 1), (5000,), np.int64),
])
def test_each_set_has_its_shapes_and_dtypes(name: str, kwargs: dict[str, Any],
                                            x_shape: tuple[int, ...], y_shape: tuple[int, ...],
                                            y_dtype: type) -> None:
    s = sequence_set(name, 30, 0.1, 3, **kwargs)
    assert s.x.shape == x_shape and s.x.dtype == np.float32
    assert s.y.shape == y_shape and s.y.dtype == y_dtype
    assert s.problem == SEQUENCE_SETS[name].problem
    assert s.per_step == SEQUENCE_SETS[name].per_step
    assert np.isfinite(s.x).all()


@pytest.mark.parametrize("name", list(SEQUENCE_SETS))
def test_the_same_seed_gives_the_same_sequences_and_another_other_ones(name: str) -> None:
    a, b = sequence_set(name, 50, 0.1, 7), sequence_set(name, 50, 0.1, 7)
    c = sequence_set(name, 50, 0.1, 8)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.allclose(a.x, c.x)


def test_the_sine_target_is_the_next_value_of_the_clean_wave() -> None:
    clean = sequence_set("sine", 40, 0.0, 1, length=50)
    assert np.array_equal(clean.y[:, :-1], clean.x[:, 1:, 0])  # y_t = x_{t+1}
    noisy = sequence_set("sine", 40, 0.2, 1, length=50)
    assert np.array_equal(noisy.y, clean.y)  # the noise is on the input only
    residual = noisy.x[:, 1:, 0] - clean.y[:, :-1]
    amplitude = np.abs(clean.x[:, :, 0]).max(axis=1, keepdims=True)
    assert 0.15 < (residual / amplitude).std() < 0.25  # 0.2 x the amplitude
    # each is a sine: a period of 1 to 4 cycles per length, amplitude 0.5 to 1
    assert amplitude.min() > 0.45 and amplitude.max() <= 1.0
    spectrum = np.abs(np.fft.rfft(clean.x[:, :, 0], n=50 * 8, axis=1))
    peak = spectrum.argmax(axis=1) / 8  # cycles in 50 steps
    assert peak.min() >= 0.7 and peak.max() <= 4.3


def test_waves_are_balanced_and_each_class_has_its_shape() -> None:
    s = sequence_set("waves", 203, 0.0, 2, classes=4, length=80)
    assert s.classes == WAVES
    assert sorted(np.bincount(s.y).tolist()) == [50, 51, 51, 51]
    x = s.x[:, :, 0]
    amplitude = np.abs(x).max(axis=1)
    level = np.abs(x) / amplitude[:, None]
    square = s.y == WAVES.index("square")
    assert np.allclose(level[square], 1.0)  # only +-amplitude
    assert (np.abs(level[~square] - 1.0) > 0.1).mean(axis=1).min() > 0.5
    # the share of steps near the peaks tells sine (it lingers there) from triangle
    near_top = (level > 0.9).mean(axis=1)
    sine, triangle = s.y == 0, s.y == 1
    assert near_top[sine].mean() > near_top[triangle].mean() + 0.1
    # a sawtooth rises slowly and falls in one step
    saw = x[s.y == WAVES.index("sawtooth")]
    steps = np.diff(saw, axis=1)
    assert ((steps > 0).mean(axis=1) > 0.8).all()
    two = sequence_set("waves", 50, 0.0, 2)
    assert set(two.y.tolist()) == {0, 1} and two.classes == ("sine", "triangle")


def test_lengths_and_classes_out_of_range_say_what_is_allowed() -> None:
    with pytest.raises(DataError, match="sine can be had at 10 to 200 steps, not 5"):
        sequence_set("sine", 10, length=5)
    with pytest.raises(DataError, match="mnist1d is 40 steps long, not 60"):
        sequence_set("mnist1d", 10, length=60)
    with pytest.raises(DataError, match="waves has 2 to 4 classes"):
        sequence_set("waves", 10, classes=5)
    with pytest.raises(DataError, match="unknown sequence set 'tides'"):
        sequence_set("tides", 10)


# MNIST-1D ------------------------------------------------------------------------------------


def test_the_recipes_smoothing_and_resampling_do_what_they_say() -> None:
    impulse = np.zeros((1, 41))
    impulse[0, 20] = 1.0
    kernel = _smoothed(impulse, 2.0)[0]
    expected = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    assert np.allclose(kernel[12:29], expected / expected.sum())
    assert np.allclose(_smoothed(np.full((2, 30), 3.0), 2.0), 3.0)  # mirrored edges: no leak
    ramp = np.arange(72, dtype=float)[None]
    out = _resample(ramp, 40)
    assert np.allclose(out, np.linspace(0, 71, 40))  # first and last kept, linear between


def test_mnist1d_is_500_digits_a_class_standardized_over_the_set() -> None:
    s = mnist1d(0)
    assert s.classes == tuple(str(d) for d in range(10))
    assert np.bincount(s.y).tolist() == [500] * 10
    assert abs(float(s.x.mean())) < 1e-4 and abs(float(s.x.std()) - 1) < 1e-4
    # as in the paper's figure (and its published set: p1 -2.78, p99 2.76, lag-1 0.82)
    p1, p99 = np.percentile(s.x, [1, 99])
    assert -3.2 < p1 < -2.3 and 2.3 < p99 < 3.2
    x = s.x[:, :, 0]
    lag1 = np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1]
    assert 0.75 < lag1 < 0.9  # smooth curves, from a smooth outline and correlated noise
    assert not s.x.flags.writeable  # cached: nobody may change it for the next caller


def test_mnist1d_classes_differ_on_average_but_overlap_one_by_one() -> None:
    s = mnist1d(0)
    x = s.x[:, :, 0]
    means = np.stack([x[s.y == k].mean(0) for k in range(10)])
    between = means.std(axis=0).mean()
    within = np.mean([x[s.y == k].std(axis=0).mean() for k in range(10)])
    assert between > 0.15 and within > 3 * between  # shifted and noised past recognition
    # digit 0's outline stays above its start, digit 6's below: so do their class means
    assert (DIGIT_OUTLINES[0] >= 5).all() and (DIGIT_OUTLINES[6] <= 5).all()
    assert means[0].mean() > means[6].mean() + 0.3


def _softmax_regression(x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                        y_test: np.ndarray) -> float:
    """Test accuracy of multinomial logistic regression by full-batch gradient descent."""
    x, x_test = np.c_[x, np.ones(len(x))], np.c_[x_test, np.ones(len(x_test))]
    w = np.zeros((x.shape[1], 10))
    onehot = np.eye(10)[y]
    for _ in range(300):
        z = x @ w
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w -= 0.5 * (x.T @ (p - onehot) / len(x) + 1e-3 * w)
    return float((np.argmax(x_test @ w, axis=1) == y_test).mean())


def test_a_linear_classifier_beats_chance_by_far_but_stays_far_from_perfect() -> None:
    """The paper's logistic regression gets 32 % (MLP 68 %, CNN 94 %): MNIST-1D tells
    linear models from nonlinear ones, which is what it was made for."""
    s = mnist1d(0)
    x, y = s.x[:, :, 0].astype(np.float64), s.y
    accuracy = _softmax_regression(x[:4000], y[:4000], x[4000:], y[4000:])
    assert 0.22 < accuracy < 0.45, accuracy  # 0.317 measured; chance is 0.10


# the config --------------------------------------------------------------------------------


def test_a_sequence_set_takes_no_features_and_its_own_classes() -> None:
    c = parse_config({"dataset": {"name": "mnist1d"}})
    assert c.features == [] and c.dataset.classes == 10 and c.input_kind == "sequences"
    assert c.dataset.sequence_shape == (40, 1) and c.dataset.length is None
    c = parse_config({"dataset": {"name": "waves", "length": 90}})
    assert c.dataset.classes == 2 and c.dataset.sequence_shape == (90, 1)
    c = parse_config({"dataset": {"name": "sine"}, "problem": "regression"})
    assert c.n_classes == 1 and c.input_kind == "sequences"
    assert parse_config({"dataset": {"name": "mnist1d", "length": 40}}).dataset.length == 40
    dumped = parse_config({"dataset": {"name": "waves", "length": 90}}).model_dump()
    assert parse_config(dumped).dataset.length == 90
    assert parse_config({}).input_kind == "points"


@pytest.mark.parametrize(("config", "words"), [
    ({"dataset": {"name": "sine"}},
     "data set 'sine' is for regression; set problem to 'regression'"),
    ({"dataset": {"name": "waves"}, "problem": "regression"},
     "data set 'waves' is for classification; set problem to 'classification'"),
    ({"dataset": {"name": "waves", "classes": 5}}, "data set 'waves' has 2 to 4 classes, not 5"),
    ({"dataset": {"name": "mnist1d", "classes": 3}}, "data set 'mnist1d' has 10 classes, not 3"),
    ({"dataset": {"name": "sine", "classes": 3}, "problem": "regression"},
     "is a regression set: it has no classes"),
    ({"dataset": {"name": "mnist1d", "length": 50}},
     "length: mnist1d is 40 steps long, always; send 40 or null"),
    ({"dataset": {"name": "sine", "length": 300}, "problem": "regression"},
     "length: sine can be had at 10 to 200 steps, not 300"),
    ({"dataset": {"name": "waves", "length": 9}}, "waves can be had at 10 to 200 steps, not 9"),
    ({"dataset": {"name": "circle", "length": 40}},
     "length is for the built-in sequence sets (sine, waves, mnist1d): 'circle' has no steps"),
    ({"dataset": {"name": "digits", "length": 40}, "features": []},
     "length is for the built-in sequence sets"),
    ({"dataset": {"name": "waves"}, "features": ["x1"]},
     "data set 'waves' is sequences, which have no x1, x2 features: send []"),
    ({"dataset": {"name": "waves", "length": "40"}}, "dataset.length"),
])
def test_bad_sequence_configs_are_refused_with_what_to_set(config: dict[str, Any],
                                                           words: str) -> None:
    assert words in refusal(config)


def test_bad_sequence_configs_are_422_over_http(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        r = client.post("/api/experiments", json={"dataset": {"name": "mnist1d", "length": 50}})
        assert r.status_code == 422 and "40 steps long" in r.json()["error"]


# uploads -----------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Any:
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


def upload(client: TestClient, raw: bytes, **params: str) -> Any:
    return client.post("/api/datasets", params={"kind": "sequences", **params}, content=raw,
                       headers={"content-type": "application/octet-stream"})


def stored(client: TestClient, ds_id: str) -> Any:
    return read_upload(client.app.state.service.store.load_dataset(ds_id))  # type: ignore[attr-defined]


def test_a_sequence_upload_of_classes_is_stored_and_read_back(client: TestClient) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 25)).astype(np.float32), np.arange(30) % 3
    r = upload(client, npz(x=x, y=y))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"id": body["id"], "kind": "sequences", "problem": "classification",
                    "n_classes": 3, "n_train": 30, "n_test": 0, "shape": [25, 1],
                    "per_step": False,
                    "use": {"dataset": {"name": "custom", "id": body["id"]},
                            "problem": "classification", "features": []}}
    back = stored(client, body["id"])
    assert isinstance(back, SequenceUpload)
    assert np.array_equal(back.sequences.x[:, :, 0], x) and np.array_equal(back.sequences.y, y)
    assert back.sequences.classes == ("0", "1", "2")


def test_per_step_values_with_channels_and_a_test_part(client: TestClient) -> None:
    rng = np.random.default_rng(1)
    x, x_test = rng.standard_normal((20, 15, 3)), rng.standard_normal((6, 15, 3))
    y, y_test = rng.standard_normal((20, 15)), rng.standard_normal((6, 15))
    r = upload(client, npz(x=x, y=y, x_test=x_test, y_test=y_test))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["problem"], body["n_classes"], body["shape"], body["per_step"],
            body["n_train"], body["n_test"]) == ("regression", 1, [15, 3], True, 20, 6)
    s = stored(client, body["id"]).sequences
    assert s.x.dtype == np.float32 and s.y.dtype == np.float32
    assert np.allclose(s.x_test, x_test) and np.allclose(s.y_test, y_test, atol=1e-6)


def test_whole_numbers_are_classes_unless_the_problem_says_values(client: TestClient) -> None:
    raw = npz(x=np.zeros((10, 8)), y=np.arange(10.0) % 2)  # 0.0 / 1.0: classes
    assert upload(client, raw).json()["problem"] == "classification"
    r = upload(client, raw, problem="regression")
    assert r.status_code == 201 and r.json()["problem"] == "regression"
    assert r.json()["n_classes"] == 1
    back = stored(client, r.json()["id"])  # the problem is stored: y alone says classes
    assert back.problem == "regression" and back.sequences.y.dtype == np.float32
    r = upload(client, npz(x=np.zeros((4, 8)), y=np.array([0.5, 1, 2, 3])))
    assert r.json()["problem"] == "regression"


def test_a_sequence_upload_may_come_as_a_form(client: TestClient) -> None:
    raw = npz(x=np.zeros((10, 8)), y=np.arange(10) % 2)
    r = client.post("/api/datasets", params={"kind": "sequences"}, files={"npz": ("s.npz", raw)})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "sequences"
    r = client.post("/api/datasets", params={"kind": "sequences"},
                    files={"images": ("s.npz", raw)})
    assert r.status_code == 422 and "the form's file 'npz'" in r.json()["error"]


X, Y = np.zeros((10, 8)), np.arange(10) % 2


@pytest.mark.parametrize(("arrays", "params", "words"), [
    ({"x": np.zeros(10), "y": Y}, {}, "x must be (n, T) or (n, T, C)"),
    ({"x": np.zeros((10, 8, 8, 1)), "y": Y}, {},
     "images go to POST /api/datasets without kind=sequences"),
    ({"x": X, "y": np.zeros((10, 8, 2))}, {}, "y must be (n,), a class or value per sequence"),
    ({"x": X, "y": Y[:9]}, {}, "x holds 10 sequences but y 9 targets"),
    ({"x": X, "y": np.zeros((10, 7))}, {}, "y has 7 steps but x 8"),
    ({"x": X[:1], "y": Y[:1]}, {}, "send 2 to 10000 sequences, not 1"),
    ({"x": np.zeros((10, 1)), "y": Y}, {}, "2 to 1000 steps long, not 1"),
    ({"x": np.zeros((10, 4, MAX_CHANNELS + 1)), "y": Y}, {}, "1 to 16 values per step"),
    ({"x": X, "y": Y, "x_test": X}, {}, "send x_test and y_test together"),
    ({"x": X, "y": Y, "x_test": np.zeros((3, 9)), "y_test": Y[:3]}, {},
     "x_test is 3 x 9 but x is 10 x 8: test sequences need the same 8 steps"),
    ({"x": X, "y": Y, "x_test": np.zeros((3, 8)), "y_test": np.zeros((3, 8))}, {},
     "y_test is 3 x 8 but y is 10: targets per step in both"),
    ({"x": X, "y": Y, "x_test": np.zeros((0, 8)), "y_test": Y[:0]}, {},
     "x_test holds no sequences"),
    ({"x": np.where(np.eye(10, 8) > 0, np.nan, 0.0), "y": Y}, {},
     "x holds NaN or infinite values"),
    ({"x": X, "y": np.where(Y > 0, np.inf, 0.5)}, {}, "y holds NaN or infinite values"),
    ({"x": X + 2e6, "y": Y}, {}, "x holds values beyond +-1e+06: scale them down"),
    ({"x": np.full((10, 8), np.iinfo(np.int64).min), "y": Y}, {}, "x holds values beyond"),
    ({"x": X, "y": np.array([0, 1, 3] * 3 + [0])}, {}, "classes must be 0..k-1 with each in "
                                                       "y; missing [2]"),
    ({"x": X, "y": np.zeros(10, int)}, {}, "every y is 0: classification needs at least 2"),
    ({"x": X, "y": Y + 0.5}, {"problem": "classification"},
     "for classification, y must hold classes: whole numbers 0 to 9"),
    ({"x": X, "y": Y, "x_test": X[:3], "y_test": np.array([0, 1, 2])}, {},
     "y_test holds class 2, which y never has (its classes are 0 to 1)"),
    ({"x": X.astype(str), "y": Y}, {}, "x.npy holds <U32; send numbers"),
    ({"x": X}, {}, "the NPZ needs an array named 'y'"),
])
def test_bad_sequence_uploads_are_a_422_that_says_what_to_fix(
        client: TestClient, arrays: dict[str, np.ndarray], params: dict[str, str],
        words: str) -> None:
    r = upload(client, npz(**arrays), **params)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]


def test_not_an_npz_and_a_bad_problem_are_422(client: TestClient) -> None:
    r = upload(client, b"x,y\n1,2\n")
    assert r.status_code == 422 and "not an NPZ file" in r.json()["error"]
    r = upload(client, npz(x=X, y=Y), problem="ranking")
    assert r.status_code == 422


def test_sequence_upload_limits_come_from_the_settings(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_samples=20,
                                             max_image_values=2_000))) as client:
        r = upload(client, npz(x=np.zeros((21, 8)), y=np.arange(21) % 2))
        assert r.status_code == 422 and "send 2 to 20 sequences, not 21" in r.json()["error"]
        r = upload(client, npz(x=np.zeros((15, 8)), y=np.arange(15) % 2,
                               x_test=np.zeros((6, 8)), y_test=np.arange(6) % 2))
        assert r.status_code == 422 and "15 + 6 sequences in all" in r.json()["error"]
        r = upload(client, npz(x=np.zeros((20, 101)), y=np.arange(20) % 2))
        assert r.status_code == 422 and "2020 values in all (x and x_test) is over the " \
            "limit of 2000" in r.json()["error"]
        r = upload(client, npz(x=np.zeros((20, 100)), y=np.arange(20) % 2))
        assert r.status_code == 201, r.text
    with TestClient(create_app(make_settings(tmp_path / "b", max_upload_bytes=5_000))) as client:
        noise = np.random.default_rng(0).standard_normal((100, 40))
        r = upload(client, npz(x=noise, y=np.arange(100) % 2))
        assert r.status_code == 413


def test_too_many_values_are_refused_before_any_array_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The headers' shapes alone decide: no array is read (nor allocated) first."""
    raw = npz(x=np.zeros((50, 1000), np.float32), y=np.arange(50) % 2)

    def read(*_: Any) -> None:
        raise AssertionError("an array was read")

    monkeypatch.setattr(npz_module, "array", read)
    with pytest.raises(DataError, match=r"50000 values in all .* over the limit of 40000"):
        parse_sequences_npz(raw, max_values=40_000)
    with pytest.raises(AssertionError, match="an array was read"):
        parse_sequences_npz(raw, max_values=50_000)  # within it: read


# build_data and the stored form ------------------------------------------------------------


def _upload(x: np.ndarray, y: np.ndarray, problem: str | None = None,
            **test: np.ndarray) -> SequenceUpload:
    raw = npz(x=x, y=y, **test)
    return SequenceUpload.of(parse_sequences_npz(raw, problem=problem), raw)


def test_build_data_makes_sequence_data_of_a_built_in_set() -> None:
    config = parse_config({"dataset": {"name": "mnist1d", "train_fraction": 0.8, "seed": 4}})
    data = build_data(config)
    assert data.kind == "sequences" and data.sequences and not data.images
    assert data.input_shape == (40, 1) and data.n_classes == 10 and not data.per_step
    assert (len(data.y_train), len(data.y_test)) == (4000, 1000)  # the paper's split
    assert data.labels == tuple(str(d) for d in range(10))
    assert data.features([]) == (data.x_train, data.x_test)
    sine = build_data(parse_config({"dataset": {"name": "sine", "n_samples": 60, "length": 30},
                                    "problem": "regression"}))
    assert sine.per_step and sine.input_shape == (30, 1) and sine.y_train.shape == (30, 30)
    assert sine.n_classes == 1


def test_build_data_takes_a_sequence_uploads_own_test_part_or_splits_it() -> None:
    rng = np.random.default_rng(2)
    up = _upload(rng.standard_normal((40, 12, 2)), np.arange(40) % 4)
    config = parse_config({"dataset": {"name": "custom", "id": "s", "classes": 4,
                                       "train_fraction": 0.75}, "features": []})
    data = build_data(config, up)
    assert data.kind == "sequences" and data.input_shape == (12, 2)
    assert (len(data.y_train), len(data.y_test), data.n_classes) == (30, 10, 4)
    own = _upload(rng.standard_normal((40, 12)), rng.standard_normal(40),
                  x_test=rng.standard_normal((5, 12)), y_test=rng.standard_normal(5))
    config = parse_config({"dataset": {"name": "custom", "id": "s"}, "features": [],
                           "problem": "regression"})  # custom [] may be regression now
    data = build_data(config, own)
    assert (len(data.y_train), len(data.y_test), data.n_classes) == (40, 5, 1)
    assert np.array_equal(data.x_test, own.sequences.x_test)


def test_build_data_says_what_to_set_when_the_upload_disagrees() -> None:
    up = _upload(np.zeros((10, 8)), np.arange(10) % 2)
    regression = parse_config({"dataset": {"name": "custom", "id": "s"}, "features": [],
                               "problem": "regression"})
    with pytest.raises(DataError, match="holds sequences for classification: set problem to "
                                        "'classification'"):
        build_data(regression, up)
    points = parse_config({"dataset": {"name": "custom", "id": "s"}})
    with pytest.raises(DataError, match="holds sequences: send features"):
        build_data(points, up)


def test_image_uploads_are_still_images_and_still_classification() -> None:
    raw = npz(x=np.zeros((10, 8, 8), np.uint8), y=np.arange(10) % 2)
    up = ImageUpload.of(parse_npz(raw), raw)
    config = parse_config({"dataset": {"name": "custom", "id": "i"}, "features": []})
    data = build_data(config, up)
    assert data.kind == "images" and data.images and data.input_shape == (1, 8, 8)
    regression = parse_config({"dataset": {"name": "custom", "id": "i"}, "features": [],
                               "problem": "regression"})
    with pytest.raises(DataError, match="holds images for classification"):
        build_data(regression, up)
    assert build_data(parse_config({})).kind == "points"


def test_the_stored_form_travels_and_is_checked_again() -> None:
    up = _upload(np.random.default_rng(3).standard_normal((10, 8)), np.arange(10.0) % 2,
                 "regression")
    back = read_upload(up.to_json())
    assert isinstance(back, SequenceUpload) and back.problem == "regression"
    assert np.array_equal(back.sequences.x, up.sequences.x)
    assert pickle.loads(pickle.dumps(up)).sequences.shape == (8, 1)  # to the workers
    with pytest.raises(DataError, match="not base64"):
        read_upload({"kind": "sequences", "problem": "regression", "npz": "%%%"})
    with pytest.raises(DataError, match="'problem' must be classification or regression"):
        read_upload({**up.to_json(), "problem": None})
    bad = npz(x=np.zeros((10, 8)), y=np.zeros(9))
    with pytest.raises(DataError, match="10 sequences but y 9"):
        read_upload({"kind": "sequences", "problem": "regression",
                     "npz": base64.b64encode(bad).decode()})


def test_meta_lists_the_sequence_sets(client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    sets = {d["name"]: d for d in meta["sequence_datasets"]}
    assert list(sets) == list(SEQUENCE_SETS)
    assert sets["mnist1d"] == {
        "name": "mnist1d", "label": "MNIST-1D", "problem": "classification",
        "description": SEQUENCE_SETS["mnist1d"].description, "min_classes": 10,
        "max_classes": 10, "lengths": [40, 40], "length": 40, "size": 5000,
        "per_step": False, "channels": 1, "train_fraction": 0.8}
    assert sets["sine"]["per_step"] and sets["sine"]["problem"] == "regression"
    assert sets["waves"]["lengths"] == [10, 200] and sets["waves"]["max_classes"] == 4


def test_a_change_of_set_keeps_the_length_and_classes_only_where_the_new_set_has_them(
) -> None:
    waves = parse_config({"dataset": {"name": "waves", "classes": 3, "length": 80}}
                         ).model_dump(mode="json")
    sine = parse_config(merge_config(waves, {
        "problem": "regression", "dataset": {"name": "sine"},  # a target per step:
        "hidden_layers": [{"type": "rnn", "units": 4, "return_sequences": True}]}))
    assert sine.dataset.length == 80 and sine.dataset.classes == 2
    digits = parse_config(merge_config(waves, {"dataset": {"name": "mnist1d"}}))
    assert digits.dataset.length is None and digits.dataset.classes == 10
    shapes = parse_config(merge_config(waves, {"dataset": {"name": "shapes"}}))
    assert shapes.dataset.length is None and shapes.dataset.classes == 3
    back = parse_config(merge_config(shapes.model_dump(mode="json"),
                                     {"dataset": {"name": "waves"}}))
    assert back.dataset.length is None and back.dataset.classes == 3


def test_the_openapi_document_offers_the_sequence_sets_and_bounds_length(
        client: TestClient) -> None:
    dataset = client.app.openapi()["components"]["schemas"]["DatasetConfig"]["properties"]  # type: ignore[attr-defined]
    assert {"sine", "waves", "mnist1d"} <= set(dataset["name"]["enum"])
    (number,) = [b for b in dataset["length"]["anyOf"] if b.get("type") == "integer"]
    assert (number["minimum"], number["maximum"]) == (10, 200)
