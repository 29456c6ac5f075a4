"""Opening a SQLite file the way every store here opens one.

Write-ahead logging: readers never wait for a writer, a commit does not wait for the disk (a
killed process loses nothing committed; only a power loss can take the last commits), and a
second writer (a CLI run beside a kernel) waits up to ``timeout`` seconds for the first instead
of failing. Connections are shared between threads by their owner, which serialises their use.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def open_sqlite(path: str | Path, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with ``synchronous=NORMAL`` and autocommit."""
    connection = sqlite3.connect(str(path), timeout=timeout, isolation_level=None,
                                 check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    write_ahead_logging(connection, timeout)
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def write_ahead_logging(connection: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Put the database in WAL mode, waiting while other connections hold it.

    Switching a new database to WAL needs it to itself, and SQLite answers "database is locked"
    at once, without the busy timeout, when several processes open a new file together: so
    the switch is tried again until it succeeds (or another process made it first).
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


__all__ = ["open_sqlite", "write_ahead_logging"]
