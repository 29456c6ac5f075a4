"""DuckDB: the embedded warehouse, a database file written and queried like the other databases.

What belongs here: :class:`DuckDB` (export, load, load from the local lake), opening a database
file that another process may hold (:func:`open_database`) and the Arrow → pandas conversion
shared by DuckDB results. A connection is opened per call and closed after, so no lock on the
file is held between blocks; a block that finds the file locked by another process (blocks in
worker processes, another run) waits for it, as SQLite's busy timeout does. A new database
file is created in DuckDB 1.0's storage format (``storage_compatibility_version``), so other
DuckDB releases can open it: an exported project's warehouse is read by Mage's DuckDB too
(Mage 0.9.80 pins 1.4.3, which cannot read a file DuckDB 2 created in its own format).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import Connector, arrow_to_pandas, check_if_exists, wrap_error
from jupyter_blocks.io.dialects import DUCKDB

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

_SOURCE_VIEW = "_jb_export_source"

#: Seconds to wait for a database file another process holds before giving up.
LOCK_TIMEOUT = 60.0
#: The storage format new database files are written in (readable by DuckDB 1.0 and later).
STORAGE_COMPATIBILITY = "v1.0.0"


def open_database(path: str, timeout: float = LOCK_TIMEOUT) -> Any:
    """``duckdb.connect(path)``, waiting up to ``timeout`` s while another process holds the file.

    Raises:
        duckdb.Error: Any other failure, or the lock still held after ``timeout``.
    """
    import duckdb

    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            return _connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
            logger.debug("duckdb: %s is locked by another process; retrying", path)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


def writer_lock(path: str) -> threading.RLock:
    """The lock that connections to one database file from this process take in turn.

    DuckDB lets one process open a file many times, but two transactions creating or
    replacing tables at once conflict ("Catalog write-write conflict"), and a connection opened
    while another thread closes the file's last one can miss the functions that scan pandas
    frames ("Table Function with name pandas_scan does not exist"): runs at once in one process
    (a backfill's intervals) use the file one after the other instead. Reentrant, so a
    connection's own writes take it again.
    """
    key = path if path == ":memory:" else str(Path(path).resolve())
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(key, threading.RLock())


def _is_new_file(path: str) -> bool:
    return path != ":memory:" and not path.startswith(("md:", "motherduck:")) \
        and not Path(path).exists()


def _connect(path: str) -> Any:
    """Open ``path``, created in the compatible format when new.

    DuckDB refuses a second connection to a file that this process holds open with another
    configuration: a file another thread has just created (with the storage option) is
    opened with that option too, and one held open without it, without it.
    """
    import duckdb

    created = _is_new_file(path)
    try:
        return _create(path) if created else duckdb.connect(path)
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(path) if created else _create(path)


def _create(path: str) -> Any:
    """Create ``path`` in the compatible storage format (DuckDB before 1.2 has no such option)."""
    import duckdb

    try:
        return duckdb.connect(path, config={"storage_compatibility_version": STORAGE_COMPATIBILITY})
    except duckdb.InvalidInputException:
        return duckdb.connect(path)


#: Quote a name as one DuckDB identifier.
quote_identifier = DUCKDB.quote_identifier


def fetch_arrow(result: Any) -> pa.Table:
    """Fetch a DuckDB result or relation as an Arrow table (DuckDB 1.x and 2.x)."""
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = fetch()
    return table


class DuckDB(Connector):
    """A DuckDB database file (or ``:memory:``): ``export`` frames to tables, ``load`` queries."""

    def __init__(
        self,
        path: Path | str = ":memory:",
        *,
        schema: str = "main",
        profile_name: str | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.path = str(path)
        self.lock_timeout = lock_timeout
        self.schema = schema
        self.profile_name = profile_name

    @classmethod
    def from_profile(cls, profile: Profile) -> DuckDB:
        """Build from ``DUCKDB_PATH`` or Mage's ``DUCKDB_DATABASE`` (else ``warehouse.duckdb``)."""
        path = profile.duckdb_file or profile.beside("warehouse.duckdb")
        return cls(path, profile_name=profile.name)

    def __repr__(self) -> str:
        return f"DuckDB(path={self.path!r}, schema={self.schema!r})"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """Open a connection (creating the file's folder), closed when the block ends."""
        if self.path == ":memory:":
            # Each in-memory connection is a database of its own: nothing to take turns on.
            yield from self._connection()
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with writer_lock(self.path):
            yield from self._connection()

    def _connection(self) -> Iterator[Any]:
        import duckdb

        try:
            connection = open_database(self.path, self.lock_timeout)
        except duckdb.Error as exc:
            raise self._error("cannot open the database", exc) from exc
        try:
            yield connection
        finally:
            connection.close()

    def load(
        self, query: str, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> pd.DataFrame:
        """Run ``query`` (``$name`` or ``?`` parameters, bound by DuckDB) and return a DataFrame."""
        import duckdb

        with self.connect() as connection:
            try:
                relation = connection.sql(query, params=params or None)
                if relation is None:
                    import pandas as pd

                    return pd.DataFrame()
                return arrow_to_pandas(fetch_arrow(relation))
            except duckdb.Error as exc:
                raise self._error("query failed", exc) from exc

    def export(
        self,
        df: pd.DataFrame | pa.Table,
        schema: str | None = None,
        table: str | None = None,
        if_exists: str = "replace",
    ) -> int:
        """Write ``df`` to ``schema.table`` in one transaction (schema created when missing).

        Returns:
            The number of rows written.
        """
        import duckdb

        if not table:
            raise ConfigError("duckdb export: a table name is required")
        mode = check_if_exists(if_exists)
        with self.connect() as connection:
            connection.register(_SOURCE_VIEW, df)
            try:
                return self._write(connection, f"SELECT * FROM {_SOURCE_VIEW}", schema, table, mode)
            except duckdb.Error as exc:
                raise self._error(f"export to {schema or self.schema}.{table} failed", exc) from exc

    def load_from_lake(
        self,
        path: Path | str,
        schema: str | None = None,
        table: str | None = None,
        if_exists: str = "replace",
        partitioned: bool = True,
    ) -> int:
        """Load a Parquet file or a hive-partitioned dataset folder of the local lake into a table.

        A dataset is read from one version of it (``lake.read_table``), whatever exports
        replace it meanwhile.

        Returns:
            The number of rows written.
        """
        import duckdb

        from jupyter_blocks.io.lake import read_table

        if not table:
            raise ConfigError("duckdb load_from_lake: a table name is required")
        mode = check_if_exists(if_exists)
        location = Path(path)
        with self.connect() as connection:
            try:
                if location.is_dir() and partitioned:
                    source = read_table(location)
                else:
                    pattern = str(location / "**" / "*.parquet") if location.is_dir() \
                        else str(location)
                    source = fetch_arrow(connection.read_parquet(pattern,
                                                                 hive_partitioning=partitioned))
                connection.register(_SOURCE_VIEW, source)
                return self._write(connection, f"SELECT * FROM {_SOURCE_VIEW}", schema, table, mode)
            except duckdb.Error as exc:
                raise self._error(f"load of {location} into {table} failed", exc) from exc

    def _write(
        self, connection: Any, select: str, schema: str | None, table: str, mode: str
    ) -> int:
        schema = schema or self.schema
        target = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        with writer_lock(self.path):
            return self._write_locked(connection, select, schema, target, table, mode)

    def _write_locked(self, connection: Any, select: str, schema: str, target: str,
                      table: str, mode: str) -> int:
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
            exists = connection.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            ).fetchone()[0]
            if exists and mode == "fail":
                raise ConnectorError(
                    f"{self._context('duckdb')}: table {target} exists (if_exists='fail')"
                )
            if exists and mode == "append":
                connection.execute(f"INSERT INTO {target} BY NAME {select}")
            else:
                connection.execute(f"CREATE OR REPLACE TABLE {target} AS {select}")
            rows = int(connection.execute(f"SELECT count(*) FROM {_SOURCE_VIEW}").fetchone()[0])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        logger.info("duckdb: wrote %d rows to %s in %s (%s)", rows, target, self.path, mode)
        return rows

    def _error(self, action: str, exc: BaseException) -> ConnectorError:
        return wrap_error(f"{self._context('duckdb')}: {action}", exc)
