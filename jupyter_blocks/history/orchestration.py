"""What the scheduler and backfills keep in the run store: the single source of their truth.

What belongs here: :class:`Orchestration`, over the run store's database, with its tables:

- ``jb_trigger_state``: each trigger of each pipeline, the definition it has (a fingerprint),
  since when (``active_since``: a new or edited trigger starts at its next tick, never at once)
  and the last tick started;
- ``jb_scheduled_runs``: one row per (pipeline, trigger, tick), its primary key, so two
  schedulers on one store never start the same tick twice: the one whose insert succeeds runs it;
- ``jb_backfills`` and ``jb_backfill_intervals``: a backfill's intervals and each one's run and
  status, so a killed backfill resumes without redoing a finished interval;
- ``jb_alerts``: every alert sent or not (an SLA miss is alerted once per run).

Times are UTC ISO text (``2024-01-15T05:00:00+00:00``), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from jupyter_blocks.history.database import PIPELINE_RUNS, Connection, Database

TRIGGER_STATE = "jb_trigger_state"
SCHEDULED_RUNS = "jb_scheduled_runs"
BACKFILLS = "jb_backfills"
BACKFILL_INTERVALS = "jb_backfill_intervals"
ALERTS = "jb_alerts"
#: The advisory lock PostgreSQL stores hold while they create these tables ("jborch").
_CREATE_LOCK = 0x6A626F726368
_CREATE_TRIES = 5

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TRIGGER_STATE} (pipeline VARCHAR(255) NOT NULL, "
    "trigger_name VARCHAR(255) NOT NULL, fingerprint VARCHAR(64) NOT NULL, "
    "active_since VARCHAR(40) NOT NULL, last_tick VARCHAR(40), "
    "PRIMARY KEY (pipeline, trigger_name))",
    f"CREATE TABLE IF NOT EXISTS {SCHEDULED_RUNS} (pipeline VARCHAR(255) NOT NULL, "
    "trigger_name VARCHAR(255) NOT NULL, tick VARCHAR(40) NOT NULL, run_id VARCHAR(64), "
    "status VARCHAR(32) NOT NULL, claimed_at VARCHAR(40) NOT NULL, claimed_by VARCHAR(255), "
    "PRIMARY KEY (pipeline, trigger_name, tick))",
    f"CREATE TABLE IF NOT EXISTS {BACKFILLS} (backfill_id VARCHAR(64) NOT NULL, "
    "pipeline VARCHAR(255) NOT NULL, target TEXT, start_at VARCHAR(40) NOT NULL, "
    "end_at VARCHAR(40) NOT NULL, every VARCHAR(255) NOT NULL, variables TEXT, "
    "code VARCHAR(64), status VARCHAR(32) NOT NULL, created_at VARCHAR(40) NOT NULL, "
    "host VARCHAR(255), pid INTEGER, PRIMARY KEY (backfill_id))",
    f"CREATE TABLE IF NOT EXISTS {BACKFILL_INTERVALS} (backfill_id VARCHAR(64) NOT NULL, "
    "starts VARCHAR(40) NOT NULL, ends VARCHAR(40) NOT NULL, run_id VARCHAR(64), "
    "status VARCHAR(32) NOT NULL, code VARCHAR(64), error TEXT, "
    "PRIMARY KEY (backfill_id, starts))",
    f"CREATE TABLE IF NOT EXISTS {ALERTS} (run_id VARCHAR(64) NOT NULL, "
    "kind VARCHAR(32) NOT NULL, destination VARCHAR(255) NOT NULL, ok INTEGER NOT NULL, "
    "error TEXT, sent_at VARCHAR(40) NOT NULL, PRIMARY KEY (run_id, kind, destination))",
)


def stamp(moment: dt.datetime) -> str:
    """A moment as the store keeps it: UTC ISO text (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()


def moment(text: str | None) -> dt.datetime | None:
    """The moment of :func:`stamp`'s text."""
    return dt.datetime.fromisoformat(text) if text else None


class Orchestration:
    """Triggers, scheduled-run claims, backfills and alerts in a run store's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._local = threading.local()
        self._create_tables()
        self.recover()

    def _create_tables(self) -> None:
        """Create the tables where missing, while other processes may be doing the same.

        On PostgreSQL two creators serialise on an advisory lock (a concurrent ``CREATE TABLE
        IF NOT EXISTS`` can fail there); SQLite's write lock does the same.
        """
        for attempt in range(1, _CREATE_TRIES + 1):
            try:
                with self._connection() as db, db.transaction():
                    if self.database.name == "postgresql":
                        db.rows("SELECT pg_advisory_xact_lock(:key)", {"key": _CREATE_LOCK})
                    for statement in _SCHEMA:
                        db.run(statement)
                return
            except Exception as exc:
                if attempt == _CREATE_TRIES or not (_duplicate(exc) or "locked" in str(exc)
                                                   or "already exists" in str(exc).lower()):
                    raise
                time.sleep(0.05 * attempt)

    def recover(self) -> list[str]:
        """Mark backfills left ``running`` by dead processes of this host ``interrupted``.

        Their ``running`` intervals too: no backfill stays running forever.
        """
        from jupyter_blocks.core.files import process_alive

        host = socket.gethostname()
        with self._connection() as db:
            rows = db.rows(f"SELECT backfill_id, host, pid FROM {BACKFILLS} "
                           "WHERE status = 'running'")
            dead = [str(row["backfill_id"]) for row in rows
                    if row["host"] == host and not (row["pid"] and process_alive(row["pid"]))]
            for backfill_id in dead:
                with db.transaction():
                    db.run(f"UPDATE {BACKFILLS} SET status = 'interrupted' "
                           "WHERE backfill_id = :id AND status = 'running'", {"id": backfill_id})
                    db.run(f"UPDATE {BACKFILL_INTERVALS} SET status = 'interrupted' "
                           "WHERE backfill_id = :id AND status = 'running'", {"id": backfill_id})
        return dead

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """This thread's connection, kept between calls (a backfill records every interval).

        One that failed is closed, and replaced next time.
        """
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.database.connect()
        try:
            yield db
        except BaseException:
            self._local.db = None
            with contextlib.suppress(Exception):
                db.close()
            raise

    # -- triggers -----------------------------------------------------------------------------

    def trigger_state(self, pipeline: str, trigger: str, fingerprint: str, now: dt.datetime
                      ) -> tuple[dt.datetime, dt.datetime | None]:
        """``(active_since, last_tick)`` of a trigger; a new or edited one is active from now."""
        key = {"pipeline": pipeline, "trigger": trigger}
        with self._connection() as db:
            rows = db.rows(f"SELECT fingerprint, active_since, last_tick FROM {TRIGGER_STATE} "
                           "WHERE pipeline = :pipeline AND trigger_name = :trigger", key)
            if rows and rows[0]["fingerprint"] == fingerprint:
                since = moment(rows[0]["active_since"])
                assert since is not None
                return since, moment(rows[0]["last_tick"])
            with db.transaction():
                if rows:
                    db.run(f"UPDATE {TRIGGER_STATE} SET fingerprint = :fingerprint, "
                           "active_since = :since WHERE pipeline = :pipeline "
                           "AND trigger_name = :trigger",
                           {**key, "fingerprint": fingerprint, "since": stamp(now)})
                    return now, moment(rows[0]["last_tick"])
                try:
                    db.run(f"INSERT INTO {TRIGGER_STATE} (pipeline, trigger_name, fingerprint, "
                           "active_since) VALUES (:pipeline, :trigger, :fingerprint, :since)",
                           {**key, "fingerprint": fingerprint, "since": stamp(now)})
                except Exception as exc:
                    if not _duplicate(exc):
                        raise
            return self.trigger_state(pipeline, trigger, fingerprint, now)

    def ticked(self, pipeline: str, trigger: str, tick: dt.datetime) -> None:
        """Remember the last tick of a trigger that was dealt with (run or skipped)."""
        with self._connection() as db:
            db.run(f"UPDATE {TRIGGER_STATE} SET last_tick = :tick WHERE pipeline = :pipeline "
                   "AND trigger_name = :trigger AND (last_tick IS NULL OR last_tick < :tick)",
                   {"pipeline": pipeline, "trigger": trigger, "tick": stamp(tick)})

    # -- one run per tick ---------------------------------------------------------------------

    def claim(self, pipeline: str, trigger: str, tick: dt.datetime, run_id: str, by: str,
              status: str = "claimed") -> bool:
        """Claim a tick for a run; False when another scheduler has it already."""
        with self._connection() as db:
            try:
                db.run(f"INSERT INTO {SCHEDULED_RUNS} (pipeline, trigger_name, tick, run_id, "
                       "status, claimed_at, claimed_by) VALUES (:pipeline, :trigger, :tick, "
                       ":run_id, :status, :now, :by)",
                       {"pipeline": pipeline, "trigger": trigger, "tick": stamp(tick),
                        "run_id": run_id, "status": status,
                        "now": stamp(dt.datetime.now(dt.timezone.utc)), "by": by})
            except Exception as exc:
                if _duplicate(exc):
                    return False
                raise
        return True

    def scheduled(self, pipeline: str | None = None, trigger: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
        """Claimed ticks, newest first, with their run's status from the run history."""
        where, params = [], {"limit": int(limit)}
        if pipeline:
            where.append("s.pipeline = :pipeline")
            params["pipeline"] = pipeline  # type: ignore[assignment]
        if trigger:
            where.append("s.trigger_name = :trigger")
            params["trigger"] = trigger  # type: ignore[assignment]
        condition = f"WHERE {' AND '.join(where)} " if where else ""
        with self._connection() as db:
            return db.rows(
                "SELECT s.pipeline, s.trigger_name, s.tick, s.run_id, s.status AS claim, "
                f"r.status FROM {SCHEDULED_RUNS} s LEFT JOIN {PIPELINE_RUNS} r "
                f"ON r.run_id = s.run_id {condition}ORDER BY s.tick DESC LIMIT :limit", params)

    def release(self, pipeline: str, trigger: str, tick: dt.datetime,
                previous_tick: dt.datetime | None) -> None:
        """Give a claimed tick back: its run never began (the scheduler stopped first).

        The next scheduler then runs it as a missed tick.
        """
        key = {"pipeline": pipeline, "trigger": trigger, "tick": stamp(tick)}
        with self._connection() as db, db.transaction():
            db.run(f"DELETE FROM {SCHEDULED_RUNS} WHERE pipeline = :pipeline "
                   "AND trigger_name = :trigger AND tick = :tick", key)
            db.run(f"UPDATE {TRIGGER_STATE} SET last_tick = :previous WHERE pipeline = :pipeline "
                   "AND trigger_name = :trigger AND last_tick = :tick",
                   {**key, "previous": stamp(previous_tick) if previous_tick else None})

    def claim_status(self, pipeline: str, trigger: str, tick: dt.datetime, status: str) -> None:
        """Record what became of a claimed tick (``started``, ``skipped``, ``timed out``...)."""
        with self._connection() as db:
            db.run(f"UPDATE {SCHEDULED_RUNS} SET status = :status WHERE pipeline = :pipeline "
                   "AND trigger_name = :trigger AND tick = :tick",
                   {"status": status, "pipeline": pipeline, "trigger": trigger,
                    "tick": stamp(tick)})

    def running(self, pipeline: str, trigger_label: str) -> int:
        """How many runs of a pipeline started by ``trigger_label`` are still running."""
        with self._connection() as db:
            rows = db.rows(f"SELECT count(*) AS n FROM {PIPELINE_RUNS} WHERE pipeline = :p "
                           'AND "trigger" = :t AND status = \'running\'',
                           {"p": pipeline, "t": trigger_label})
        return int(rows[0]["n"])

    # -- backfills ----------------------------------------------------------------------------

    def open_backfill(self, backfill_id: str, pipeline: str, target: str, start: dt.datetime,
                      end: dt.datetime, every: str, variables: dict[str, Any], code: str,
                      intervals: Sequence[tuple[dt.datetime, dt.datetime]], *,
                      host: str, pid: int) -> tuple[str, bool]:
        """``(id, resumed)`` of the backfill to run: the last one unfinished, or a new one.

        An unfinished backfill of the same pipeline, bounds, interval and variables is taken
        over by this process; a new one has every interval ``pending``.
        """
        values = _variables_text(variables)
        owner = {"host": host, "pid": pid}
        with self._connection() as db:
            found = db.rows(f"SELECT backfill_id FROM {BACKFILLS} WHERE pipeline = :pipeline "
                            "AND start_at = :start AND end_at = :end AND every = :every "
                            "AND variables = :variables AND status <> 'success' "
                            "ORDER BY created_at DESC",
                            {"pipeline": pipeline, "start": stamp(start), "end": stamp(end),
                             "every": every, "variables": values})
            if found:
                found_id = str(found[0]["backfill_id"])
                self.take_over(found_id, host, pid, db)
                return found_id, True
            with db.transaction():
                db.run(f"INSERT INTO {BACKFILLS} (backfill_id, pipeline, target, start_at, "
                       "end_at, every, variables, code, status, created_at, host, pid) "
                       "VALUES (:id, :pipeline, :target, :start, :end, :every, :variables, "
                       ":code, 'running', :now, :host, :pid)",
                       {"id": backfill_id, "pipeline": pipeline, "target": target,
                        "start": stamp(start), "end": stamp(end), "every": every,
                        "variables": values, "code": code,
                        "now": stamp(dt.datetime.now(dt.timezone.utc)), **owner})
                for starts, ends in intervals:
                    db.run(f"INSERT INTO {BACKFILL_INTERVALS} (backfill_id, starts, ends, "
                           "status) VALUES (:id, :starts, :ends, 'pending')",
                           {"id": backfill_id, "starts": stamp(starts), "ends": stamp(ends)})
        return backfill_id, False

    def take_over(self, backfill_id: str, host: str, pid: int, db: Connection | None = None
                  ) -> None:
        """This process runs the backfill now (resumed): it is ``running`` again."""
        values = {"id": backfill_id, "host": host, "pid": pid}
        sql = (f"UPDATE {BACKFILLS} SET status = 'running', host = :host, pid = :pid "
               "WHERE backfill_id = :id")
        if db is not None:
            db.run(sql, values)
            return
        with self._connection() as connection:
            connection.run(sql, values)

    def succeeded_intervals(self, pipeline: str, variables: dict[str, Any], code: str
                            ) -> set[tuple[str, str]]:
        """``(starts, ends)`` of the intervals that succeeded with this code and variables.

        In any backfill of the pipeline.
        """
        with self._connection() as db:
            rows = db.rows(f"SELECT i.starts, i.ends FROM {BACKFILL_INTERVALS} i JOIN "
                           f"{BACKFILLS} b ON b.backfill_id = i.backfill_id "
                           "WHERE b.pipeline = :pipeline AND b.variables = :variables "
                           "AND i.status = 'success' AND i.code = :code",
                           {"pipeline": pipeline, "variables": _variables_text(variables),
                            "code": code})
        return {(row["starts"], row["ends"]) for row in rows}

    def backfill(self, backfill_id: str) -> dict[str, Any] | None:
        """A backfill with ``"intervals"``, or None."""
        with self._connection() as db:
            rows = db.rows(f"SELECT * FROM {BACKFILLS} WHERE backfill_id = :id",
                           {"id": backfill_id})
            if not rows:
                return None
            intervals = db.rows(f"SELECT i.starts, i.ends, i.run_id, i.status, i.code, i.error "
                                f"FROM {BACKFILL_INTERVALS} i WHERE i.backfill_id = :id "
                                "ORDER BY i.starts", {"id": backfill_id})
        found = dict(rows[0])
        found["variables"] = json.loads(found["variables"] or "{}")
        found["intervals"] = intervals
        return found

    def backfills(self, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Backfills, newest first, with their intervals counted by status."""
        where = "WHERE b.pipeline = :pipeline " if pipeline else ""
        with self._connection() as db:
            return db.rows(
                "SELECT b.backfill_id, b.pipeline, b.start_at, b.end_at, b.every, b.status, "
                "b.created_at, b.host, b.pid, count(i.starts) AS intervals, "
                "sum(CASE WHEN i.status = 'success' THEN 1 ELSE 0 END) AS succeeded, "
                "sum(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END) AS failed, "
                "sum(CASE WHEN i.status = 'skipped' THEN 1 ELSE 0 END) AS skipped "
                f"FROM {BACKFILLS} b LEFT JOIN {BACKFILL_INTERVALS} i "
                f"ON i.backfill_id = b.backfill_id {where}"
                "GROUP BY b.backfill_id, b.pipeline, b.start_at, b.end_at, b.every, b.status, "
                "b.created_at, b.host, b.pid ORDER BY b.created_at DESC LIMIT :limit",
                {"pipeline": pipeline, "limit": int(limit)})

    def interval_done(self, backfill_id: str, starts: dt.datetime, status: str,
                      run_id: str | None, code: str | None, error: str | None = None) -> None:
        """Record how an interval of a backfill ended (or that it started: ``running``)."""
        with self._connection() as db:
            db.run(f"UPDATE {BACKFILL_INTERVALS} SET status = :status, run_id = :run_id, "
                   "code = :code, error = :error WHERE backfill_id = :id AND starts = :starts",
                   {"status": status, "run_id": run_id, "code": code, "error": error,
                    "id": backfill_id, "starts": stamp(starts)})

    def backfill_done(self, backfill_id: str, status: str) -> None:
        """Record how a backfill ended."""
        with self._connection() as db:
            db.run(f"UPDATE {BACKFILLS} SET status = :status WHERE backfill_id = :id",
                   {"status": status, "id": backfill_id})

    # -- alerts -------------------------------------------------------------------------------

    def alerted(self, run_id: str, kind: str, destination: str, ok: bool,
                error: str | None = None) -> bool:
        """Record an alert; False when this kind was already sent there for this run."""
        with self._connection() as db:
            try:
                db.run(f"INSERT INTO {ALERTS} (run_id, kind, destination, ok, error, sent_at) "
                       "VALUES (:run_id, :kind, :destination, :ok, :error, :now)",
                       {"run_id": run_id, "kind": kind, "destination": destination,
                        "ok": int(ok), "error": error,
                        "now": stamp(dt.datetime.now(dt.timezone.utc))})
            except Exception as exc:
                if _duplicate(exc):
                    return False
                raise
        return True

    def alerts(self, run_id: str) -> list[dict[str, Any]]:
        """The alerts of a run, in the order they were recorded."""
        with self._connection() as db:
            return db.rows(f"SELECT kind, destination, ok, error, sent_at FROM {ALERTS} "
                           "WHERE run_id = :run_id ORDER BY sent_at", {"run_id": run_id})


def _variables_text(variables: dict[str, Any]) -> str:
    return json.dumps(variables, sort_keys=True, default=str)


def _duplicate(exc: BaseException) -> bool:
    """Whether an insert failed because its key is taken (any driver's spelling)."""
    names = {type(exc).__name__, type(getattr(exc, "orig", None) or exc).__name__}
    text = str(exc).lower()
    return bool(names & {"IntegrityError", "UniqueViolation"}) or "unique" in text \
        or "duplicate key" in text


