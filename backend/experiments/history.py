"""The loss curve: one row of metrics per recorded epoch, thinned as it grows long."""

from __future__ import annotations

from typing import Any

COLUMNS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
           "learning_rate")


class History:
    """Keeps at most `capacity` rows: when full, every other row goes and the stride doubles,
    so a run of a million epochs still draws its whole curve from a few thousand points."""

    def __init__(self, capacity: int = 4000) -> None:
        self.capacity = capacity
        self.stride = 1
        self.rows: list[dict[str, float]] = []

    def add(self, row: dict[str, float]) -> None:
        """A row for a new epoch; a row for the last one's epoch (after a change that kept
        the weights) replaces it, so the curve never goes back in time."""
        if self.rows and self.rows[-1]["epoch"] == row["epoch"]:
            self.rows[-1] = row
            return
        if self.rows and int(row["epoch"]) % self.stride:
            return
        self.rows.append(row)
        if len(self.rows) > self.capacity:
            self.rows = self.rows[::2]
            self.stride *= 2

    def copy(self) -> History:
        twin = History(self.capacity)
        twin.stride, twin.rows = self.stride, list(self.rows)
        return twin

    @property
    def last(self) -> dict[str, float] | None:
        return self.rows[-1] if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        """A copy: it is serialized after the lock is let go, while training appends."""
        return {"stride": self.stride, "rows": [dict(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """From to_dict's output, checked by the export's schema (state.HistoryFile)."""
        h = cls()
        h.stride = int(data.get("stride", 1))
        h.rows = [dict(r) for r in data.get("rows", [])]
        return h
