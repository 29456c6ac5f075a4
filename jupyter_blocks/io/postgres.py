"""PostgreSQL: bulk export of DataFrames through ADBC's COPY, and queries back to DataFrames.

What belongs here: the :class:`Postgres` connector, the pandas/Arrow → PostgreSQL type mapping and
the staging-table swap that makes ``if_exists='replace'`` atomic.

An export runs in ONE transaction on an ADBC connection: create the schema if missing, create the
target (or a staging table next to it), stream the frame in bounded Arrow chunks through binary
``COPY``, and for ``replace`` drop the old table and rename the staging table into its place. A
failure anywhere (a bad row, a killed process, a dropped connection) rolls the transaction back,
so the previous table keeps its rows and no staging table is left behind. Queries go through
SQLAlchemy (psycopg 3) with parameters bound by the driver: ``%(name)s`` with a mapping or ``%s``
with a sequence.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_blocks.errors import ConfigError, ConnectorError
from jupyter_blocks.io._base import (
    Connector,
    check_if_exists,
    quotes_secret,
    require,
    wrap_error,
)
from jupyter_blocks.io.config import Profile

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import sqlalchemy

logger = logging.getLogger(__name__)

#: Target size of one Arrow chunk sent through COPY. Bounds the extra memory of an export; 2-8 MiB
#: measured fastest (smaller chunks let the server insert while the next chunk is encoded).
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024

_INT_OIDS = {20, 21, 23}
_BOOL_OID = 16
_TIMESTAMP_OID = 1114
_TIMESTAMPTZ_OID = 1184


def quote_identifier(name: str) -> str:
    """Quote ``name`` as one PostgreSQL identifier (``x; drop table y`` stays a name)."""
    if "\x00" in name:
        raise ConfigError(f"identifier {name!r}: contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def column_type(arrow_type: pa.DataType) -> tuple[str, pa.DataType]:
    """Map an Arrow type to ``(PostgreSQL type, Arrow type to send through binary COPY)``.

    Binary COPY needs the wire type to match the column exactly, so e.g. ``int8`` is widened to
    ``int16`` for a ``SMALLINT`` column.

    Raises:
        ConfigError: For types PostgreSQL columns cannot hold here (lists, structs, ...).
    """
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return column_type(arrow_type.value_type)
    simple: list[tuple[Any, str, pa.DataType]] = [
        (t.is_boolean, "BOOLEAN", pa.bool_()),
        (lambda x: t.is_int8(x) or t.is_int16(x) or t.is_uint8(x), "SMALLINT", pa.int16()),
        (lambda x: t.is_int32(x) or t.is_uint16(x), "INTEGER", pa.int32()),
        (lambda x: t.is_int64(x) or t.is_uint32(x), "BIGINT", pa.int64()),
        (t.is_uint64, "NUMERIC(20)", pa.decimal128(20, 0)),
        (lambda x: t.is_float16(x) or t.is_float32(x), "REAL", pa.float32()),
        (t.is_float64, "DOUBLE PRECISION", pa.float64()),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_null(x), "TEXT", pa.string()),
        (lambda x: t.is_string_view(x), "TEXT", pa.string()),
        (lambda x: t.is_binary(x) or t.is_large_binary(x), "BYTEA", pa.binary()),
        (t.is_date, "DATE", pa.date32()),
        (t.is_time, "TIME", pa.time64("us")),
    ]
    for predicate, sql_type, wire_type in simple:
        if predicate(arrow_type):
            return sql_type, wire_type
    if t.is_timestamp(arrow_type):
        sql_type = "TIMESTAMPTZ" if arrow_type.tz is not None else "TIMESTAMP"
        return sql_type, arrow_type
    if t.is_decimal(arrow_type):
        return f"NUMERIC({arrow_type.precision},{arrow_type.scale})", arrow_type
    if t.is_duration(arrow_type):
        return "INTERVAL", arrow_type
    raise ConfigError(f"type {arrow_type} has no PostgreSQL column type here")


def wire_schema(schema: pa.Schema) -> tuple[pa.Schema, list[str]]:
    """Return the Arrow schema sent through COPY and the ``CREATE TABLE`` column definitions."""
    import pyarrow as pa

    fields: list[pa.Field] = []
    definitions: list[str] = []
    for arrow_field in schema:
        try:
            sql_type, wire_type = column_type(arrow_field.type)
        except ConfigError as exc:
            raise ConfigError(f"column {arrow_field.name!r}: {exc}") from None
        fields.append(pa.field(arrow_field.name, wire_type))
        definitions.append(f"{quote_identifier(arrow_field.name)} {sql_type}")
    return pa.schema(fields), definitions


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
    ) -> None:
        self.host, self.port, self.dbname, self.user = host, port, dbname, user
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.profile_name = profile_name
        self.chunk_bytes = chunk_bytes
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
            frame.isetitem(position, _fix_dtype(frame.iloc[:, position], column[1]))
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
        """Write ``df`` to ``schema.table`` through binary COPY, in one transaction.

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
        source_schema, batches, rows = _arrow_batches(df, self.chunk_bytes)
        where = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        dbapi = require("adbc_driver_postgresql.dbapi", "adbc-driver-postgresql", "postgres")
        started = time.perf_counter()
        try:
            connection = dbapi.connect(
                self._url("postgresql").render_as_string(hide_password=False)
            )
        except Exception as exc:
            raise self._fail(f"cannot connect to export {where}", exc) from exc
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
                existing = _existing_columns(cursor, schema, table)
                if existing is not None and mode == "fail":
                    raise ConnectorError(
                        f"{self._context('postgres')}: table {where} exists (if_exists='fail')"
                    )
                if existing is not None and mode == "append":
                    send_schema = _append_schema(source_schema, existing, where)
                    target = table
                else:
                    send_schema, definitions = wire_schema(source_schema)
                    target = table if existing is None else f"_jb_staging_{uuid.uuid4().hex[:16]}"
                    cursor.execute(
                        f"CREATE TABLE {quote_identifier(schema)}.{quote_identifier(target)} "
                        f"({', '.join(definitions)})"
                    )
                reader = _reader(batches, send_schema)
                cursor.adbc_ingest(target, reader, mode="append", db_schema_name=schema)
                if target != table:
                    cursor.execute(f"DROP TABLE {where}")
                    cursor.execute(
                        f"ALTER TABLE {quote_identifier(schema)}.{quote_identifier(target)} "
                        f"RENAME TO {quote_identifier(table)}"
                    )
            connection.commit()
        except ConnectorError:
            _rollback(connection)
            raise
        except Exception as exc:
            _rollback(connection)
            raise self._fail(f"export to {where} failed, nothing was changed", exc) from exc
        finally:
            connection.close()
        logger.info(
            "postgres%s: wrote %d rows to %s (%s) in %.2f s",
            f" profile '{self.profile_name}'" if self.profile_name else "",
            rows,
            where,
            mode,
            time.perf_counter() - started,
        )
        return rows


