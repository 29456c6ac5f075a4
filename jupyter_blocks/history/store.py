"""Run history: pipeline runs and block runs in any SQLAlchemy database.

What belongs here: the two tables, a recorder that turns runner events into rows (it reads events
as plain records, so this layer does not import the runner), the queries the CLI and the
labextension's server endpoint use (``list_runs``, ``get_run``, ``block_logs``), and recovery: a
run left ``running`` by a killed process is marked ``interrupted`` when a store is next opened.
SQLite at ``.jupyter_blocks/runs.sqlite`` by default; any URL via ``--store`` or
``$JUPYTER_BLOCKS_STORE``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from jupyter_blocks.core.errors import ConfigError, did_you_mean

STORE_ENV = "JUPYTER_BLOCKS_STORE"
STORE_FILE = Path(".jupyter_blocks") / "runs.sqlite"

metadata = sa.MetaData()
pipeline_runs = sa.Table(
    "jb_pipeline_runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("pipeline", sa.String(255), nullable=False, index=True),
    sa.Column("target", sa.Text),
    sa.Column("variables", sa.Text),
    sa.Column("trigger", sa.String(64)),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("seconds", sa.Float),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
)
block_runs = sa.Table(
    "jb_block_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("jb_pipeline_runs.run_id"), index=True),
    sa.Column("block", sa.String(255), nullable=False),
    sa.Column("attempt", sa.Integer),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("seconds", sa.Float),
    sa.Column("rows", sa.Integer),
    sa.Column("cols", sa.Integer),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("cache_key", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("output", sa.Text),
)

_FINAL = {"block_finished": "ran", "block_cached": "cached", "block_failed": "failed",
          "block_skipped": "skipped"}


def _sqlite_settings(connection: Any, _record: Any) -> None:
    """SQLite settings for a store written during runs and read while they go on.

    Write-ahead logging: readers (the Runs panel) never wait for a run's writes, a commit does
    not wait for the disk (a killed process loses nothing committed), and a second writer (a CLI
    run beside a kernel) waits for the first instead of failing.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class RunStore:
    """Pipeline and block runs in one database.

    Args:
        url: A SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url, future=True)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_settings)
            metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.OperationalError, ImportError) as exc:
            message = " ".join(str(exc).split())[:200]
            raise ConfigError(f"cannot open the run store {_safe(url)}: {message}") from None
        self.url = url
        self.recover()

    @classmethod
    def for_directory(cls, directory: str | Path, url: str | None = None) -> RunStore:
        """The store of a folder: ``url``, ``$JUPYTER_BLOCKS_STORE``, or SQLite beside it."""
        url = url or os.environ.get(STORE_ENV)
        if not url:
            path = Path(directory).resolve() / STORE_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        return cls(url)

    # -- writing ------------------------------------------------------------------------------

    def recorder(self, target: str, variables: dict[str, Any], trigger: str = "manual",
                 output: Callable[[str], str] | None = None,
                 redact: Callable[[Any], Any] | None = None) -> Callable[[Any], None]:
        """A runner subscriber that records the run; ``output(block)`` gives captured output.

        ``redact`` (e.g. ``Redactor.value``) is applied to every event, the variables and the
        captured output before they are stored, so known secrets never reach the store.
        """
        if redact is None:
            return lambda event: self.record(event.to_dict(), target, variables, trigger, output)
        clean = redact
        safe_variables = clean(variables)

        def safe_output(block: str) -> str:
            text: str = clean(output(block)) if output is not None else ""
            return text

        def record(event: Any) -> None:
            self.record(clean(event.to_dict()), target, safe_variables, trigger,
                        safe_output if output is not None else None)

        return record

    def record(self, event: dict[str, Any], target: str, variables: dict[str, Any],
               trigger: str = "manual", output: Callable[[str], str] | None = None) -> None:
        """Store one event (the ``Event.to_dict()`` form)."""
        kind, run_id = event["event"], event["run_id"]
        when = dt.datetime.fromtimestamp(event.get("time") or dt.datetime.now().timestamp())
        with self.engine.begin() as db:
            if kind == "run_started":
                exists = db.execute(sa.select(pipeline_runs.c.run_id)
                                    .where(pipeline_runs.c.run_id == run_id)).first()
                values = dict(status="running", started_at=when, finished_at=None, seconds=None,
                              host=socket.gethostname(), pid=os.getpid())
                if exists:
                    db.execute(pipeline_runs.update().where(pipeline_runs.c.run_id == run_id)
                               .values(**values))
                else:
                    db.execute(pipeline_runs.insert().values(
                        run_id=run_id, pipeline=event.get("pipeline") or "pipeline",
                        target=target, variables=json.dumps(variables, default=str,
                                                            sort_keys=True),
                        trigger=trigger, **values))
            elif kind == "run_finished":
                db.execute(pipeline_runs.update().where(pipeline_runs.c.run_id == run_id)
                           .values(status=event.get("status"), finished_at=when,
                                   seconds=event.get("seconds")))
            elif kind == "block_started":
                db.execute(block_runs.insert().values(
                    run_id=run_id, block=event["block"], attempt=event.get("attempt") or 1,
                    status="running", started_at=when))
            elif kind in _FINAL:
                self._finish_block(db, event, when, output)

    def _finish_block(self, db: sa.Connection, event: dict[str, Any], when: dt.datetime,
                      output: Callable[[str], str] | None) -> None:
        block, run_id = event["block"], event["run_id"]
        values = dict(status=_FINAL[event["event"]], finished_at=when,
                      seconds=event.get("seconds"), rows=event.get("rows"),
                      cols=event.get("cols"), cache_key=event.get("key"),
                      error=event.get("error") or event.get("reason"),
                      traceback=event.get("traceback"),
                      attempt=event.get("attempt") or 1)
        if output is not None:
            values["output"] = output(block) or None
        if event["event"] == "block_cached":
            # Served from the cache: it never started, so there is no running row to finish.
            db.execute(block_runs.insert().values(run_id=run_id, block=block, started_at=when,
                                                  **values))
            return
        running = db.execute(
            sa.select(block_runs.c.id).where(block_runs.c.run_id == run_id,
                                             block_runs.c.block == block,
                                             block_runs.c.status == "running")
            .order_by(block_runs.c.id.desc())).first()
        if running is not None:
            db.execute(block_runs.update().where(block_runs.c.id == running.id).values(**values))
        else:
            db.execute(block_runs.insert().values(run_id=run_id, block=block, started_at=when,
                                                  **values))

    def recover(self) -> list[str]:
        """Mark runs left ``running`` by a dead process on this host ``interrupted``."""
        host = socket.gethostname()
        interrupted: list[str] = []
        with self.engine.begin() as db:
            rows = db.execute(sa.select(pipeline_runs.c.run_id, pipeline_runs.c.pid,
                                        pipeline_runs.c.host)
                              .where(pipeline_runs.c.status == "running")).all()
            for row in rows:
                if row.host != host or (row.pid and _alive(row.pid)):
                    continue
                db.execute(pipeline_runs.update().where(pipeline_runs.c.run_id == row.run_id)
                           .values(status="interrupted"))
                db.execute(block_runs.update().where(block_runs.c.run_id == row.run_id,
                                                     block_runs.c.status == "running")
                           .values(status="interrupted"))
                interrupted.append(row.run_id)
        return interrupted

    # -- reading ------------------------------------------------------------------------------

    def list_runs(self, pipeline: str | None = None, status: str | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
        """Pipeline runs, newest first."""
        query = sa.select(pipeline_runs).order_by(pipeline_runs.c.started_at.desc(),
                                                  pipeline_runs.c.run_id).limit(limit)
        if pipeline:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        if status:
            query = query.where(pipeline_runs.c.status == status)
        with self.engine.connect() as db:
            return [_run_dict(row._mapping) for row in db.execute(query)]

    def blocks_of(self, run_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The block runs of each run (without tracebacks and captured output), in order."""
        wanted = list(run_ids)
        if not wanted:
            return {}
        columns = [c for c in block_runs.c if c.name not in ("id", "traceback", "output")]
        with self.engine.connect() as db:
            rows = db.execute(sa.select(*columns).where(block_runs.c.run_id.in_(wanted))
                              .order_by(block_runs.c.id)).all()
        found: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in wanted}
        for row in rows:
            found[row.run_id].append(_block_dict(row._mapping))
        return found

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with ``"blocks"``: its block runs in the order they started."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(pipeline_runs)
                             .where(pipeline_runs.c.run_id == run_id)).first()
            if row is None:
                known = db.execute(sa.select(pipeline_runs.c.run_id)).scalars().all()
                raise ConfigError(f"no run `{run_id}` in the run store"
                                  + did_you_mean(run_id, known))
            blocks = db.execute(sa.select(block_runs).where(block_runs.c.run_id == run_id)
                                .order_by(block_runs.c.id)).all()
        run = _run_dict(row._mapping)
        run["blocks"] = [_block_dict(b._mapping) for b in blocks]
        return run

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

    def succeeded_keys(self, keys: Iterable[str]) -> set[str]:
        """The cache keys among ``keys`` with a block run that ran successfully."""
        wanted = list(keys)
        if not wanted:
            return set()
        with self.engine.connect() as db:
            found = db.execute(sa.select(block_runs.c.cache_key).distinct()
                               .where(block_runs.c.cache_key.in_(wanted),
                                      block_runs.c.status == "ran")).scalars().all()
        return set(found)

    def last_block_runs(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The latest successful block run of each cache key among ``keys``, by key.

        Each value has ``block``, ``seconds``, ``rows``, ``cols`` and ``finished_at``: what made
        the cached output of that key (a kernel that did not make it shows its time and shape).
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        columns = (block_runs.c.cache_key, block_runs.c.block, block_runs.c.seconds,
                   block_runs.c.rows, block_runs.c.cols, block_runs.c.finished_at)
        with self.engine.connect() as db:
            rows = db.execute(sa.select(*columns)
                              .where(block_runs.c.cache_key.in_(wanted),
                                     block_runs.c.status == "ran")
                              .order_by(block_runs.c.id)).all()
        found: dict[str, dict[str, Any]] = {}
        for row in rows:  # in insertion order: the last one of a key wins
            found[row.cache_key] = {
                "block": row.block, "seconds": row.seconds, "rows": row.rows,
                "cols": row.cols,
                "finished_at": row.finished_at.isoformat() if row.finished_at else None}
        return found

    def completed_blocks(self, run_id: str) -> set[str]:
        """Blocks that ran or were served from the cache in a run."""
        return {b["block"] for b in self.get_run(run_id)["blocks"]
                if b["status"] in ("ran", "cached")}


def _run_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["variables"] = json.loads(data["variables"]) if data.get("variables") else {}
    for key in ("started_at", "finished_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return data


def _block_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data.pop("id", None)
    for key in ("started_at", "finished_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(invalid URL)"
