"""Small cache entries as rows of one SQLite file in the cache folder, ``entries.sqlite``.

Creating a file is the dearest step of writing a small entry: on some file systems it takes a
quarter of a millisecond, more than running a trivial block. A row of a write-ahead-logged
SQLite file is committed in tens of microseconds, atomically (two processes writing one key
leave one whole row; a killed writer leaves none), and read back by its key. The disk layer
keeps entries under ``ROW_BYTES`` here, with the same header and checksum an entry file has;
larger entries are files, which reads can map. Nothing here opens or creates the file to read
it when it is not there.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_blocks.cache.codec import OUT_OF_BAND_BYTES
from jupyter_blocks.core.sqlite import open_sqlite

logger = logging.getLogger(__name__)

DATABASE = "entries.sqlite"
#: Entries smaller than this are rows: the size from which a pickle's buffers go out of band
#: (they are mapped from an entry file on read, where a row's bytes would be read-only).
ROW_BYTES = OUT_OF_BAND_BYTES

_SCHEMA = """CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    header TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    used REAL NOT NULL)"""


class RowStore:
    """The small entries of one cache folder.

    Args:
        root: The cache folder; the database is created in it on the first write.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / DATABASE
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._inode = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[dict[str, Any], bytes, float] | None:
        """The header, payload and last use of ``key``'s row, or None."""
        rows = self._execute("SELECT header, payload, used FROM entries WHERE key = ?", key)
        return (json.loads(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def header(self, key: str) -> dict[str, Any] | None:
        """The header of ``key``'s row, or None (the payload is not read)."""
        found = self.stored(key)
        return None if found is None else found[0]

    def stored(self, key: str) -> tuple[dict[str, Any], int, float] | None:
        """The header, payload length and last use of ``key``'s row (the payload is not read)."""
        rows = self._execute("SELECT header, length(payload), used FROM entries WHERE key = ?",
                             key)
        return (dict(json.loads(rows[0][0])), int(rows[0][1]), rows[0][2]) if rows else None

    def __contains__(self, key: str) -> bool:
        return bool(self._execute("SELECT 1 FROM entries WHERE key = ?", key))

    def put(self, key: str, header: dict[str, Any], payload: bytes) -> int:
        """Write ``key``'s row (replacing one there); return its size in bytes."""
        text = json.dumps(header)
        size = len(text) + len(payload)
        self._execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                      key, text, payload, size, time.time(), create=True)
        return size

    def touch(self, key: str) -> None:
        """Mark ``key``'s row used now (for the size bound)."""
        self._execute("UPDATE entries SET used = ? WHERE key = ?", time.time(), key)

    def delete(self, key: str) -> int:
        """Remove ``key``'s row; return the bytes it took (0 when there was none)."""
        rows = self._execute("DELETE FROM entries WHERE key = ? RETURNING size", key)
        return int(rows[0][0]) if rows else 0

    def listing(self) -> list[tuple[str, int, float, dict[str, Any]]]:
        """Every row's key, size, last use and header (payloads are not read)."""
        rows = self._execute("SELECT key, size, used, header FROM entries")
        return [(key, size, used, json.loads(header)) for key, size, used, header in rows]

    def total(self) -> int:
        """The bytes the rows take."""
        rows = self._execute("SELECT coalesce(sum(size), 0) FROM entries")
        return int(rows[0][0]) if rows else 0

    def clear(self) -> int:
        """Remove every row; return how many."""
        return len(self._execute("DELETE FROM entries RETURNING 1"))

    def _execute(self, sql: str, *params: Any, create: bool = False) -> list[Any]:
        """Run one statement to its end (so a write commits) and return its rows.

        Without a database (and ``create`` false) there is nothing to read: no rows. A database
        SQLite finds damaged, or not a database, is set aside with a warning and the statement
        runs on a new one: the cache only loses what it held. Other errors (a locked or
        unwritable database) are raised.
        """
        with self._lock:
            try:
                return self._run(sql, params, create)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                self._set_aside(exc)
                return self._run(sql, params, create)

    def _run(self, sql: str, params: tuple[Any, ...], create: bool) -> list[Any]:
        database = self._database(create)
        return [] if database is None else database.execute(sql, params).fetchall()

    def _database(self, create: bool) -> sqlite3.Connection | None:
        """This process's connection; None when there is no database and ``create`` is false.

        The connection is opened again when its file was removed or replaced (the cache folder
        deleted to start afresh), so rows never go to a file no other process can see.
        """
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            inode = 0
        if self._connection is not None and self._pid == os.getpid() and inode == self._inode:
            return self._connection
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None
        if not create and not inode:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = _opened(self.path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise
            self._set_aside(exc)
            connection = _opened(self.path)
        self._connection, self._pid = connection, os.getpid()
        self._inode = self.path.stat().st_ino
        return connection

    def _set_aside(self, exc: Exception) -> None:
        logger.warning("cache database %s is unreadable (%s); its entries will be recomputed",
                       self.path, exc)
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)


def _opened(path: Path) -> sqlite3.Connection:
    connection = open_sqlite(path)
    try:
        connection.execute(_SCHEMA)
    except BaseException:
        connection.close()
        raise
    return connection


__all__ = ["DATABASE", "ROW_BYTES", "RowStore"]