def _driver_params(params: Mapping[str, Any] | Sequence[Any] | None) -> Any:
    """One set of parameters for psycopg (a list would mean "execute many" to SQLAlchemy)."""
    if not params:
        return None
    return dict(params) if isinstance(params, Mapping) else tuple(params)


def _rollback(connection: Any) -> None:
    try:
        connection.rollback()
    except Exception:  # the connection may be gone; the server rolls back on its own
        logger.debug("rollback after a failed export failed", exc_info=True)


def _existing_columns(cursor: Any, schema: str, table: str) -> dict[str, str] | None:
    """Return the table's ``{column: type name}``, or None when it does not exist."""
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        parameters=(schema, table),
    )
    rows = cursor.fetchall()
    if rows:
        return {str(name): str(type_name) for name, type_name in rows}
    cursor.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        parameters=(schema, table),
    )
    return {} if cursor.fetchall() else None


def _append_schema(source: pa.Schema, existing: Mapping[str, str], where: str) -> pa.Schema:
    """Arrow types matching an existing table's columns, for binary COPY into it."""
    import pyarrow as pa

    by_pg_type = {
        "int2": pa.int16(),
        "int4": pa.int32(),
        "int8": pa.int64(),
        "float4": pa.float32(),
        "float8": pa.float64(),
        "text": pa.string(),
        "varchar": pa.string(),
        "bpchar": pa.string(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "bytea": pa.binary(),
    }
    missing = [name for name in source.names if name not in existing]
    if missing:
        raise ConfigError(f"append to {where}: the table has no column {', '.join(missing)}")
    fields = []
    for arrow_field in source:
        pg_type = existing[arrow_field.name]
        wire = by_pg_type.get(pg_type)
        if wire is None:
            wire = column_type(arrow_field.type)[1]
            if pg_type == "timestamptz" and pa.types.is_timestamp(wire) and wire.tz is None:
                wire = pa.timestamp(wire.unit, tz="UTC")
            elif pg_type == "timestamp" and pa.types.is_timestamp(wire) and wire.tz is not None:
                wire = pa.timestamp(wire.unit)
        fields.append(pa.field(arrow_field.name, wire))
    return pa.schema(fields)


def _arrow_batches(data: Any, chunk_bytes: int) -> tuple[pa.Schema, Iterator[pa.RecordBatch], int]:
    """Split a DataFrame or Arrow table into lazily converted Arrow batches of bounded size."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        rows = data.num_rows
        per_row = max(1, data.nbytes // max(1, rows))
        chunk_rows = max(1024, chunk_bytes // per_row)
        return data.schema, iter(data.to_batches(max_chunksize=chunk_rows)), rows
    columns = [str(name) for name in data.columns]
    if len(set(columns)) != len(columns):
        raise ConfigError("postgres export: column names must be unique")
    frame = data.set_axis(columns, axis=1) if list(data.columns) != columns else data
    schema = pa.Schema.from_pandas(frame, preserve_index=False).remove_metadata()
    rows = len(frame)
    sample = frame.iloc[:1000]
    per_row = max(1, int(sample.memory_usage(index=False, deep=True).sum()) // max(1, len(sample)))
    chunk_rows = max(1024, chunk_bytes // per_row)

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, rows, chunk_rows):
            chunk = frame.iloc[start : start + chunk_rows]
            yield pa.RecordBatch.from_pandas(chunk, schema=schema, preserve_index=False)

    return schema, batches(), rows


def _reader(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatchReader:
    import pyarrow as pa

    def cast() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield batch.cast(schema, safe=False)

    return pa.RecordBatchReader.from_batches(schema, cast())


def _fix_dtype(column: pd.Series, type_code: Any) -> pd.Series:
    import pandas as pd

    if type_code in _INT_OIDS and column.dtype.kind in {"f", "O"}:
        return column.astype("Int64")
    if type_code == _BOOL_OID and column.dtype.kind == "O":
        return column.astype("boolean")
    if type_code == _TIMESTAMPTZ_OID:
        return pd.to_datetime(column, utc=True)
    if type_code == _TIMESTAMP_OID:
        return pd.to_datetime(column)
    return column
