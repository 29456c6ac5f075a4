"""Recording one run: the runner subscriber that turns its events into rows of the run store.

What belongs here: :class:`RunRecorder`. It reads events as plain records (their attributes), so
this layer does not import the runner. One connection serves the whole run, and each event is one
transaction committed before the next subscriber sees the event: a run killed at any moment has
every block that was reported finished in the store (a ``running`` row for the block it was
in, which recovery marks ``interrupted``; a run that ends, interrupted or not, marks its own).
A failed attempt that is retried (``block_retrying``) closes its own row with its error. A
block's row is found again by the id its ``block_started`` insert returned, so recording costs
the same at the last block of a long run as at the first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from jupyter_blocks.history.database import BLOCK_RUNS, PIPELINE_RUNS, Connection, Database

_FINAL = {"block_finished": "ran", "block_cached": "cached", "block_failed": "failed",
          "block_skipped": "skipped", "block_retrying": "failed"}


class RunRecorder:
    """A runner subscriber recording one run.

    Args:
        database: The store's database.
        target: What the run ran (a notebook, a project folder), recorded as given.
        variables: The run's variables.
        trigger: What started the run.
        output: ``output(block)`` gives what a block printed and logged, at its end.
        redact: Applied to every text recorded, so known secrets never reach the store.
    """

    def __init__(self, database: Database, target: str, variables: dict[str, Any],
                 trigger: str = "manual", output: Callable[[str], str] | None = None,
                 redact: Callable[[Any], Any] | None = None) -> None:
        self.database = database
        self.target = target
        self.trigger = trigger
        self.output = output
        self._clean: Callable[[Any], Any] = redact if redact is not None else _same
        self.variables = json.dumps(self._clean(variables), default=str, sort_keys=True)
        self._connection: Connection | None = None
        #: block -> id of the row of its attempt that is running
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        """Record ``event``, committed on return (a broken connection is replaced next time)."""
        kind = event.event
        if kind not in _FINAL and kind not in ("run_started", "run_finished", "block_started"):
            return
        when = dt.datetime.fromtimestamp(getattr(event, "time", None) or time.time())
        with self._lock:
            try:
                db = self._connect()
                # Each event but the first is one statement, a transaction of its own.
                if kind == "run_started":
                    with db.transaction():
                        self._run_started(db, event, when)
                elif kind == "run_finished":
                    with db.transaction():
                        db.run(f"UPDATE {PIPELINE_RUNS} SET status = :status, "
                               "finished_at = :when, seconds = :seconds "
                               "WHERE run_id = :run_id",
                               {"status": event.status, "when": when,
                                "seconds": event.seconds, "run_id": event.run_id})
                        # Every block ends in a final state, even one the run left running.
                        db.run(f"UPDATE {BLOCK_RUNS} SET status = 'interrupted', "
                               "finished_at = :when WHERE run_id = :run_id "
                               "AND status = 'running'",
                               {"when": when, "run_id": event.run_id})
                elif kind == "block_started":
                    self._block_started(db, event, when)
                else:
                    self._block_ended(db, event, when)
            except Exception:
                self._disconnect()
                raise
            if kind == "run_finished":
                self._disconnect()

    def close(self) -> None:
        """Close the run's connection (done by ``run_finished``)."""
        with self._lock:
            self._disconnect()

    def _run_started(self, db: Connection, event: Any, when: dt.datetime) -> None:
        values = {"run_id": event.run_id, "status": "running", "started_at": when,
                  "host": socket.gethostname(), "pid": os.getpid()}
        exists = db.rows(f"SELECT run_id FROM {PIPELINE_RUNS} WHERE run_id = :run_id",
                         {"run_id": event.run_id})
        if exists:  # resumed: the same run goes on
            db.run(f"UPDATE {PIPELINE_RUNS} SET status = :status, started_at = :started_at, "
                   "finished_at = NULL, seconds = NULL, host = :host, pid = :pid "
                   "WHERE run_id = :run_id", values)
            return
        db.run(f'INSERT INTO {PIPELINE_RUNS} (run_id, pipeline, target, variables, "trigger", '
               "status, started_at, host, pid) VALUES (:run_id, :pipeline, :target, "
               ":variables, :trigger, :status, :started_at, :host, :pid)",
               {**values, "pipeline": self._clean(getattr(event, "pipeline", None) or "pipeline"),
                "target": self.target, "variables": self.variables, "trigger": self.trigger})

    def _block_started(self, db: Connection, event: Any, when: dt.datetime) -> None:
        block = self._clean(event.block)
        self._running[block] = db.insert(
            f"INSERT INTO {BLOCK_RUNS} (run_id, block, attempt, status, started_at) "
            "VALUES (:run_id, :block, :attempt, 'running', :started_at)",
            {"run_id": event.run_id, "block": block,
             "attempt": getattr(event, "attempt", None) or 1, "started_at": when})

    def _block_ended(self, db: Connection, event: Any, when: dt.datetime) -> None:
        block = self._clean(event.block)
        error = getattr(event, "error", None) or getattr(event, "reason", None)
        values = {
            "status": _FINAL[event.event], "finished_at": when,
            "seconds": getattr(event, "seconds", None), "rows": getattr(event, "rows", None),
            "cols": getattr(event, "cols", None), "cache_key": getattr(event, "key", None),
            "error": self._clean(error),
            "traceback": self._clean(getattr(event, "traceback", None)),
            "attempt": getattr(event, "attempt", None) or 1,
            "output": (self._clean(self.output(event.block)) or None
                       if self.output is not None else None),
        }
        row = self._running.pop(block, None)
        if row is not None:
            db.run(f"UPDATE {BLOCK_RUNS} SET status = :status, finished_at = :finished_at, "
                   "seconds = :seconds, rows = :rows, cols = :cols, cache_key = :cache_key, "
                   "error = :error, traceback = :traceback, attempt = :attempt, "
                   "output = :output WHERE id = :id", {**values, "id": row})
            return
        db.run(f"INSERT INTO {BLOCK_RUNS} (run_id, block, attempt, status, started_at, "
               "finished_at, seconds, rows, cols, cache_key, error, traceback, output) "
               "VALUES (:run_id, :block, :attempt, :status, :finished_at, :finished_at, "
               ":seconds, :rows, :cols, :cache_key, :error, :traceback, :output)",
               {**values, "run_id": event.run_id, "block": block})

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.database.connect()
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the connection is already gone
                connection.close()


def _same(value: Any) -> Any:
    return value
