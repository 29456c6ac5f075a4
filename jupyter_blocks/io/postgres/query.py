"""A query on PostgreSQL that reads DataFrames: temporary tables and the query on one session.

What belongs here: the pieces :meth:`Postgres.query_with_upstreams` runs on one ADBC connection
(one server session, one transaction):

- :func:`create_temporary_table`: a frame cut into chunks (``copy.chunks_of``), a
  ``CREATE TEMPORARY TABLE ... ON COMMIT DROP`` with the column types of an export
  (``types.wire_schema``), filled through binary ``COPY`` (``adbc_ingest``). Temporary tables
  live in the session's ``pg_temp`` schema, which PostgreSQL searches before any other, so an
  unqualified name finds them; they are dropped when the transaction ends, committed or not.
- :func:`to_positional` and :func:`run_query`: the query keeps psycopg's placeholders
  (``%(name)s``, ``%s``, ``%%``), as :meth:`Postgres.load` takes them, and runs with ADBC's ``$1,
  $2...``. psycopg sends a Python ``str`` (and ``None``) with no type, so PostgreSQL infers it
  from where it stands (``day >= '2020-10-01'`` compares dates); ADBC would send ``text``. So
  when a query has such values, their types are first asked of the server (``PREPARE`` with
  ``unknown`` types, then ``pg_prepared_statements``) and they are bound as ``CAST($n AS type)``.
- The result goes through ``types.frame_from_arrow``, so it has the dtypes
  :meth:`Postgres.load` gives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.io.postgres.copy import chunks_of, reader_of
from jupyter_blocks.io.postgres.types import (
    column_type,
    frame_from_arrow,
    quote_identifier,
    wire_schema,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"%%|%\((?P<name>[^)]*)\)[sbt]|%[sbt]|%")
_INFER_STATEMENT = "_jb_parameter_types"
_TEXT_TYPES = frozenset({"text", "unknown"})


def create_temporary_table(cursor: Any, table: str, data: Any, chunk_bytes: int) -> int:
    """Create ``table`` as a temporary table holding ``data``; return its row count.

    The table is dropped at the end of the cursor's transaction (``ON COMMIT DROP``).
    """
    chunks = chunks_of(data, chunk_bytes)
    wire, definitions = wire_schema(chunks.schema)
    cursor.execute(
        f"CREATE TEMPORARY TABLE {quote_identifier(table)} ({', '.join(definitions)}) "
        "ON COMMIT DROP"
    )
    cursor.adbc_ingest(table, reader_of(chunks, wire), mode="append", temporary=True)
    return chunks.rows


@dataclass(frozen=True)
class Positional:
    """A query with numbered placeholders: ``parts`` around them and the values bound.

    Attributes:
        parts: SQL text before, between and after the placeholders (one more than ``numbers``).
        numbers: The parameter number (from 1) of each placeholder, in order.
        values: The value of parameter ``n`` at index ``n - 1``.
    """

    parts: tuple[str, ...]
    numbers: tuple[int, ...] = ()
    values: tuple[Any, ...] = ()

    def sql(self, casts: Mapping[int, str] | None = None) -> str:
        """The SQL with ``$n`` placeholders; ``CAST($n AS type)`` for the numbers in ``casts``."""
        pieces = [self.parts[0]]
        for number, part in zip(self.numbers, self.parts[1:], strict=True):
            cast = (casts or {}).get(number)
            pieces.append(f"CAST(${number} AS {cast})" if cast else f"${number}")
            pieces.append(part)
        return "".join(pieces)


def to_positional(query: str, params: Mapping[str, Any] | Sequence[Any] | None) -> Positional:
    """Turn psycopg placeholders (``%(name)s`` with a mapping, ``%s`` with a sequence) into ``$n``.

    As with psycopg, ``%`` is special only when parameters are given: then a literal ``%`` is
    written ``%%``.

    Raises:
        ConfigError: A lone ``%``, a name missing from ``params``, or a count that differs.
    """
    if not params:
        return Positional((query,))
    parts: list[str] = []
    numbers: list[int] = []
    values: list[Any] = []
    by_name: dict[str, int] = {}
    text: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(query):
        text.append(query[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "%%":
            text.append("%")
            continue
        if token == "%":
            raise ConfigError(
                "query: a '%' must be doubled ('%%') when parameters are given, "
                "unless it is a placeholder (%s, %(name)s)"
            )
        name = match.group("name")
        if isinstance(params, Mapping):
            if name is None:
                raise ConfigError("query: use %(name)s placeholders with a mapping of parameters")
            if name not in params:
                raise ConfigError(f"query: no parameter '{name}' among {', '.join(params)}")
            if name not in by_name:
                values.append(params[name])
                by_name[name] = len(values)
            number = by_name[name]
        else:
            if name is not None:
                raise ConfigError("query: use %s placeholders with a sequence of parameters")
            number = len(numbers) + 1
            if number <= len(params):
                values.append(params[number - 1])
        parts.append("".join(text))
        text = []
        numbers.append(number)
    text.append(query[position:])
    parts.append("".join(text))
    if not isinstance(params, Mapping) and len(numbers) != len(params):
        raise ConfigError(
            f"query: {len(numbers)} placeholders, {len(params)} value"
            f"{'' if len(params) == 1 else 's'}"
        )
    return Positional(tuple(parts), tuple(numbers), tuple(values))


def run_query(
    cursor: Any, query: str, params: Mapping[str, Any] | Sequence[Any] | None
) -> pd.DataFrame:
    """Run ``query`` (psycopg placeholders) on the cursor's session; rows as a DataFrame."""
    import pandas as pd

    positional = to_positional(query, params)
    batch = _parameter_batch(positional.values)
    casts = _inferred_casts(cursor, positional, batch) if batch is not None else {}
    cursor.execute(positional.sql(casts), batch)
    if not cursor.description:
        return pd.DataFrame()
    return frame_from_arrow(cursor.fetch_arrow_table())


