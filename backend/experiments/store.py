"""The store of experiments, uploaded data sets, shares and classes, and of what API
replicas sharing one database tell each other: one interface over SQLite (the default, a
file in the data directory) and PostgreSQL (replicas share it; see docs/cluster.md).

The SQL is written once, here; what differs between the databases lives in databases.py,
the schema in migrations.py.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .databases import Database, Fenced, StoreError, StoreUnavailable, database, writable_hint
from .migrations import NewerSchema, migrate

if TYPE_CHECKING:
    from backend.settings import Settings

__all__ = ["Fenced", "Store", "StoreError", "StoreUnavailable", "open_store", "writable_hint"]


def open_store(settings: Settings) -> Store:
    """The store the settings name: database_url, else playground.sqlite3 in data_dir."""
    return Store(settings.database_url or settings.data_dir / "playground.sqlite3")


class Store:
    def __init__(self, location: Path | str) -> None:
        """`location`: a SQLite file (a path, or sqlite:///PATH) or postgresql://..."""
        self.db: Database = database(location)
        self._open = False
        self.open()

    def open(self) -> None:
        """Connect (again, after close) and bring the schema up to date; a directory that
        cannot be written, or a server that cannot be reached, says so here."""
        if self._open:
            return
        self.db.open()
        try:
            with self.db.transaction() as tx:
                migrate(tx, self.db.dialect, time.time())
        except NewerSchema as exc:
            self.db.close()
            raise StoreError(f"{self.db.where}: {exc}") from exc
        except BaseException:
            self.db.close()
            raise
        self._open = True

    def close(self) -> None:
        self._open = False
        self.db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        """One statement; answers the rows it changed."""
        return self.db.run(sql, args, write=True)[1]

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Several writes in one transaction: all of them land, or none."""
        with self.db.transaction() as tx:
            for sql, args in statements:
                tx.execute(sql, args)

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.db.run(sql, args, write=False)[0]

    # experiments --------------------------------------------------------------------------
    def save_experiment(self, id: str, token_hash: str, state: dict[str, Any],
                        dataset: tuple[str, dict[str, Any]] | None = None,
                        holder: tuple[str, str] | None = None) -> None:
        """Save an experiment; with `dataset` (id, points), its new data set alongside, in
        the same transaction, so a failed import leaves no orphan data behind. With
        `holder` (unit, replica): only while no other replica holds the unit (one writer:
        a replica that lost it by falling silent writes nothing over its new holder's);
        else Fenced, and nothing lands."""
        upsert = ("INSERT INTO experiments VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                  "token_hash = excluded.token_hash, state = excluded.state, "
                  "updated = excluded.updated")
        args: tuple[Any, ...] = (id, token_hash, json.dumps(state), time.time())
        if holder is not None:
            upsert += " WHERE NOT EXISTS (SELECT 1 FROM leases WHERE unit = ? AND replica <> ?)"
            args += holder
        with self.db.transaction() as tx:
            if dataset is not None:
                tx.execute("INSERT INTO datasets VALUES (?, ?, ?)",
                           (dataset[0], json.dumps(dataset[1]), time.time()))
            if tx.execute(upsert, args).rowcount == 0:
                raise Fenced(f"another server of this site took experiment {id!r} over; "
                             "it is saved there: ask again")

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
        used = self.db.json_text("state", "config", "dataset", "id")
        rows = self._read(f"SELECT id FROM datasets WHERE created < ? AND id NOT IN (SELECT "
                          f"{used} FROM experiments WHERE {used} IS NOT NULL)", (cutoff,))
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
        if before is None:
            return [r[0] for r in self._read("SELECT id FROM classes WHERE locked <> 0", ())]
        return [r[0] for r in self._read("SELECT id FROM classes WHERE locked <> 0 AND "
                                         "updated < ?", (before,))]

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
        with self.db.transaction() as tx:
            # the class's row locked first: two joins of one class wait for each other
            tx.execute(f"SELECT 1 FROM classes WHERE id = ?{self.db.for_update}", (class_id,))
            taken = tx.execute("SELECT 1 FROM class_students WHERE class_id = ? AND "
                               "name_key = ?", (class_id, name_key)).fetchone()
            highest, count = tx.execute("SELECT COALESCE(MAX(number), 0), COUNT(*) FROM "
                                        "class_students WHERE class_id = ?",
                                        (class_id,)).fetchone()  # type: ignore[misc]
            outcome = "taken" if taken else "full" if count >= limit else "added"
            if outcome == "added":
                now = time.time()
                # the join order, never reused: a student's seed is derived from it
                tx.execute("INSERT INTO class_students VALUES (?, ?, ?, ?, ?, ?)",
                           (class_id, name_key, name, experiment_id, now,
                            max(highest, count) + 1))
                tx.execute("UPDATE classes SET updated = ? WHERE id = ?", (now, class_id))
        return outcome

    def class_students(self, class_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT name_key, name, experiment_id, joined, number FROM "
                          "class_students WHERE class_id = ? ORDER BY joined, name_key",
                          (class_id,))
        # a seat from before numbers were kept: numbered by its place in the roster
        return [{"key": k, "name": n, "experiment_id": e, "joined": j,
                 "number": number if number is not None else i + 1}
                for i, (k, n, e, j, number) in enumerate(rows)]

    def remove_student(self, class_id: str, experiment_id: str) -> bool:
        return self._write("DELETE FROM class_students WHERE class_id = ? AND "
                           "experiment_id = ?", (class_id, experiment_id)) > 0

    # replicas sharing the database (ownership.py) ------------------------------------------
    # Times are the caller's time.time(); a replica is alive while its heartbeat is at or
    # after the caller's cutoff. Each method is one statement or one transaction.
    def heartbeat(self, replica: str, url: str) -> None:
        self._write("INSERT INTO replicas VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "url = excluded.url, seen = excluded.seen", (replica, url, time.time()))

    def forget_replica(self, replica: str) -> None:
        """A clean shutdown: the replica, its leases, its counts and its runs go at once,
        rather than after replica_ttl."""
        self._write_all([(f"DELETE FROM {table} WHERE {column} = ?", (replica,))
                         for table, column in (("leases", "replica"), ("client_use", "replica"),
                                               ("running", "replica"), ("replicas", "id"))])

    def live_replicas(self, cutoff: float) -> dict[str, str]:
        return dict(self._read("SELECT id, url FROM replicas WHERE seen >= ?", (cutoff,)))

    def claim(self, unit: str, replica: str, cutoff: float) -> tuple[str, str]:
        """Take the unit's lease if nobody holds it or its holder is not alive; answers who
        holds it after that, and where (url "" if the holder left no heartbeat). The upsert
        is one statement: of two replicas claiming at once, one wins and both see it."""
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO leases VALUES (?, ?, ?) ON CONFLICT (unit) DO UPDATE SET "
                       "replica = excluded.replica, taken = excluded.taken "
                       "WHERE leases.replica <> excluded.replica AND NOT EXISTS (SELECT 1 FROM "
                       "replicas WHERE replicas.id = leases.replica AND replicas.seen >= ?)",
                       (unit, replica, time.time(), cutoff))
            row = tx.execute("SELECT leases.replica, COALESCE(replicas.url, '') FROM leases "
                             "LEFT JOIN replicas ON replicas.id = leases.replica "
                             "WHERE leases.unit = ?", (unit,)).fetchone()
        assert row is not None  # inserted or kept just now, in this transaction
        return str(row[0]), str(row[1])

    def lease_holder(self, unit: str) -> tuple[str, str, float] | None:
        """(holder, its url, its last heartbeat; "" and 0 if it left none), or None."""
        rows = self._read("SELECT leases.replica, COALESCE(replicas.url, ''), "
                          "COALESCE(replicas.seen, 0) FROM leases LEFT JOIN replicas ON "
                          "replicas.id = leases.replica WHERE leases.unit = ?", (unit,))
        return (str(rows[0][0]), str(rows[0][1]), float(rows[0][2])) if rows else None

    def release(self, unit: str, replica: str) -> None:
        self._write("DELETE FROM leases WHERE unit = ? AND replica = ?", (unit, replica))

    def leases_of(self, replica: str) -> list[str]:
        return [r[0] for r in self._read("SELECT unit FROM leases WHERE replica = ? "
                                         "ORDER BY unit", (replica,))]

    def unit_of(self, experiment_id: str) -> str:
        """A student's experiment goes with its class (the teacher's views hold and reset
        them all in one process); any other is a unit of its own."""
        rows = self._read("SELECT class_id FROM class_students WHERE experiment_id = ? "
                          "LIMIT 1", (experiment_id,))
        return f"class:{rows[0][0]}" if rows else f"experiment:{experiment_id}"

    def set_running(self, experiment_id: str, replica: str, client: str,
                    target_epoch: int | None) -> None:
        self._write("INSERT INTO running VALUES (?, ?, ?, ?, ?) ON CONFLICT (experiment_id) "
                    "DO UPDATE SET replica = excluded.replica, client = excluded.client, "
                    "target = excluded.target, started = excluded.started",
                    (experiment_id, replica, client, target_epoch, time.time()))

    def clear_running(self, experiment_id: str, replica: str) -> None:
        self._write("DELETE FROM running WHERE experiment_id = ? AND replica = ?",
                    (experiment_id, replica))

    def count_running(self, client: str, cutoff: float) -> int:
        """The client's runs on all replicas alive (a dead one's runs await the sweeper)."""
        return int(self._read("SELECT COUNT(*) FROM running JOIN replicas ON replicas.id = "
                              "running.replica WHERE running.client = ? AND replicas.seen >= ?",
                              (client, cutoff))[0][0])

    def orphaned_runs(self, cutoff: float,
                      asker: str = "") -> list[tuple[str, str, int | None]]:
        """(experiment id, client, target epoch) of the runs whose replica is not alive,
        other than `asker`'s own (whose heartbeat row may lag behind its runs' end)."""
        rows = self._read("SELECT experiment_id, client, target FROM running WHERE "
                          "running.replica != ? AND NOT EXISTS (SELECT 1 FROM replicas WHERE "
                          "replicas.id = running.replica AND replicas.seen >= ?) ORDER BY "
                          "started, experiment_id", (asker, cutoff))
        return [(str(e), str(c), None if t is None else int(t)) for e, c, t in rows]

    def set_client_use(self, replica: str, kind: str, client: str, count: int) -> None:
        """What `client` uses of `kind` (e.g. "running", "sockets") on `replica`; 0 forgets."""
        if count <= 0:
            self._write("DELETE FROM client_use WHERE replica = ? AND kind = ? AND client = ?",
                        (replica, kind, client))
        else:
            self._write("INSERT INTO client_use VALUES (?, ?, ?, ?) ON CONFLICT (replica, kind, "
                        "client) DO UPDATE SET count = excluded.count",
                        (replica, kind, client, count))

    def client_use(self, kind: str, client: str, cutoff: float, exclude: str) -> int:
        """What `client` uses of `kind` on the other replicas alive (all but `exclude`)."""
        return int(self._read("SELECT COALESCE(SUM(client_use.count), 0) FROM client_use JOIN "
                              "replicas ON replicas.id = client_use.replica WHERE "
                              "client_use.kind = ? AND client_use.client = ? AND "
                              "replicas.seen >= ? AND client_use.replica <> ?",
                              (kind, client, cutoff, exclude))[0][0])

    def secret(self) -> str:
        """One random secret per database, made by whichever replica asks first: replicas
        sign what they forward to each other with it."""
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO secrets VALUES ('replicas', ?) ON CONFLICT (name) "
                       "DO NOTHING", (secrets.token_urlsafe(32),))
            row = tx.execute("SELECT value FROM secrets WHERE name = 'replicas'", ()).fetchone()
        assert row is not None
        return str(row[0])
