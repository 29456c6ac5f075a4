"""PostgreSQL: bulk export of DataFrames through ADBC's binary COPY, and queries to DataFrames.

What belongs here: the :class:`Postgres` connector: its settings from a profile, the SQLAlchemy
engine for queries, and ``export``, which picks how a frame is loaded (``copy``) with the
column types of ``types``.

``export`` is atomic: ``replace`` loads a staging table and swaps it in with one transaction, so
a failure at any point (a bad row, a killed process, a dropped connection) leaves the previous
table and its rows untouched; ``append`` runs in one transaction. Frames of several chunks are
sent over several connections at once (``connections``), since the server's insert work is what
bounds a COPY. Queries go through SQLAlchemy (psycopg 3) with parameters bound by the driver:
``%(name)s`` with a mapping or ``%s`` with a sequence.

``query_with_upstreams`` is a SQL block's query over upstream DataFrames: on one ADBC connection
each frame becomes a temporary table named after its block (``query``), then the query runs
there, with the same placeholders and the same result dtypes as ``load``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import BlocksError, ConfigError, ConnectorError
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import (
    Connector,
    check_if_exists,
    quotes_secret,
    require,
    wrap_error,
)
from jupyter_blocks.io.postgres import copy as pg_copy
from jupyter_blocks.io.postgres import query as pg_query
from jupyter_blocks.io.postgres.types import fix_dtype, quote_identifier

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import sqlalchemy

logger = logging.getLogger(__name__)

#: Target size of one Arrow chunk sent through COPY. Bounds the extra memory of an export; 2-8 MiB
#: measured fastest (smaller chunks let the server insert while the next chunk is encoded).
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024

#: Connections that COPY the chunks of one large ``replace``/``fail`` export concurrently.
DEFAULT_CONNECTIONS = 2


class Postgres(Connector):
    """A PostgreSQL database: ``export`` DataFrames to tables, ``load`` queries to DataFrames."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 5432,
        dbname: str = "postgres",
        user: str = "postgres",
        password: str | None = None,
        schema: str = "public",
        connect_timeout: int | None = None,
        profile_name: str | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if connections < 1:
            raise ConfigError(f"postgres: connections must be at least 1, got {connections}")
        self.host, self.port, self.dbname, self.user = host, port, dbname, user
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.profile_name = profile_name
        self.chunk_bytes = chunk_bytes
        self.connections = connections
        self.__password = password
        self._engine: sqlalchemy.Engine | None = None

    @classmethod
    def from_profile(cls, profile: Profile) -> Postgres:
        """Build from a profile's ``POSTGRES_*`` keys."""
        password = profile.POSTGRES_PASSWORD
        return cls(
            host=profile.POSTGRES_HOST or "localhost",
            port=profile.POSTGRES_PORT or 5432,
            dbname=profile.POSTGRES_DBNAME or "postgres",
            user=profile.POSTGRES_USER or "postgres",
            password=password.get_secret_value() if password is not None else None,
            schema=profile.POSTGRES_SCHEMA or "public",
            connect_timeout=profile.POSTGRES_CONNECT_TIMEOUT,
            profile_name=profile.name,
        )

    def __repr__(self) -> str:
        profile = f", profile={self.profile_name!r}" if self.profile_name else ""
        return (
            f"Postgres(host={self.host!r}, port={self.port}, dbname={self.dbname!r}, "
            f"user={self.user!r}, schema={self.schema!r}{profile})"
        )

    def _url(self, drivername: str) -> sqlalchemy.URL:
        import sqlalchemy

        query = {"connect_timeout": str(self.connect_timeout)} if self.connect_timeout else {}
        return sqlalchemy.URL.create(
            drivername,
            username=self.user,
            password=self.__password,
            host=self.host,
            port=self.port,
            database=self.dbname,
            query=query,
        )

    @property
    def engine(self) -> sqlalchemy.Engine:
        """The SQLAlchemy engine (psycopg 3 driver), created on first use."""
        if self._engine is None:
            require("psycopg", "psycopg", "postgres")
            import sqlalchemy

            self._engine = sqlalchemy.create_engine(self._url("postgresql+psycopg"))
        return self._engine

    def _fail(self, action: str, exc: BaseException) -> ConnectorError:
        error = wrap_error(f"{self._context('postgres')}: {action}", exc, [self.__password])
        if quotes_secret(exc, [self.__password]):
            error.__suppress_context__ = True
        return error

    def load(
        self, query: str, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> pd.DataFrame:
        """Run ``query`` and return its rows as a DataFrame.

        Args:
            query: SQL; parameters are ``%(name)s`` (with a mapping) or ``%s`` (with a sequence).
            params: Values bound by the driver, never formatted into the SQL.

        Integer and boolean columns holding NULLs come back as nullable ``Int64``/``boolean``;
        ``timestamptz`` as UTC ``datetime64``.
        """
        import pandas as pd

        try:
            with self.engine.connect() as connection:
                result = connection.exec_driver_sql(query, _driver_params(params))
                if not result.returns_rows:
                    connection.commit()
                    return pd.DataFrame()
                description = result.cursor.description
                rows = result.fetchall()
        except Exception as exc:
            raise self._fail("query failed", exc) from exc
        names = [column[0] for column in description]
        frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
        for position, column in enumerate(description):
            frame.isetitem(position, fix_dtype(frame.iloc[:, position], column[1]))
        return frame

    @staticmethod
    def upstream_table(block: str) -> str:
        """The temporary table an upstream block becomes: its name as an unquoted name folds.

        PostgreSQL folds unquoted names to lower case, so ``FROM cleanTrips`` finds the table of
        block ``cleanTrips``.
        """
        return block.lower()

    def query_with_upstreams(
        self,
        query: str,
        params: Mapping[str, Any] | Sequence[Any] | None,
        upstreams: Mapping[str, Any],
    ) -> pd.DataFrame:
        """Run ``query`` where each upstream output is a temporary table named after its block.

        One ADBC connection holds one transaction: each frame is loaded through binary COPY into
        a temporary table (:meth:`upstream_table`; the session's temporary tables are found before
        any other table of that name), the query runs, and the commit drops the temporary tables
        and keeps what the query itself changed.

        Args:
            query: SQL with psycopg's placeholders, as for :meth:`load`.
            params: Values bound by the driver; a ``str`` takes the type its place calls for.
            upstreams: DataFrames or Arrow tables by block name.

        Raises:
            ConfigError: Two block names fold to the same table name.
            ConnectorError: A frame could not be loaded (naming its block) or the query failed.
        """
        tables: dict[str, tuple[str, Any]] = {}
        for block, data in upstreams.items():
            table = self.upstream_table(block)
            if table in tables:
                raise ConfigError(
                    f"{self._context('postgres')}: upstream blocks '{tables[table][0]}' and "
                    f"'{block}' are both table {table} in SQL"
                )
            tables[table] = (block, data)
        connection = self._connect("run a query")
        try:
            with connection.cursor() as cursor:
                for table, (block, data) in tables.items():
                    started = time.perf_counter()
                    try:
                        rows = pg_query.create_temporary_table(
                            cursor, table, data, self.chunk_bytes
                        )
                    except Exception as exc:
                        raise self._fail(
                            f"upstream block '{block}' could not be loaded into temporary "
                            f"table {quote_identifier(table)}",
                            exc,
                        ) from exc
                    logger.debug(
                        "postgres: upstream %s loaded into temporary table %s (%d rows, %.2f s)",
                        block,
                        table,
                        rows,
                        time.perf_counter() - started,
                    )
                try:
                    frame = pg_query.run_query(cursor, query, params)
                    connection.commit()
                except ConfigError:
                    raise
                except Exception as exc:
                    raise self._fail("query failed", exc) from exc
        except BaseException:
            pg_copy.rollback(connection)
            raise
        finally:
            pg_copy.close(connection)
        return frame

    def execute(
        self, statement: str, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> None:
        """Run one statement that returns no rows (DDL, ``INSERT``...) and commit it."""
        try:
            with self.engine.begin() as connection:
                connection.exec_driver_sql(statement, _driver_params(params))
        except Exception as exc:
            raise self._fail("statement failed", exc) from exc

    def export(
        self,
        df: pd.DataFrame | pa.Table,
        schema: str | None = None,
        table: str | None = None,
        if_exists: str = "replace",
    ) -> int:
        """Write ``df`` to ``schema.table`` through binary COPY, atomically.

        A frame of several chunks (``chunk_bytes``) is sent over ``connections`` connections at
        once for ``replace`` and ``fail``; ``append`` and small frames use one transaction.

        Args:
            df: A pandas DataFrame or an Arrow table.
            schema: Target schema (created when missing); the profile's schema when None.
            table: Target table name (quoted: any string is a name).
            if_exists: ``replace`` (atomic swap), ``append`` or ``fail``.

        Returns:
            The number of rows written.
        """
        if not table:
            raise ConfigError("postgres export: a table name is required")
        mode = check_if_exists(if_exists)
        schema = schema or self.schema
        chunks = pg_copy.chunks_of(df, self.chunk_bytes)
        where = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        context = self._context("postgres")
        started = time.perf_counter()
        parallel = mode != "append" and min(self.connections, chunks.count) > 1
        try:
            if parallel:
                pg_copy.load_in_parallel(
                    lambda: self._connect(f"export {where}"),
                    min(self.connections, chunks.count),
                    schema,
                    table,
                    mode,
                    chunks,
                    context,
                )
            else:
                connection = self._connect(f"export {where}")
                try:
                    pg_copy.load_in_one_transaction(
                        connection, schema, table, mode, chunks, context
                    )
                except BaseException:
                    pg_copy.rollback(connection)
                    raise
                finally:
                    pg_copy.close(connection)
        except BlocksError:
            raise
        except Exception as exc:
            raise self._fail(f"export to {where} failed, nothing was changed", exc) from exc
        logger.info(
            "postgres%s: wrote %d rows to %s (%s) in %.2f s",
            f" profile '{self.profile_name}'" if self.profile_name else "",
            chunks.rows,
            where,
            mode,
            time.perf_counter() - started,
        )
        return chunks.rows

    def _connect(self, purpose: str) -> Any:
        """A new ADBC connection (binary COPY), with errors naming what it was for."""
        dbapi = require("adbc_driver_postgresql.dbapi", "adbc-driver-postgresql", "postgres")
        try:
            return dbapi.connect(self._url("postgresql").render_as_string(hide_password=False))
        except Exception as exc:
            raise self._fail(f"cannot connect to {purpose}", exc) from exc


def _driver_params(params: Mapping[str, Any] | Sequence[Any] | None) -> Any:
    """One set of parameters for psycopg (a list would mean "execute many" to SQLAlchemy)."""
    if not params:
        return None
    return dict(params) if isinstance(params, Mapping) else tuple(params)