def _parameter_batch(values: Sequence[Any]) -> pa.RecordBatch | None:
    """One row of parameters; ``str`` and ``None`` as text, other values typed by Arrow."""
    if not values:
        return None
    import pyarrow as pa

    arrays = []
    for value in values:
        if value is None or isinstance(value, str):
            arrays.append(pa.array([value], pa.string()))
        else:
            arrays.append(pa.array([value]))
    return pa.record_batch(arrays, names=[f"p{index}" for index in range(1, len(values) + 1)])


def _inferred_casts(cursor: Any, positional: Positional, batch: pa.RecordBatch) -> dict[int, str]:
    """The types PostgreSQL infers for the ``str``/``None`` parameters, where not ``text``.

    Asked with ``PREPARE`` under a savepoint; a statement that cannot be prepared (DDL, a query
    whose parameter types stay ambiguous) keeps its parameters as sent, and runs into the
    server's own error, if any, when executed.
    """
    untyped = [
        number
        for number, value in enumerate(positional.values, start=1)
        if value is None or isinstance(value, str)
    ]
    if not untyped:
        return {}
    declared = [
        "unknown" if number in untyped else _declared_type(batch.schema.field(number - 1).type)
        for number in range(1, len(positional.values) + 1)
    ]
    cursor.execute("SAVEPOINT _jb_infer")
    try:
        cursor.execute(f"PREPARE {_INFER_STATEMENT} ({', '.join(declared)}) AS {positional.sql()}")
        cursor.execute(
            "SELECT parameter_types::text[] AS types FROM pg_prepared_statements "
            f"WHERE name = '{_INFER_STATEMENT}'"
        )
        (types,) = cursor.fetchone()
        cursor.execute(f"DEALLOCATE {_INFER_STATEMENT}")
    except Exception as exc:
        cursor.execute("ROLLBACK TO SAVEPOINT _jb_infer")
        logger.debug("postgres: parameter types not inferred: %s", " ".join(str(exc).split()))
        return {}
    cursor.execute("RELEASE SAVEPOINT _jb_infer")
    return {
        number: str(types[number - 1])
        for number in untyped
        if str(types[number - 1]) not in _TEXT_TYPES
    }


def _declared_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL type ADBC binds a parameter of ``arrow_type`` as."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"{_declared_type(arrow_type.value_type)}[]"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    try:
        return column_type(arrow_type)[0]
    except ConfigError:
        return "unknown"
