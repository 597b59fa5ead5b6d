"""The schema, as numbered migrations: a database records the last one it ran in
`schema_version`, and opening it runs the ones after, in one transaction.

A migration's SQL is written once; `{time}` and `{key}` stand for the two column types the
dialects spell differently (SQLite's REAL is a double, PostgreSQL's a float4, which would
round times to minutes; keys compare byte by byte on both). Never edit a migration that has
shipped: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TYPES = {"sqlite": {"time": "REAL", "key": "TEXT"},
         "postgresql": {"time": "DOUBLE PRECISION", "key": 'TEXT COLLATE "C"'}}


@dataclass(frozen=True)
class Migration:
    number: int
    why: str
    statements: tuple[str, ...]
    # run after the statements, for what SQL alone cannot say (tx: Database.transaction's)
    then: Callable[[Any, str], None] | None = field(default=None)


def _columns_added_before_versions(tx: Any, dialect: str) -> None:
    """A SQLite file made before schema_version existed may lack columns added since the
    first release: they get these defaults (an old class: unlocked, one seed for all; its
    students numbered by joining, class_students' reader numbers a NULL by its place)."""
    if dialect != "sqlite":
        return
    added = (("classes", "locked", "INTEGER NOT NULL DEFAULT 0"),
             ("classes", "options", "TEXT NOT NULL DEFAULT '{}'"),
             ("class_students", "number", "INTEGER"))
    for table, column, kind in added:
        have = {row[1] for row in tx.execute(f"PRAGMA table_info({table})", ()).fetchall()}
        if column not in have:
            tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}", ())


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the tables of one server: experiments, uploads, shares, classes", (
        """CREATE TABLE IF NOT EXISTS experiments (
            id {key} PRIMARY KEY, token_hash TEXT NOT NULL, state TEXT NOT NULL,
            updated {time} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS datasets (
            id {key} PRIMARY KEY, data TEXT NOT NULL, created {time} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS shares (
            id {key} PRIMARY KEY, experiment_id TEXT NOT NULL, state TEXT NOT NULL,
            created {time} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS classes (
            id {key} PRIMARY KEY, token_hash TEXT NOT NULL, name TEXT NOT NULL,
            start TEXT NOT NULL, state TEXT NOT NULL, created {time} NOT NULL,
            updated {time} NOT NULL, locked INTEGER NOT NULL DEFAULT 0,
            options TEXT NOT NULL DEFAULT '{{}}')""",
        """CREATE TABLE IF NOT EXISTS class_students (
            class_id {key} NOT NULL, name_key {key} NOT NULL, name TEXT NOT NULL,
            experiment_id TEXT NOT NULL, joined {time} NOT NULL, number INTEGER,
            PRIMARY KEY (class_id, name_key))""",
    ), then=_columns_added_before_versions),
    Migration(2, "replicas sharing the database: who is alive, who owns what, who runs what", (
        # a replica is alive while its heartbeat (seen) is fresh
        "CREATE TABLE replicas (id {key} PRIMARY KEY, url TEXT NOT NULL, seen {time} NOT NULL)",
        # a unit (one experiment, or a class with its students' experiments) has one owner
        """CREATE TABLE leases (unit {key} PRIMARY KEY, replica {key} NOT NULL,
            taken {time} NOT NULL)""",
        "CREATE INDEX leases_replica ON leases (replica)",
        # the runs in progress, so that another replica resumes those of a dead one
        """CREATE TABLE running (experiment_id {key} PRIMARY KEY, replica {key} NOT NULL,
            client TEXT NOT NULL, target BIGINT, started {time} NOT NULL)""",
        # per replica, what each client address uses (running, sockets): the limits add up
        """CREATE TABLE client_use (replica {key} NOT NULL, kind {key} NOT NULL,
            client {key} NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (replica, kind, client))""",
        "CREATE INDEX client_use_client ON client_use (kind, client)",
        "CREATE TABLE secrets (name {key} PRIMARY KEY, value TEXT NOT NULL)",
        # unit_of: which class, if any, a student's experiment belongs to
        "CREATE INDEX class_students_experiment ON class_students (experiment_id)",
    )),
)
LATEST = MIGRATIONS[-1].number


def statements(migration: Migration, dialect: str) -> list[str]:
    return [sql.format(**TYPES[dialect]) for sql in migration.statements]


class NewerSchema(Exception):
    """The database was migrated by a newer version of the playground than this one."""


def migrate(tx: Any, dialect: str, now: float) -> int:
    """Run the migrations this database has not run yet, inside the caller's transaction
    (all of them land, or none); answers the version it is at now."""
    if dialect == "postgresql":  # replicas starting together: one migrates, the others wait
        tx.execute("SELECT pg_advisory_xact_lock(2020042001)", ())
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
               f"applied {TYPES[dialect]['time']} NOT NULL)", ())
    version = tx.execute("SELECT MAX(version) FROM schema_version", ()).fetchone()[0] or 0
    if version > LATEST:
        raise NewerSchema(f"the database is at schema version {version}, made by a newer "
                          f"playground than this one (which knows {LATEST}): upgrade it")
    for migration in MIGRATIONS[version:]:
        for sql in statements(migration, dialect):
            tx.execute(sql, ())
        if migration.then is not None:
            migration.then(tx, dialect)
        tx.execute("INSERT INTO schema_version VALUES (?, ?)", (migration.number, now))
    return LATEST
