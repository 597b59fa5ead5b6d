"""SQLite storage for experiments, uploaded data sets and shares (stdlib sqlite3).

One connection, used from worker threads under a lock; WAL mode so a kill -9 loses at
most the last unsaved change, never the file.
"""

from __future__ import annotations

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
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database at {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # experiments --------------------------------------------------------------------------
    def save_experiment(self, id: str, token_hash: str, state: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO experiments VALUES (?, ?, ?, ?)",
                    (id, token_hash, json.dumps(state), time.time()))

    def load_experiment(self, id: str) -> tuple[str, dict[str, Any]] | None:
        rows = self._read("SELECT token_hash, state FROM experiments WHERE id = ?", (id,))
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def delete_experiment(self, id: str) -> None:
        self._write("DELETE FROM experiments WHERE id = ?", (id,))

    def experiment_ids(self) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM experiments", ())]

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
