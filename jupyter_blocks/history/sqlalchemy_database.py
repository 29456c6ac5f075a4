"""The run store on any database SQLAlchemy reaches (PostgreSQL, MySQL, SQLite with options).

What belongs here: the store's tables as SQLAlchemy metadata (created in the database's own
dialect) and the :class:`~jupyter_blocks.history.database.Connection` interface over a
SQLAlchemy connection. Imported only for such URLs: the default SQLite store does without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from jupyter_blocks.history.database import BLOCK_RUNS, PIPELINE_RUNS, Connection, open_error


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
            metadata = sa.MetaData()
            tables(metadata)
            metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.OperationalError, ImportError) as exc:
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


class _Connection:
    def __init__(self, database: SQLAlchemyDatabase, connection: sa.Connection) -> None:
        self.database = database
        self.connection = connection
        self._writing = False

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.connection.execute(self.database.statement(sql), dict(params or {}))
        found = [dict(row._mapping) for row in result]
        self._end_read()
        return found

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.connection.execute(self.database.statement(sql), dict(params or {}))
        self._end_read()

    def insert(self, sql: str, params: Mapping[str, Any]) -> int:
        if self.database.returning:
            result = self.connection.execute(self.database.statement(sql + " RETURNING id"),
                                             dict(params))
            new_id = int(result.scalar_one())
        else:
            result = self.connection.execute(self.database.statement(sql), dict(params))
            new_id = int(result.lastrowid)
        self._end_read()
        return new_id

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
