"""SQLite storage for experiments, uploaded data sets and shares (stdlib sqlite3).

One connection, used from worker threads under a lock; WAL mode so a kill -9 loses at
most the last unsaved change, never the file.
"""

from __future__ import annotations

import contextlib
import json
import os
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
CREATE TABLE IF NOT EXISTS classes (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    start TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS class_students (
    class_id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    joined REAL NOT NULL,
    number INTEGER,
    PRIMARY KEY (class_id, name_key)
);
"""
# Columns added since the first release: a database made before gets them, with these
# defaults (an old class: unlocked, one seed for all; its students numbered by joining).
ADDED = (("classes", "locked", "INTEGER NOT NULL DEFAULT 0"),
         ("classes", "options", "TEXT NOT NULL DEFAULT '{}'"),
         ("class_students", "number", "INTEGER"))


class StoreError(RuntimeError):
    """The data directory cannot be written; the message says where and why."""


def writable_hint(directory: Path) -> str:
    """What to do when the data directory cannot be written: most often a bind mount owned
    by another user than the server's (the image runs as uid 10001)."""
    return (f"The data directory {directory} must be a directory that user {os.getuid()} "
            f"can write: on a bind mount, run `chown {os.getuid()} DIR` on the host (or "
            f"podman's `-v DIR:{directory}:U`), or set PLAYGROUND_DATA_DIR / --data-dir")


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
                for table, column, kind in ADDED:
                    have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                    if column not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot open the database at {self.path}: {exc}. "
                                 + writable_hint(self.path.parent)) from exc
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

    # classes (backend/experiments/classes.py) ---------------------------------------------
    def save_class(self, id: str, token_hash: str, name: str, start: dict[str, Any],
                   state: dict[str, Any], options: dict[str, Any] | None = None) -> None:
        """A class: its starting point's summary (`start`, read often) apart from the
        starting point itself (`state`, an export: read only when a student joins)."""
        now = time.time()
        self._write("INSERT INTO classes (id, token_hash, name, start, state, created, "
                    "updated, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (id, token_hash, name, json.dumps(start), json.dumps(state), now, now,
                     json.dumps(options or {})))

    def load_class(self, id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT token_hash, name, start, created, updated, locked, options "
                          "FROM classes WHERE id = ?", (id,))
        if not rows:
            return None
        token_hash, name, start, created, updated, locked, options = rows[0]
        return {"id": id, "token_hash": token_hash, "name": name, "start": json.loads(start),
                "created": created, "updated": updated, "locked": bool(locked),
                "options": json.loads(options)}

    def set_class_locked(self, id: str, locked: bool) -> None:
        self._write("UPDATE classes SET locked = ?, updated = ? WHERE id = ?",
                    (int(locked), time.time(), id))

    def locked_classes(self, before: float | None = None) -> list[str]:
        """The locked classes (unchanged since `before`, if given)."""
        return [r[0] for r in self._read("SELECT id FROM classes WHERE locked AND updated < ?",
                                         (float("inf") if before is None else before,))]

    def load_class_state(self, id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT state FROM classes WHERE id = ?", (id,))
        return json.loads(rows[0][0]) if rows else None

    def set_class_start(self, id: str, start: dict[str, Any], state: dict[str, Any]) -> None:
        self._write("UPDATE classes SET start = ?, state = ?, updated = ? WHERE id = ?",
                    (json.dumps(start), json.dumps(state), time.time(), id))

    def count_classes(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM classes", ())[0][0])

    def delete_classes_before(self, cutoff: float) -> int:
        """Classes unchanged (no join, no new starting point) since cutoff, with their
        rosters; the students' experiments follow the experiments' own retention."""
        ids = [r[0] for r in self._read("SELECT id FROM classes WHERE updated < ?", (cutoff,))]
        for class_id in ids:
            self._write_all([("DELETE FROM class_students WHERE class_id = ?", (class_id,)),
                             ("DELETE FROM classes WHERE id = ?", (class_id,))])
        return len(ids)

    def add_student(self, class_id: str, name_key: str, name: str, experiment_id: str,
                    limit: int) -> str:
        """One seat, if the name is free and the class not full, checked and taken in one
        transaction: "added", "taken" or "full"."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                taken = db.execute("SELECT 1 FROM class_students WHERE class_id = ? AND "
                                   "name_key = ?", (class_id, name_key)).fetchone()
                count = db.execute("SELECT COUNT(*) FROM class_students WHERE class_id = ?",
                                   (class_id,)).fetchone()[0]
                outcome = "taken" if taken else "full" if count >= limit else "added"
                if outcome == "added":
                    now = time.time()
                    # the join order, never reused: a student's seed is derived from it
                    number = db.execute("SELECT MAX(COALESCE(MAX(number), 0), COUNT(*)) + 1 FROM "
                                        "class_students WHERE class_id = ?",
                                        (class_id,)).fetchone()[0]
                    db.execute("INSERT INTO class_students VALUES (?, ?, ?, ?, ?, ?)",
                               (class_id, name_key, name, experiment_id, now, number))
                    db.execute("UPDATE classes SET updated = ? WHERE id = ?", (now, class_id))
                db.execute("COMMIT")
                return outcome
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def class_students(self, class_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT name_key, name, experiment_id, joined, number FROM "
                          "class_students WHERE class_id = ? ORDER BY joined, name_key",
                          (class_id,))
        # a seat from before numbers were kept: numbered by its place in the roster
        return [{"key": k, "name": n, "experiment_id": e, "joined": j,
                 "number": number if number is not None else i + 1}
                for i, (k, n, e, j, number) in enumerate(rows)]

    def remove_student(self, class_id: str, experiment_id: str) -> bool:
        with self._lock:
            try:
                cursor = self._conn().execute(
                    "DELETE FROM class_students WHERE class_id = ? AND experiment_id = ?",
                    (class_id, experiment_id))
            except sqlite3.Error as exc:
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc
            return cursor.rowcount > 0
