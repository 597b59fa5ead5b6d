"""The loss curve: one row of metrics per recorded epoch, thinned as it grows long.

Stored by column, 8 bytes a value: a full curve of 4000 rows is 190 kB, where rows as
dicts took ten times that, and a class keeps a hundred curves in memory.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

COLUMNS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
           "learning_rate")


class History:
    """Keeps at most `capacity` rows: when full, every other row goes and the stride doubles,
    so a run of a million epochs still draws its whole curve from a few thousand points.
    The newest row is always kept, between the strides if it falls there (the next row
    replaces it), so the curve ends where the network is. A value a row lacks is stored
    as NaN; a key no row has is left out again."""

    def __init__(self, capacity: int = 4000) -> None:
        self.capacity = capacity
        self.stride = 1
        self._columns: dict[str, array[float]] = {}

    def __len__(self) -> int:
        epochs = self._columns.get("epoch")
        return len(epochs) if epochs is not None else 0

    def add(self, row: dict[str, float]) -> None:
        """A row for a new epoch; a row for the last one's epoch (after a change that kept
        the weights) replaces it, so the curve never goes back in time."""
        for key in row:
            if key not in self._columns:  # a new kind of value: earlier rows lack it
                self._columns[key] = array("d", [math.nan] * len(self))
        epochs = self._columns["epoch"]
        between = len(epochs) > 1 and int(epochs[-1]) % self.stride  # kept as the newest
        if epochs and (epochs[-1] == row["epoch"] or between):
            for key, column in self._columns.items():
                column[-1] = row.get(key, math.nan)
            return
        for key, column in self._columns.items():
            column.append(row.get(key, math.nan))
        if len(self) > self.capacity:
            # every other row of the stride, and the newest row whatever its epoch
            self._columns = {k: c[:-1:2] + c[-1:] for k, c in self._columns.items()}
            self.stride *= 2

    def trim(self, epoch: int) -> None:
        """Forget the rows past `epoch` (a diverged epoch's)."""
        keep = sum(1 for e in self._columns.get("epoch", ()) if e <= epoch)
        self._columns = {k: c[:keep] for k, c in self._columns.items()}

    def copy(self) -> History:
        twin = History(self.capacity)
        twin.stride = self.stride
        twin._columns = {k: array("d", c) for k, c in self._columns.items()}
        return twin

    def _row(self, i: int, absent: set[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, column in self._columns.items():
            if key == "epoch":
                out[key] = int(column[i])
            elif key not in absent:
                out[key] = column[i]
        return out

    def _absent(self) -> set[str]:
        """The keys no row has (NaN in every row): a value is NaN for a row that lacks it."""
        return {k for k, c in self._columns.items() if all(math.isnan(v) for v in c)}

    @property
    def rows(self) -> list[dict[str, float]]:
        absent = self._absent()
        return [self._row(i, absent) for i in range(len(self))]

    @property
    def last(self) -> dict[str, float] | None:
        return self._row(len(self) - 1, self._absent()) if len(self) else None

    def to_dict(self) -> dict[str, Any]:
        """A copy: it is serialized after the lock is let go, while training appends."""
        return {"stride": self.stride, "rows": self.rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """From to_dict's output, checked by the export's schema (state.HistoryFile)."""
        h = cls()
        for row in data.get("rows", []):
            h._append({k: (math.nan if v is None else v) for k, v in row.items()})
        h.stride = int(data.get("stride", 1))
        return h

    def _append(self, row: dict[str, float]) -> None:
        """As it comes (a saved curve is already thinned): no stride, no capacity."""
        for key in row:
            if key not in self._columns:
                self._columns[key] = array("d", [math.nan] * len(self))
        for key, column in self._columns.items():
            column.append(row.get(key, math.nan))
