"""The two databases behind the Store: what differs between them, and nothing else.

The Store writes its SQL once, with `?` placeholders; a database runs it (PostgreSQL's
driver wants `%s`), wraps it in its transactions, and turns its driver's errors into
StoreError: StoreUnavailable when the database cannot be reached (a restart: the next
call reconnects), StoreError for the rest (a full disk, a file that cannot be written).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class StoreError(RuntimeError):
    """The database cannot be written (or read); the message says where and why."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (restarting, or the network): try again shortly."""


class Fenced(StoreUnavailable):
    """A replica's save refused: another replica holds the experiment now (this one was
    silent too long), and only the holder writes it."""


class Cursor(Protocol):
    rowcount: int

    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...


class Transaction(Protocol):
    def execute(self, sql: str, args: tuple[Any, ...]) -> Cursor: ...


class Database(Protocol):
    dialect: str  # "sqlite" | "postgresql": which spelling of migrations.TYPES
    where: str  # for messages: the file, or the server and database
    for_update: str  # what locks the rows a SELECT reads, until the transaction ends

    def open(self) -> None: ...
    def close(self) -> None: ...
    def run(self, sql: str, args: tuple[Any, ...], write: bool) -> tuple[list[Any], int]: ...
    def transaction(self) -> contextlib.AbstractContextManager[Transaction]: ...
    def json_text(self, column: str, *keys: str) -> str: ...


def writable_hint(directory: Path) -> str:
    """What to do when the data directory cannot be written: most often a bind mount owned
    by another user than the server's (the image runs as uid 10001)."""
    return (f"The data directory {directory} must be a directory that user {os.getuid()} "
            f"can write: on a bind mount, run `chown {os.getuid()} DIR` on the host (or "
            f"podman's `-v DIR:{directory}:U`), or set PLAYGROUND_DATA_DIR / --data-dir")


class SQLite:
    """One file, one connection used from worker threads under a lock; WAL mode so a
    kill -9 loses at most the last unsaved change, never the file."""

    dialect = "sqlite"
    for_update = ""  # BEGIN IMMEDIATE already holds the whole file

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), check_same_thread=False,
                                 isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
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

    def run(self, sql: str, args: tuple[Any, ...], write: bool) -> tuple[list[Any], int]:
        with self._lock:
            try:
                cursor = self._conn().execute(sql, args)
                return cursor.fetchall(), cursor.rowcount
            except sqlite3.Error as exc:
                doing = "save to" if write else "read"
                raise StoreError(f"cannot {doing} {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Several statements, all or none; IMMEDIATE takes the write lock at once, so two
        processes on one file never both read and then both fail to write."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db  # type: ignore[misc]
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    def json_text(self, column: str, *keys: str) -> str:
        return f"json_extract({column}, '$.{'.'.join(keys)}')"


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """`?` as psycopg's `%s` (a literal % doubled); the Store's SQL has no other `?`."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTransaction:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, args: tuple[Any, ...]) -> Cursor:
        return self.conn.execute(_placeholders(sql), args)  # type: ignore[no-any-return]


class PostgreSQL:
    """A pool of connections (psycopg 3), shared by the threads of one replica; other
    replicas have theirs. A connection is checked before each use, so a restart of the
    database while nobody called goes unnoticed. A call that fails while the database is
    away raises StoreUnavailable; the next one tries to connect at once (rather than
    wait for the pool's backoff, which grows to minutes) and, if the database is back,
    starts from a fresh pool."""

    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, max_size: int = 16, timeout: float = 5.0) -> None:
        try:  # the cluster extra: imported only for PostgreSQL
            import psycopg
            import psycopg_pool  # noqa: F401
        except ImportError as exc:
            raise StoreError(f"a PostgreSQL database_url needs the driver: pip install -e "
                             f"\".[cluster]\" ({exc})") from exc
        self._psycopg = psycopg
        self.url = url
        parts = urlsplit(url)
        # no password in messages
        self.where = f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}" \
                     f"{parts.path or '/'}"
        self.max_size = max_size
        self.timeout = timeout  # longest a call waits for a connection (a restart's time)
        self._pool: Any = None
        self._broken = False  # the last call lost the database: reconnect before the next
        self._swap = threading.Lock()

    def open(self) -> None:
        self._pool = self._new_pool()
        self._broken = False

    def _new_pool(self) -> Any:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(self.url, min_size=1, max_size=self.max_size, open=False,
                              timeout=self.timeout, kwargs={"autocommit": True},
                              check=ConnectionPool.check_connection, name="playground")
        try:
            pool.open(wait=True, timeout=self.timeout)
        except self._psycopg.Error as exc:
            pool.close(timeout=0)
            raise StoreUnavailable(f"cannot connect to {self.where}: {_first_line(exc)}") \
                from exc
        return pool

    def close(self) -> None:
        with self._swap:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _live_pool(self) -> Any:
        if self._broken:
            with self._swap:
                if self._broken and self._pool is not None:
                    try:  # fails at once while the server is down (connection refused)
                        self._psycopg.connect(self.url, connect_timeout=max(
                            2, round(self.timeout))).close()
                    except self._psycopg.Error as exc:
                        raise StoreUnavailable(f"the database ({self.where}) cannot be "
                                               f"reached: {_first_line(exc)}; try again in "
                                               "a moment") from exc
                    old, self._pool = self._pool, self._new_pool()
                    self._broken = False
                    old.close(timeout=0)
        if self._pool is None:
            raise StoreError(f"the database at {self.where} is closed (the server is stopping)")
        return self._pool

    @contextlib.contextmanager
    def _connection(self, write: bool) -> Iterator[Any]:
        psycopg = self._psycopg
        try:
            with self._live_pool().connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:  # the pool's PoolTimeout is one too
            self._broken = True
            raise StoreUnavailable(f"the database ({self.where}) cannot be reached: "
                                   f"{_first_line(exc)}; try again in a moment") from exc
        except psycopg.Error as exc:
            doing = "save to" if write else "read"
            raise StoreError(f"cannot {doing} {self.where}: {_first_line(exc)}") from exc

    def run(self, sql: str, args: tuple[Any, ...], write: bool) -> tuple[list[Any], int]:
        with self._connection(write) as conn:
            cursor = conn.execute(_placeholders(sql), args)
            rows = cursor.fetchall() if cursor.description is not None else []
            return rows, cursor.rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._connection(True) as conn, conn.transaction():
            yield _PgTransaction(conn)

    def json_text(self, column: str, *keys: str) -> str:
        return f"({column}::json #>> '{{{','.join(keys)}}}')"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def database(location: Path | str) -> Database:
    """A path (or sqlite:///PATH) is a SQLite file; postgresql://... a PostgreSQL server."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgreSQL(text)
    return SQLite(text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text)
