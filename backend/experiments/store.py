"""SQLite storage for experiments, uploaded data sets and shares (stdlib sqlite3).

One connection, used from worker threads under a lock; WAL mode so a kill -9 loses at
most the last unsaved change, never the file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class StoreError(RuntimeError):
    """The data directory cannot be written; the message says where and why."""


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.open()

    def open(self) -> None:
        """Connect (again, after close); a directory that cannot be written says so here."""
        with self._lock:
            if self._db is not None:
                return
            try:
                if str(self.path) != ":memory:":
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(self.path), check_same_thread=False,
                                     isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot open the database at {self.path}: {exc}") from exc
            self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the database at {self.path} is closed (the server is stopping)")
        return self._db

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._conn().execute(sql, args)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Several writes in one transaction: all of them land, or none."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN")
                for sql, args in statements:
                    db.execute(sql, args)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc

    # experiments --------------------------------------------------------------------------
    def save_experiment(self, id: str, token_hash: str, state: dict[str, Any],
                        dataset: tuple[str, dict[str, Any]] | None = None) -> None:
        """Save an experiment; with `dataset` (id, points), its new data set alongside, in
        the same transaction, so a failed import leaves no orphan data behind."""
        statements = [("INSERT OR REPLACE INTO experiments VALUES (?, ?, ?, ?)",
                       (id, token_hash, json.dumps(state), time.time()))]
        if dataset is not None:
            statements.insert(0, ("INSERT INTO datasets VALUES (?, ?, ?)",
                                  (dataset[0], json.dumps(dataset[1]), time.time())))
        self._write_all(statements)

    def load_experiment(self, id: str) -> tuple[str, dict[str, Any]] | None:
        rows = self._read("SELECT token_hash, state FROM experiments WHERE id = ?", (id,))
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def delete_experiment(self, id: str) -> None:
        self._write("DELETE FROM experiments WHERE id = ?", (id,))

    def experiment_ids(self) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM experiments", ())]

    def count_experiments(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM experiments", ())[0][0])

    def experiments_saved_before(self, cutoff: float) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM experiments WHERE updated < ?",
                                         (cutoff,))]

    def delete_orphan_datasets(self, cutoff: float) -> int:
        """Uploads older than cutoff that no stored experiment uses any more."""
        rows = self._read("SELECT id FROM datasets WHERE created < ? AND id NOT IN (SELECT "
                          "json_extract(state, '$.config.dataset.id') FROM experiments "
                          "WHERE json_extract(state, '$.config.dataset.id') IS NOT NULL)",
                          (cutoff,))
        for (ds_id,) in rows:
            self._write("DELETE FROM datasets WHERE id = ?", (ds_id,))
        return len(rows)

    # datasets ------------------------------------------------------------------------------
    def save_dataset(self, id: str, data: dict[str, Any]) -> None:
        self._write("INSERT INTO datasets VALUES (?, ?, ?)", (id, json.dumps(data), time.time()))

    def load_dataset(self, id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM datasets WHERE id = ?", (id,))
        return json.loads(rows[0][0]) if rows else None

    # shares --------------------------------------------------------------------------------
    def save_share(self, id: str, experiment_id: str, state: dict[str, Any]) -> None:
        self._write("INSERT INTO shares VALUES (?, ?, ?, ?)",
                    (id, experiment_id, json.dumps(state), time.time()))

    def load_share(self, id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT state FROM shares WHERE id = ?", (id,))
        return json.loads(rows[0][0]) if rows else None
