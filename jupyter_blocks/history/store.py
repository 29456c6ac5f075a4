"""Run history: pipeline runs and block runs in SQLite (default) or any SQLAlchemy database.

What belongs here: :class:`RunStore`, which opens a store (``database``), hands out the recorder
that turns a run's events into rows (``recorder``), answers the queries the CLI and the
labextension's server endpoint use (``list_runs``, ``get_run``, ``block_logs``), and recovers: a
run left ``running`` by a killed process is marked ``interrupted`` when a store is next opened.
SQLite at ``.jupyter_blocks/runs.sqlite`` by default; any URL via ``--store`` or
``$JUPYTER_BLOCKS_STORE``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from jupyter_blocks.core.errors import ConfigError, did_you_mean
from jupyter_blocks.core.files import check_state_folder, process_alive
from jupyter_blocks.history.database import (
    BLOCK_RUNS,
    PIPELINE_RUNS,
    Connection,
    Database,
    SQLiteDatabase,
    damaged_error,
    open_error,
    safe_url,
    sqlite_path,
)
from jupyter_blocks.history.recorder import RunRecorder

STORE_ENV = "JUPYTER_BLOCKS_STORE"
STORE_FILE = Path(".jupyter_blocks") / "runs.sqlite"

_RUN_COLUMNS = ('run_id, pipeline, target, variables, "trigger", status, started_at, '
                "finished_at, seconds, host, pid")
_BLOCK_COLUMNS = ("run_id, block, attempt, status, started_at, finished_at, seconds, rows, "
                  "cols, bytes, cache_key, error, traceback, output")


def open_database(url: str) -> Database:
    """The database of a store URL, its tables created when missing.

    Raises:
        ConfigError: The URL is not valid, its driver is missing or the database cannot be
            opened (the message never shows the URL's password).
    """
    path = sqlite_path(url)
    try:
        database: Database = SQLiteDatabase(path) if path is not None else _sqlalchemy(url)
    except sqlite3.Error as exc:
        raise (damaged_error(str(path), exc) or open_error(url, exc)) from None
    except (ImportError, OSError) as exc:
        raise open_error(url, exc) from None
    return database


def _sqlalchemy(url: str) -> Database:
    # Imported only for a URL that needs it: SQLAlchemy takes a quarter of a small run to import.
    from jupyter_blocks.history.sqlalchemy_database import SQLAlchemyDatabase

    return SQLAlchemyDatabase(url)


class RunStore:
    """Pipeline and block runs in one database.

    Args:
        url: ``sqlite:///PATH`` (through the standard library), or any SQLAlchemy URL
            (``postgresql+psycopg://...``).

    Raises:
        ConfigError: The store cannot be opened.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        #: Where the store is, for messages: its SQLite file, or its URL without the password.
        self.where = sqlite_path(url) or safe_url(url)
        self.database: Database = open_database(url)
        self.recover()

    @classmethod
    def for_directory(cls, directory: str | Path, url: str | None = None) -> RunStore:
        """The store of a folder: ``url``, ``$JUPYTER_BLOCKS_STORE``, or SQLite beside it."""
        url = url or os.environ.get(STORE_ENV)
        if not url:
            path = Path(directory).resolve() / STORE_FILE
            check_state_folder(path.parent, "run store")
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        return cls(url)

    @classmethod
    def existing(cls, directory: str | Path, url: str | None = None) -> RunStore:
        """The store of a folder, as :meth:`for_directory` finds it, to read: nothing is created.

        Raises:
            ConfigError: No ``url`` nor ``$JUPYTER_BLOCKS_STORE``, and no store file beside
                ``directory``.
        """
        url = url or os.environ.get(STORE_ENV)
        if url:
            file = sqlite_path(url)
            if file is not None and file != ":memory:" and not Path(file).is_file():
                raise ConfigError(f"no run store at {file} (the store URL {url})")
            return cls(url)
        path = Path(directory).resolve() / STORE_FILE
        if not path.is_file():
            raise ConfigError(f"no run store at {path}: nothing run from {path.parent.parent} "
                              "has been recorded (a run records into the folder of its "
                              "notebook or project)")
        return cls(f"sqlite:///{path}")

    # -- writing ------------------------------------------------------------------------------

    def recorder(self, target: str, variables: dict[str, Any], trigger: str = "manual",
                 output: Callable[[str], str] | None = None,
                 redact: Callable[[Any], Any] | None = None) -> RunRecorder:
        """A runner subscriber that records one run; ``output(block)`` gives captured output.

        ``redact`` (e.g. ``Redactor.value``) is applied to every text recorded (the variables,
        errors, tracebacks, captured output), so known secrets never reach the store.
        """
        return RunRecorder(self.database, target, variables, trigger, output, redact)

    def orchestration(self) -> Any:
        """The scheduler's and backfills' tables in this store (``history.orchestration``)."""
        if getattr(self, "_orchestration", None) is None:
            from jupyter_blocks.history.orchestration import Orchestration

            self._orchestration = Orchestration(self.database)
        return self._orchestration

    def set_status(self, run_id: str, status: str) -> None:
        """Record a run's final status after the fact (a run stopped at its timeout: failed)."""
        db = self.database.connect()
        try:
            db.run(f"UPDATE {PIPELINE_RUNS} SET status = :status WHERE run_id = :run_id",
                   {"status": status, "run_id": run_id})
        finally:
            db.close()

    def recover(self) -> list[str]:
        """Mark runs left ``running`` by a dead process on this host ``interrupted``."""
        host = socket.gethostname()
        interrupted: list[str] = []
        db = self.database.connect()
        try:
            rows = db.rows(f"SELECT run_id, pid, host FROM {PIPELINE_RUNS} "
                           "WHERE status = 'running'")
            dead = [row["run_id"] for row in rows
                    if row["host"] == host and not (row["pid"] and process_alive(row["pid"]))]
            for run_id in dead:
                with db.transaction():
                    db.run(f"UPDATE {PIPELINE_RUNS} SET status = 'interrupted' "
                           "WHERE run_id = :run_id AND status = 'running'", {"run_id": run_id})
                    db.run(f"UPDATE {BLOCK_RUNS} SET status = 'interrupted' "
                           "WHERE run_id = :run_id AND status = 'running'", {"run_id": run_id})
                interrupted.append(run_id)
        finally:
            db.close()
        return interrupted

    # -- reading ------------------------------------------------------------------------------

    def list_runs(self, pipeline: str | None = None, status: str | None = None,
                  limit: int = 50, trigger: str | None = None) -> list[dict[str, Any]]:
        """Pipeline runs, newest first.

        ``trigger`` is what started the runs (``manual``, ``api``, ``schedule:daily``), or a
        trigger's or backfill's own name (``daily``: ``schedule:daily`` and ``api:daily``).
        """
        where: list[str] = []
        params: dict[str, Any] = {"limit": int(limit)}
        if pipeline:
            where.append("pipeline = :pipeline")
            params["pipeline"] = pipeline
        if status:
            where.append("status = :status")
            params["status"] = status
        if trigger:
            where.append('"trigger" IN (:trigger, :schedule, :api, :backfill)')
            params.update({"trigger": trigger, "schedule": f"schedule:{trigger}",
                           "api": f"api:{trigger}", "backfill": f"backfill:{trigger}"})
        condition = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM {PIPELINE_RUNS} {condition}"
                          "ORDER BY started_at DESC, run_id LIMIT :limit", params)
        return [_run_dict(row) for row in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with ``"blocks"``: its block runs in the order they started."""
        db = self.database.connect()
        try:
            found = db.rows(f"SELECT {_RUN_COLUMNS} FROM {PIPELINE_RUNS} "
                            "WHERE run_id = :run_id", {"run_id": run_id})
            if not found:
                known = [row["run_id"] for row in db.rows(f"SELECT run_id FROM {PIPELINE_RUNS}")]
                raise ConfigError(f"no run `{run_id}` in the run store {self.where}"
                                  + did_you_mean(run_id, known))
            blocks = db.rows(f"SELECT {_BLOCK_COLUMNS} FROM {BLOCK_RUNS} "
                             "WHERE run_id = :run_id ORDER BY id", {"run_id": run_id})
        finally:
            db.close()
        run = _run_dict(found[0])
        run["blocks"] = [_block_dict(block) for block in blocks]
        return run

    def blocks_of(self, run_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The block runs of each run (without tracebacks and captured output), in order."""
        wanted = list(dict.fromkeys(run_ids))
        found: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in wanted}
        columns = ", ".join(c for c in _BLOCK_COLUMNS.split(", ")
                            if c not in ("traceback", "output"))
        for names in _slices(wanted):
            marks = ", ".join(f":{name}" for name in names)
            for row in self._read(f"SELECT {columns} FROM {BLOCK_RUNS} "
                                  f"WHERE run_id IN ({marks}) ORDER BY id", names):
                found[row["run_id"]].append(_block_dict(row))
        return found

    def block_logs(self, run_id: str, block: str) -> str:
        """What ``block`` printed and logged in a run (every attempt), and how a failure ended.

        A failed attempt's traceback and error follow its output, so the logs of a failed block
        say why it failed.
        """
        run = self.get_run(run_id)
        found = [b for b in run["blocks"] if b["block"] == block]
        if not found:
            names = list(dict.fromkeys(b["block"] for b in run["blocks"]))
            raise ConfigError(f"run {run_id} has no block `{block}`" + did_you_mean(block, names))
        parts: list[str] = []
        for attempt in found:
            parts.append(attempt["output"] or "")
            if attempt["status"] != "failed":
                continue
            for text in (attempt.get("traceback"), attempt.get("error")):
                if text and text.strip() not in "".join(parts):
                    if parts and parts[-1] and not parts[-1].endswith("\n"):
                        parts.append("\n")
                    parts.append(text if text.endswith("\n") else text + "\n")
        return "".join(parts)

    def latest_attempts(self, pipeline: str, blocks: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The latest run of each of ``blocks`` of ``pipeline`` that started it.

        A run that served a block from the cache or skipped it did not start it. Of retried
        attempts the last counts.

        Returns:
            ``{block: {"run_id", "status", "cache_key"}}`` for the blocks that ever started;
            ``status`` is ``ran``, ``failed``, ``interrupted`` or ``running``.
        """
        found: dict[str, dict[str, Any]] = {}
        for names in _slices(sorted(set(blocks))):
            marks = ", ".join(f":{name}" for name in names)
            rows = self._read(
                f"SELECT block, run_id, status, cache_key FROM {BLOCK_RUNS} WHERE id IN ("
                f"SELECT max(b.id) FROM {BLOCK_RUNS} b JOIN {PIPELINE_RUNS} p "
                "ON p.run_id = b.run_id WHERE p.pipeline = :pipeline "
                "AND b.status IN ('ran', 'failed', 'interrupted', 'running') "
                f"AND b.block IN ({marks}) GROUP BY b.block)", {**names, "pipeline": pipeline})
            found.update((row["block"], row) for row in rows)
        return found

    def last_block_runs(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The latest successful block run of each cache key among ``keys``, by key.

        Each value has ``block``, ``seconds``, ``rows``, ``cols`` and ``finished_at``: what made
        the cached output of that key (a kernel that did not make it shows its time and shape).
        """
        found: dict[str, dict[str, Any]] = {}
        for names in _slices(list(dict.fromkeys(keys))):
            marks = ", ".join(f":{name}" for name in names)
            rows = self._read(f"SELECT cache_key, block, seconds, rows, cols, finished_at "
                              f"FROM {BLOCK_RUNS} WHERE status = 'ran' "
                              f"AND cache_key IN ({marks}) ORDER BY id", names)
            for row in rows:  # in insertion order: the last one of a key wins
                found[row["cache_key"]] = {
                    "block": row["block"], "seconds": row["seconds"], "rows": row["rows"],
                    "cols": row["cols"], "finished_at": _iso(row["finished_at"])}
        return found

    def completed_blocks(self, run_id: str) -> set[str]:
        """Blocks that ran or were served from the cache in a run."""
        return {b["block"] for b in self.get_run(run_id)["blocks"]
                if b["status"] in ("ran", "cached")}

    def _read(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        db: Connection = self.database.connect()
        try:
            return db.rows(sql, params)
        finally:
            db.close()


def _slices(values: list[str], size: int = 500) -> Iterator[dict[str, str]]:
    """``values`` as named parameters, in slices: databases bound a statement's parameters."""
    for start in range(0, len(values), size):
        yield {f"k{i}": value for i, value in enumerate(values[start:start + size])}


def _run_dict(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["variables"] = json.loads(data["variables"]) if data.get("variables") else {}
    for key in ("started_at", "finished_at"):
        data[key] = _iso(data.get(key))
    return data


def _block_dict(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    for key in ("started_at", "finished_at"):
        data[key] = _iso(data.get(key))
    return data


def _iso(value: Any) -> str | None:
    """A stored datetime (a datetime, or SQLite's text of one) in ISO format, with its offset.

    Times are stored as the recording machine's local time; read back, they say their offset,
    so a browser or a machine in another zone reads the same moment.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.astimezone()
    text: str = value.isoformat()
    return text

