"""Bulk loads into PostgreSQL: a frame cut into bounded Arrow chunks, sent through binary COPY.

What belongs here: cutting a DataFrame or Arrow table into chunks converted lazily (so an export
never holds a second copy of the frame), and the two ways :meth:`Postgres.export` loads them,
both through ADBC's ``adbc_ingest`` (binary ``COPY``):

- :func:`load_in_one_transaction` (``append``, frames of one chunk, one connection): create the
  schema, create the target or a staging table, COPY, and for ``replace`` drop the old table and
  rename the staging table into its place, all in ONE transaction. Any failure (a bad row, a
  killed process, a dropped connection) rolls it all back; nothing is left behind.
- :func:`load_in_parallel` (``replace``/``fail`` of frames of several chunks): the server, not the
  client, is the bottleneck of a COPY, so several connections fill one staging table concurrently.
  A connection cannot see another's uncommitted table, so the staging table is committed empty
  first; the swap is still one transaction, so the target is either the old table or the whole
  new one. On failure the staging table is dropped. A staging table that a killed process could
  not drop is named after the server process (pid) that created it, and the next export into
  that schema drops it once that process is gone (:func:`drop_orphans`).

Row order in the table follows the frame within a chunk; chunks loaded in parallel interleave
(as with any SQL table, ask for an order with ``ORDER BY``).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io.postgres.types import append_schema, quote_identifier, wire_schema

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

STAGING_PREFIX = "_jb_staging_"
_STAGING_NAME = re.compile(r"_jb_staging_([0-9]+)_[0-9a-f]+")


@dataclass(frozen=True)
class Chunks:
    """A frame cut into ``count`` chunks of ``chunk_rows`` rows, converted to Arrow on demand."""

    schema: pa.Schema
    rows: int
    chunk_rows: int
    convert: Callable[[int, int], pa.RecordBatch]

    @property
    def count(self) -> int:
        """Number of chunks (at least one, so an empty frame still creates its table)."""
        return max(1, -(-self.rows // self.chunk_rows))

    def batch(self, index: int) -> pa.RecordBatch:
        """Chunk ``index`` as an Arrow record batch."""
        start = index * self.chunk_rows
        return self.convert(start, min(self.rows, start + self.chunk_rows))


def chunks_of(data: Any, chunk_bytes: int) -> Chunks:
    """Cut a DataFrame or an Arrow table into chunks of about ``chunk_bytes`` (>= 1024 rows)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        table = data
        per_row = max(1, table.nbytes // max(1, table.num_rows))

        def from_table(start: int, stop: int) -> pa.RecordBatch:
            columns = table.slice(start, stop - start).columns
            return pa.record_batch([c.combine_chunks() for c in columns], schema=table.schema)

        chunk_rows = max(1024, chunk_bytes // per_row)
        return Chunks(table.schema, table.num_rows, chunk_rows, from_table)
    columns = [str(name) for name in data.columns]
    if len(set(columns)) != len(columns):
        raise ConfigError("postgres export: column names must be unique")
    frame = data.set_axis(columns, axis=1) if list(data.columns) != columns else data
    schema = pa.Schema.from_pandas(frame, preserve_index=False).remove_metadata()
    sample = frame.iloc[:1000]
    per_row = max(1, int(sample.memory_usage(index=False, deep=True).sum()) // max(1, len(sample)))

    def from_frame(start: int, stop: int) -> pa.RecordBatch:
        return pa.RecordBatch.from_pandas(
            frame.iloc[start:stop], schema=schema, preserve_index=False
        )

    return Chunks(schema, len(frame), max(1024, chunk_bytes // per_row), from_frame)


class _Feed:
    """Hands out chunks to the connections loading them, converted and cast to the wire schema.

    Each reader pulls the next unclaimed chunk; after :meth:`stop` (another connection failed)
    the readers end early.
    """

    def __init__(self, chunks: Chunks, wire: pa.Schema) -> None:
        self.chunks, self.wire = chunks, wire
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def reader(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        def batches() -> Iterator[pa.RecordBatch]:
            while not self._stopped.is_set():
                with self._lock:
                    index = next(self._next)
                if index >= self.chunks.count:
                    return
                yield self.chunks.batch(index).cast(self.wire, safe=False)

        return pa.RecordBatchReader.from_batches(self.wire, batches())


def reader_of(chunks: Chunks, wire: pa.Schema) -> pa.RecordBatchReader:
    """All of ``chunks`` as one Arrow stream in the ``wire`` types binary COPY needs."""
    return _Feed(chunks, wire).reader()


def existing_columns(cursor: Any, schema: str, table: str) -> dict[str, str] | None:
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


def drop_orphans(cursor: Any, schema: str) -> list[str]:
    """Drop the staging tables in ``schema`` whose creating server process is gone.

    Returns:
        The names of the tables dropped.
    """
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind = 'r' AND starts_with(c.relname, $2)",
        parameters=(schema, STAGING_PREFIX),
    )
    candidates = [str(row[0]) for row in cursor.fetchall()]
    if not candidates:
        return []
    cursor.execute("SELECT pid FROM pg_stat_activity")
    alive = {int(row[0]) for row in cursor.fetchall()}
    dropped = []
    for name in candidates:
        match = _STAGING_NAME.fullmatch(name)
        if match and int(match.group(1)) not in alive:
            cursor.execute(
                f"DROP TABLE IF EXISTS {quote_identifier(schema)}.{quote_identifier(name)}"
            )
            dropped.append(name)
    if dropped:
        logger.info("postgres: dropped %d staging table(s) left by killed exports", len(dropped))
    return dropped


def _staging_name(cursor: Any) -> str:
    cursor.execute("SELECT pg_backend_pid()")
    (pid,) = cursor.fetchone()
    return f"{STAGING_PREFIX}{int(pid)}_{uuid.uuid4().hex[:12]}"


def _table_exists(context: str, where: str) -> ConnectorError:
    return ConnectorError(f"{context}: table {where} exists (if_exists='fail')")


def _prepare(
    cursor: Any, schema: str, table: str, mode: str, context: str
) -> dict[str, str] | None:
    """Create the schema, drop orphaned staging tables, apply ``fail``; return target columns."""
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
    drop_orphans(cursor, schema)
    existing = existing_columns(cursor, schema, table)
    if existing is not None and mode == "fail":
        raise _table_exists(context, f"{quote_identifier(schema)}.{quote_identifier(table)}")
    return existing


def _swap_in(cursor: Any, schema: str, staging: str, table: str) -> None:
    """Replace ``table`` (if any) by ``staging`` (inside the caller's transaction)."""
    cursor.execute(f"DROP TABLE IF EXISTS {quote_identifier(schema)}.{quote_identifier(table)}")
    cursor.execute(
        f"ALTER TABLE {quote_identifier(schema)}.{quote_identifier(staging)} "
        f"RENAME TO {quote_identifier(table)}"
    )


def load_in_one_transaction(
    connection: Any, schema: str, table: str, mode: str, chunks: Chunks, context: str
) -> None:
    """Load ``chunks`` into ``schema.table`` in one transaction on ``connection`` (committed)."""
    where = f"{quote_identifier(schema)}.{quote_identifier(table)}"
    with connection.cursor() as cursor:
        existing = _prepare(cursor, schema, table, mode, context)
        if existing is not None and mode == "append":
            wire = append_schema(chunks.schema, existing, where)
            target = table
        else:
            wire, definitions = wire_schema(chunks.schema)
            target = table if existing is None else _staging_name(cursor)
            cursor.execute(
                f"CREATE TABLE {quote_identifier(schema)}.{quote_identifier(target)} "
                f"({', '.join(definitions)})"
            )
        cursor.adbc_ingest(target, reader_of(chunks, wire), mode="append", db_schema_name=schema)
        if target != table:
            _swap_in(cursor, schema, target, table)
    connection.commit()


def load_in_parallel(
    connect: Callable[[], Any],
    connections: int,
    schema: str,
    table: str,
    mode: str,
    chunks: Chunks,
    context: str,
) -> None:
    """Fill a committed staging table over ``connections`` connections, then swap it in.

    Only for ``replace`` and ``fail``; ``append`` must be one transaction.
    """
    if mode not in {"replace", "fail"}:
        raise ValueError(f"load_in_parallel: mode {mode!r} must load in one transaction")
    wire, definitions = wire_schema(chunks.schema)
    first = connect()
    opened = [first]
    staging: str | None = None
    try:
        with first.cursor() as cursor:
            _prepare(cursor, schema, table, mode, context)
            staging = _staging_name(cursor)
            cursor.execute(
                f"CREATE TABLE {quote_identifier(schema)}.{quote_identifier(staging)} "
                f"({', '.join(definitions)})"
            )
        first.commit()
        opened.extend(connect() for _ in range(connections - 1))
        _ingest_concurrently(opened, schema, staging, _Feed(chunks, wire))
        with first.cursor() as cursor:
            if mode == "fail" and existing_columns(cursor, schema, table) is not None:
                raise _table_exists(
                    context, f"{quote_identifier(schema)}.{quote_identifier(table)}"
                )
            _swap_in(cursor, schema, staging, table)
        first.commit()
        staging = None
    except BaseException:
        for connection in opened:
            rollback(connection)
        if staging is not None:
            _drop_staging(first, connect, schema, staging)
        raise
    finally:
        for connection in opened:
            close(connection)


def _ingest_concurrently(connections: list[Any], schema: str, staging: str, feed: _Feed) -> None:
    """COPY the feed's chunks into ``staging`` over every connection at once; commit each."""
    errors: list[BaseException] = []

    def ingest(connection: Any) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.adbc_ingest(staging, feed.reader(), mode="append", db_schema_name=schema)
            connection.commit()
        except BaseException as exc:
            feed.stop()
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(each,)) for each in connections[1:]]
    for thread in threads:
        thread.start()
    ingest(connections[0])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _drop_staging(first: Any, connect: Callable[[], Any], schema: str, staging: str) -> None:
    """Drop a committed staging table after a failure, on a fresh connection if need be."""
    statement = f"DROP TABLE IF EXISTS {quote_identifier(schema)}.{quote_identifier(staging)}"
    try:
        _run_and_commit(first, statement)
        return
    except Exception:
        logger.debug("dropping %s on the export's connection failed", staging, exc_info=True)
    try:
        fresh = connect()
    except Exception:
        logger.debug("no connection to drop %s", staging, exc_info=True)
    else:
        try:
            _run_and_commit(fresh, statement)
            return
        except Exception:
            logger.debug("dropping %s on a fresh connection failed", staging, exc_info=True)
        finally:
            close(fresh)
    logger.warning(
        "postgres: could not drop staging table %s.%s; the next export into %s drops it",
        schema,
        staging,
        schema,
    )


def _run_and_commit(connection: Any, statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.commit()


def rollback(connection: Any) -> None:
    """Roll back, ignoring a connection that is already gone (the server rolls back itself)."""
    try:
        connection.rollback()
    except Exception:
        logger.debug("rollback after a failed export failed", exc_info=True)


def close(connection: Any) -> None:
    """Close, ignoring a connection that is already gone."""
    try:
        connection.close()
    except Exception:
        logger.debug("closing an export connection failed", exc_info=True)
