"""PostgreSQL column types: pandas/Arrow → PostgreSQL on export, PostgreSQL → pandas on load.

What belongs here: identifier quoting, the Arrow → ``CREATE TABLE`` type mapping and the Arrow
types sent through binary ``COPY`` (which must match the columns exactly), the same for appending
to an existing table's columns, and the dtype fixes applied to query results: to psycopg's rows
(:func:`fix_dtype`) and to ADBC's Arrow results (:func:`frame_from_arrow`), so a query gives the
same DataFrame through either driver.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.io.dialects import POSTGRES

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_INT_OIDS = {20, 21, 23}
_BOOL_OID = 16
_TIMESTAMP_OID = 1114
_TIMESTAMPTZ_OID = 1184


#: Quote a name as one PostgreSQL identifier.
quote_identifier = POSTGRES.quote_identifier


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


def append_schema(source: pa.Schema, existing: Mapping[str, str], where: str) -> pa.Schema:
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


def fix_dtype(column: pd.Series, type_code: Any) -> pd.Series:
    """Give a query result column the pandas dtype its PostgreSQL type (an OID) calls for."""
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


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """Convert an ADBC query result to the DataFrame :meth:`Postgres.load` gives for it.

    Integers become ``int64`` (``Int64`` when they hold NULLs), floats and ``numeric`` become
    ``float64``, ``interval`` becomes ``timedelta64`` (a month counted as 30 days, as psycopg does),
    ``json``/``jsonb`` become Python objects and arrays Python lists; types ADBC passes as opaque
    values keep their text.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from jupyter_blocks.io.connector import arrow_to_pandas

    columns: list[Any] = []
    as_python: dict[int, list[Any]] = {}
    for position, column in enumerate(table.columns):
        kind = column.type
        extension = getattr(kind, "extension_name", None)
        if extension is not None:
            storage = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], kind.storage_type
            )
            if extension == "arrow.opaque" and kind.type_name == "numeric":
                column = pc.cast(storage, pa.float64())
            elif extension == "arrow.json":
                as_python[position] = [
                    None if text is None else json.loads(text) for text in storage.to_pylist()
                ]
            elif extension != "arrow.uuid":
                column = storage
        elif pa.types.is_integer(kind):
            column = column.cast(pa.int64())
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_interval(kind):
            as_python[position] = [
                None
                if value is None
                else dt.timedelta(
                    days=30 * value.months + value.days, microseconds=value.nanoseconds // 1000
                )
                for value in column.to_pylist()
            ]
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            as_python[position] = column.to_pylist()
        columns.append(column)
    frame = arrow_to_pandas(pa.Table.from_arrays(columns, names=table.column_names))
    for position, values in as_python.items():
        # Built as psycopg's rows are, so the dtype is the one Postgres.load gives.
        records = pd.DataFrame.from_records([(value,) for value in values], columns=["value"])
        frame.isetitem(position, records["value"])
    return frame
