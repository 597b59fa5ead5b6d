"""Data sets, features, splits and the user's uploads."""

from __future__ import annotations

import numpy as np
import pytest

from backend.data import (
    DATASETS,
    FEATURES,
    DataError,
    apply_features,
    generate,
    parse_csv,
    parse_json,
    split,
)


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_data_set_is_deterministic_and_in_the_square(name: str) -> None:
    spec = DATASETS[name]
    k = min(4, spec.max_classes)
    x, y = generate(name, 300, 0.1, seed=3, classes=k)
    x2, y2 = generate(name, 300, 0.1, seed=3, classes=k)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert x.shape == (300, 2) and y.shape == (300,)
    assert np.mean(np.abs(x) <= 6.5) > 0.98
    if spec.problem == "classification":
        assert set(np.unique(y)) == set(range(k))
    assert not np.array_equal(generate(name, 300, 0.1, seed=4, classes=k)[0], x)


def test_circle_without_noise_is_split_by_the_radius() -> None:
    x, y = generate("circle", 500, 0.0, 0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert (y[r < 2.5] == 1).all() and (y[r >= 3.5] == 0).all()
    assert not ((r > 2.5) & (r < 3.5)).any()


def test_xor_without_noise_follows_the_signs() -> None:
    x, y = generate("xor", 400, 0.0, 0)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(int))
    assert np.abs(x).min() >= 0.3  # the Playground's padding off the axes


def test_reg_plane_without_noise() -> None:
    x, y = generate("reg-plane", 100, 0.0, 0)
    np.testing.assert_allclose(y, (x[:, 0] + x[:, 1]) / 10)


def test_reg_gauss_peaks() -> None:
    _, y = generate("reg-gauss", 2000, 0.0, 0)
    assert y.max() == pytest.approx(1.0, abs=0.1) and y.min() == pytest.approx(-1, abs=0.1)


def test_noise_blurs_the_classes() -> None:
    x, y = generate("circle", 1000, 0.5, 0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert (y[r < 2.5] == 0).any()  # some inside points labelled outside


def test_k_class_spiral_has_k_arms() -> None:
    _, y = generate("spiral", 300, 0.0, 0, classes=5)
    assert np.bincount(y).tolist() == [60] * 5


@pytest.mark.parametrize(("args", "message"), [
    (("moon", 10), "unknown dataset"), (("circle", 0), "at least 1"),
    (("circle", 10, 0.6), "noise"), (("circle", 10, 0.0, 0, 3), "classes"),
])
def test_generate_validates(args: tuple, message: str) -> None:
    with pytest.raises(DataError, match=message):
        generate(*args)


def test_features() -> None:
    x = np.array([[1.0, 2.0], [-0.5, 3.0]])
    f = apply_features(list(FEATURES), x)
    assert f.shape == (2, 9)
    np.testing.assert_allclose(f[:, 0], x[:, 0])
    np.testing.assert_allclose(f[:, 2], x[:, 0] ** 2)
    np.testing.assert_allclose(f[:, 4], x[:, 0] * x[:, 1])
    np.testing.assert_allclose(f[:, 5], np.sin(x[:, 0]))
    np.testing.assert_allclose(f[:, 8], np.cos(x[:, 1]))
    for bad, message in (([], "at least one"), (["x3"], "unknown feature"),
                         (["x1", "x1"], "once")):
        with pytest.raises(DataError, match=message):
            apply_features(bad, x)


def test_split() -> None:
    x, y = generate("gauss", 101, 0.0, 0)
    _, yt, _, ys = split(x, y, 0.5, np.random.default_rng(0))
    assert len(yt) == 50 and len(ys) == 51
    assert sorted(np.concatenate([yt, ys]).tolist()) == sorted(y.tolist())
    with pytest.raises(DataError):
        split(x, y, 0.95, np.random.default_rng(0))


def test_csv_with_bom_crlf_split_and_any_column_order() -> None:
    text = "\ufeffy,x2,x1,split\r\n1,2,3,train\r\n0,0.5,-1,test\r\n2, 1e-3 ,4,train\r\n"
    data = parse_csv(text)
    assert data.problem == "classification" and data.n_classes == 3
    assert data.x_train.tolist() == [[3.0, 2.0], [4.0, 0.001]]
    assert data.y_test.tolist() == [0]


def test_csv_regression_is_inferred_from_the_values() -> None:
    data = parse_csv("x1,x2,y\n0,0,0.5\n1,1,-2.25\n")
    assert data.problem == "regression" and data.y_train.tolist() == [0.5, -2.25]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("x1,x2,y\n1,2,0\n1,2\n", "row 3 has 2 values, the header has 3"),
    ("x1,x2,y\n1,2,0\n3,abc,1\n", "row 3, column x2: 'abc' is not a number"),
    ("x1,x2,y\n1,nan,0\n3,1,1\n", "row 2, column x2"),
    ("x1,x2,y\n1,inf,0\n3,1,1\n", "not a finite number"),
    ("x1,x2,y,colour\n1,1,0,red\n", "unknown column 'colour'"),
    ("x1,x2\n1,1\n", "lacks the column 'y'"),
    ("x1,x2,y\n1,1,0\n2,2,0\n", "two classes"),
    ("x1,x2,y\n1,1,0\n2,2,1.5\n", None),  # regression, fine
    ("x1,x2,y,split\n1,1,0,train\n2,2,1,dev\n", "'dev' is not train or test"),
    ("x1,x2,y\n1e9,1,0\n2,2,1\n", "beyond"),
])
def test_bad_csv_is_rejected_with_its_row(text: str, message: str | None) -> None:
    if message is None:
        parse_csv(text)
        return
    with pytest.raises(DataError, match=message):
        parse_csv(text)


def test_bad_labels_for_classification() -> None:
    with pytest.raises(DataError, match=r"row 3, column y: label 12 is not a class 0\.\.9"):
        parse_csv("x1,x2,y\n1,1,0\n2,2,12\n", problem="classification")


def test_a_million_rows_are_refused_quickly() -> None:
    import time

    text = "x1,x2,y\n" + "1,2,0\n" * 1_000_000
    start = time.perf_counter()
    with pytest.raises(DataError, match="too many rows: 1000000, the limit is 10000"):
        parse_csv(text)
    assert time.perf_counter() - start < 2


def test_json_upload() -> None:
    data = parse_json({"x": [[0, 0], [1, 1]], "y": [0, 1], "x_test": [[2, 2]], "y_test": [1]})
    assert data.x_test.tolist() == [[2.0, 2.0]]
    again = parse_json(data.to_json())
    assert np.array_equal(again.x_train, data.x_train) and again.problem == data.problem
    for bad, message in (
        ([1, 2], "send an object"), ({"x": [[0, 0]], "y": [0, 1]}, "1 points but 'y' has 2"),
        ({"x": [[0, 0, 0], [1, 1]], "y": [0, 1]}, r"x\[0\] must be a pair"),
        ({"x": [[0, "a"], [1, 1]], "y": [0, 1]}, r"x\[0\]\[1\]"),
        ({"x": [[0, 0], [1, 1]], "y": [0, True]}, r"y\[1\]"),
        ({"x": [[0, 0], [1, 1]], "y": [0, 1], "z": 1}, "unknown key 'z'"),
    ):
        with pytest.raises(DataError, match=message):
            parse_json(bad)
