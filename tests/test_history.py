"""The loss curve kept by column: thinned as it grows, rows as they were added."""

from __future__ import annotations

import math

from backend.experiments.history import History


def row(epoch: int, **extra: float) -> dict[str, float]:
    return {"epoch": epoch, "train_loss": 1 / (epoch + 1), "test_loss": 2 / (epoch + 1),
            "learning_rate": 0.03, **extra}


def test_a_long_run_is_thinned_to_its_capacity_evenly() -> None:
    h = History(capacity=100)
    for epoch in range(10_000):
        h.add(row(epoch, train_accuracy=0.5))
    assert len(h) <= 100 and h.stride == 128
    epochs = [r["epoch"] for r in h.rows]
    assert epochs == [*range(0, 10_000, 128), 9999]  # evenly, and the newest
    assert h.rows[3] == row(3 * 128, train_accuracy=0.5)
    for epoch in range(10_000, 10_300):  # the newest, between the strides, moves on
        h.add(row(epoch, train_accuracy=0.5))
        assert h.last == row(epoch, train_accuracy=0.5) and len(h) <= 100
    assert [r["epoch"] for r in h.rows][-4:] == [9984, 10_112, 10_240, 10_299]


def test_a_row_for_the_same_epoch_replaces_the_last() -> None:
    h = History()
    h.add(row(0))
    h.add(row(1))
    h.add({**row(1), "train_loss": 9.0})  # a change that kept the weights
    assert [r["epoch"] for r in h.rows] == [0, 1] and h.last == {**row(1), "train_loss": 9.0}


def test_rows_come_back_as_they_went_in_and_round_trip() -> None:
    regression = History()
    for epoch in range(5):
        regression.add(row(epoch))
    assert regression.rows == [row(e) for e in range(5)]  # no accuracy keys appear
    twin = History.from_dict(regression.to_dict())
    assert twin.rows == regression.rows and twin.stride == regression.stride
    copy = regression.copy()
    copy.add(row(5))
    assert len(regression) == 5 and len(copy) == 6  # independent


def test_a_not_finite_value_stays_and_a_diverged_epoch_goes() -> None:
    h = History()
    h.add(row(0))
    h.add(row(1, train_accuracy=math.inf))
    h.add({**row(2), "train_loss": math.nan})
    assert h.rows[1]["train_accuracy"] == math.inf and math.isnan(h.rows[0]["train_accuracy"])
    h.trim(1)
    assert [r["epoch"] for r in h.rows] == [0, 1]


def test_a_full_curve_is_small() -> None:
    h = History()
    for epoch in range(4000):
        h.add(row(epoch, train_accuracy=0.5, test_accuracy=0.5))
    size = sum(c.buffer_info()[1] * c.itemsize for c in h._columns.values())
    assert size <= 4000 * 6 * 8
