"""The run store's database: SQLite through the standard library, any other URL through SQLAlchemy.

What belongs here: the two tables, the SQLite database (created when missing), and the one
small interface the store and its recorder use on either kind (:class:`Connection`: reads, write
transactions, the id of an inserted row). Statements are SQL text with ``:name`` parameters,
the same for both. Datetimes are stored as SQLAlchemy stores them (SQLite: text such as
``2020-10-01 06:00:00.000000``), so a store written by either is read by both.

SQLite, the default store, is opened with :mod:`sqlite3` (``store.open_database`` picks the
kind) because importing SQLAlchemy takes about 0.3 s, a quarter of a small headless run; a URL
naming another database (PostgreSQL:
``postgresql+psycopg://...``), or a SQLite URL with query options, goes through SQLAlchemy, which
also creates the tables there, in that database's own dialect.

Creating the tables is safe when several runs open a new store at once (``CREATE TABLE IF NOT
EXISTS`` here; SQLAlchemy's side serialises or retries). A SQLite file that is not a database or
is damaged is one error naming the file and what to do (:func:`damaged_error`), wherever it is
found: opening, recovering, reading or recording.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shlex
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.sqlite import open_sqlite

_T = TypeVar("_T")

#: SQLite's primary result codes for a file that is damaged or is not a database.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

PIPELINE_RUNS = "jb_pipeline_runs"
BLOCK_RUNS = "jb_block_runs"

#: The tables as SQLAlchemy creates them on SQLite from ``sqlalchemy_database.tables``.
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {PIPELINE_RUNS} (
    run_id VARCHAR(64) NOT NULL, pipeline VARCHAR(255) NOT NULL, target TEXT, variables TEXT,
    "trigger" VARCHAR(64), status VARCHAR(32) NOT NULL, started_at DATETIME NOT NULL,
    finished_at DATETIME, seconds FLOAT, host VARCHAR(255), pid INTEGER, PRIMARY KEY (run_id));
CREATE INDEX IF NOT EXISTS ix_{PIPELINE_RUNS}_pipeline ON {PIPELINE_RUNS} (pipeline);
CREATE INDEX IF NOT EXISTS ix_{PIPELINE_RUNS}_status ON {PIPELINE_RUNS} (status);
CREATE TABLE IF NOT EXISTS {BLOCK_RUNS} (
    id INTEGER NOT NULL, run_id VARCHAR(64), block VARCHAR(255) NOT NULL, attempt INTEGER,
    status VARCHAR(32) NOT NULL, started_at DATETIME, finished_at DATETIME, seconds FLOAT,
    rows INTEGER, cols INTEGER, bytes BIGINT, cache_key VARCHAR(64), error TEXT,
    traceback TEXT, output TEXT, PRIMARY KEY (id),
    FOREIGN KEY(run_id) REFERENCES {PIPELINE_RUNS} (run_id));
CREATE INDEX IF NOT EXISTS ix_{BLOCK_RUNS}_run_id ON {BLOCK_RUNS} (run_id);
"""


class Connection(Protocol):
    """One connection to the store's database."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a query, as dicts."""
        ...

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Execute a statement; outside :meth:`transaction` it is committed on return."""
        ...

    def insert(self, sql: str, params: Mapping[str, Any]) -> int:
        """Execute an ``INSERT`` into a table with an ``id`` column; the new row's id.

        Outside :meth:`transaction` it is committed on return.
        """
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """A write transaction: committed when the block ends, rolled back on an error."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class Database(Protocol):
    """A store database: where connections come from."""

    #: The dialect's name: ``sqlite``, ``postgresql``, ...
    name: str

    def connect(self) -> Connection:
        """A new connection."""
        ...


def sqlite_path(url: str) -> str | None:
    """The file (or ``:memory:``) of a plain SQLite URL; None for any other URL."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("sqlite", "sqlite+pysqlite") or "?" in rest:
        return None
    if rest in ("", "/", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else None


def safe_url(url: str) -> str:
    """The URL without its password."""
    if sqlite_path(url) is not None:
        return url
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(invalid URL)"


def as_stored(value: Any) -> Any:
    """A parameter as SQLite stores it: datetimes as SQLAlchemy's text, others unchanged."""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond:06d}"
    return value


def damaged_error(path: str, exc: BaseException) -> ConfigError | None:
    """The error for a SQLite store file that is damaged or not a database; None for others.

    Args:
        path: The store's file.
        exc: What :mod:`sqlite3` raised.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or path == ":memory:":
        return None
    aside = shlex.quote(f"{path}.damaged")
    return ConfigError(
        f"the run store {path} is damaged ({' '.join(str(exc).split())}): move it aside "
        f"(mv {shlex.quote(path)} {aside}) and the next run starts a new one; "
        "the runs it recorded are lost")


def open_error(url: str, exc: BaseException) -> ConfigError:
    """The error for a store that cannot be opened: the URL without its password, the cause."""
    message = " ".join(str(exc).split())[:200]
    return ConfigError(f"cannot open the run store {safe_url(url)}: {message}")


class SQLiteDatabase:
    """A SQLite file (or memory) store, through :mod:`sqlite3`.

    Write-ahead logging: readers (the Runs panel) never wait for a run's writes, a commit does
    not wait for the disk (a killed process loses nothing committed), and a second writer (a CLI
    run beside a kernel) waits up to 30 s for the first instead of failing.

    Args:
        path: The database file, or ``:memory:`` (one database shared by this object's
            connections).
    """

    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._memory: _SQLiteConnection | None = None
        with contextlib.closing(self._open()) as connection:
            connection.executescript(SQLITE_SCHEMA)

    def connect(self) -> Connection:
        """A new connection (for ``:memory:``, the one connection holding the data)."""
        if self.path == ":memory:":
            if self._memory is None:
                self._memory = _SQLiteConnection(self._open(), self.path, shared=True)
            return self._memory
        try:
            return _SQLiteConnection(self._open(), self.path)
        except sqlite3.DatabaseError as exc:
            raise (damaged_error(self.path, exc) or exc) from None

    def _open(self) -> sqlite3.Connection:
        connection = open_sqlite(self.path)
        connection.row_factory = sqlite3.Row
        return connection


def _damage_named(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn SQLite's "damaged" errors in a connection method into :func:`damaged_error`."""

    @functools.wraps(method)
    def checked(self: _SQLiteConnection, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            damaged = damaged_error(self.path, exc)
            if damaged is None:
                raise
            raise damaged from None

    return checked


class _SQLiteConnection:
    def __init__(self, connection: sqlite3.Connection, path: str, shared: bool = False) -> None:
        self.connection = connection
        self.path = path
        self._shared = shared

    @_damage_named
    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql, _stored(params))
        return [dict(row) for row in cursor.fetchall()]

    @_damage_named
    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.connection.execute(sql, _stored(params))

    @_damage_named
    def insert(self, sql: str, params: Mapping[str, Any]) -> int:
        cursor = self.connection.execute(sql, _stored(params))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once, so a second writer waits (busy timeout)
        # instead of failing when a read in the transaction would have to become a write.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        if not self._shared:
            self.connection.close()


def _stored(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: as_stored(value) if value.__class__ is dt.datetime else value
            for name, value in (params or {}).items()}
