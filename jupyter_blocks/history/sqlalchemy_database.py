"""The run store on any database SQLAlchemy reaches (PostgreSQL, MySQL, SQLite with options).

What belongs here: the store's tables as SQLAlchemy metadata (created in the database's own
dialect) and the :class:`~jupyter_blocks.history.database.Connection` interface over a
SQLAlchemy connection. Imported only for such URLs: the default SQLite store does without it.

Several runs may open a new store at once. SQLAlchemy creates a table when its check found none,
so two creators can both decide to create it: on PostgreSQL creation holds an advisory lock
(one creator at a time, the others then find the tables), and on every database a creation that
fails is tried again while the tables are not all there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from jupyter_blocks.history.database import (
    BLOCK_RUNS,
    PIPELINE_RUNS,
    Connection,
    damaged_error,
    open_error,
)

#: The advisory lock PostgreSQL stores hold while they create their tables ("jbstore").
_CREATE_LOCK = 0x6A6273746F7265

#: Tries at creating the tables while other processes create them too.
_CREATE_TRIES = 5


def tables(metadata: sa.MetaData) -> None:
    """Add the store's two tables to ``metadata`` (the columns of ``SQLITE_SCHEMA``)."""
    sa.Table(
        PIPELINE_RUNS, metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(255), nullable=False, index=True),
        sa.Column("target", sa.Text),
        sa.Column("variables", sa.Text),
        sa.Column("trigger", sa.String(64)),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("seconds", sa.Float),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
    )
    sa.Table(
        BLOCK_RUNS, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey(f"{PIPELINE_RUNS}.run_id"),
                  index=True),
        sa.Column("block", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("seconds", sa.Float),
        sa.Column("rows", sa.Integer),
        sa.Column("cols", sa.Integer),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("traceback", sa.Text),
        sa.Column("output", sa.Text),
    )


class SQLAlchemyDatabase:
    """A store database reached through a SQLAlchemy engine.

    Args:
        url: A SQLAlchemy URL.

    Raises:
        ConfigError: The URL is not valid, its driver is missing or the database is down.
    """

    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url)
            _create_tables(self.engine)
        except sa.exc.DBAPIError as exc:
            raise (_damaged(self.engine, exc) or open_error(url, exc)) from None
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise open_error(url, exc) from None
        self.name = self.engine.dialect.name
        self.returning = bool(getattr(self.engine.dialect, "insert_returning", False))
        self._statements: dict[str, sa.TextClause] = {}

    def connect(self) -> Connection:
        """A connection from the engine's pool."""
        return _Connection(self, self.engine.connect())

    def statement(self, sql: str) -> sa.TextClause:
        """``sql`` as a text clause, made once."""
        found = self._statements.get(sql)
        if found is None:
            found = self._statements[sql] = sa.text(sql)
        return found


def _create_tables(engine: sa.Engine) -> None:
    """Create the store's tables where missing, while other processes may be doing the same."""
    metadata = sa.MetaData()
    tables(metadata)
    for attempt in range(1, _CREATE_TRIES + 1):
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": _CREATE_LOCK})
                metadata.create_all(connection)
            return
        except (sa.exc.ProgrammingError, sa.exc.IntegrityError, sa.exc.OperationalError):
            # Another process created a table between this one's check and its CREATE.
            present = set(sa.inspect(engine).get_table_names())
            if {PIPELINE_RUNS, BLOCK_RUNS} <= present:
                return
            if attempt == _CREATE_TRIES:
                raise
            time.sleep(0.05 * attempt)


def _damaged(engine: sa.Engine, exc: sa.exc.DBAPIError) -> Exception | None:
    """The "store is damaged" error when ``exc`` is SQLite's for a damaged file."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        return None
    return damaged_error(database, exc.orig) if exc.orig is not None else None


class _Connection:
    def __init__(self, database: SQLAlchemyDatabase, connection: sa.Connection) -> None:
        self.database = database
        self.connection = connection
        self._writing = False

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._damage_named():
            result = self.connection.execute(self.database.statement(sql), dict(params or {}))
            found = [dict(row._mapping) for row in result]
        self._end_read()
        return found

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with self._damage_named():
            self.connection.execute(self.database.statement(sql), dict(params or {}))
        self._end_read()

    def insert(self, sql: str, params: Mapping[str, Any]) -> int:
        with self._damage_named():
            if self.database.returning:
                result = self.connection.execute(
                    self.database.statement(sql + " RETURNING id"), dict(params))
                new_id = int(result.scalar_one())
            else:
                result = self.connection.execute(self.database.statement(sql), dict(params))
                new_id = int(result.lastrowid)
        self._end_read()
        return new_id

    @contextlib.contextmanager
    def _damage_named(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            if not self._writing:
                # A statement of its own failed (a duplicate key the caller expects): end its
                # transaction, so the connection serves the next statement.
                with contextlib.suppress(Exception):
                    self.connection.rollback()
            damaged = _damaged(self.database.engine, exc)
            if damaged is None:
                raise
            raise damaged from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            self._writing = False
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()

    def _end_read(self) -> None:
        # Outside a write transaction a statement ends its own (autobegun) transaction, so an
        # idle connection holds no snapshot or lock.
        if not self._writing:
            self.connection.commit()
