"""What ``schedule list`` and ``backfill`` draw: trigger and backfill tables, the progress bar.

What belongs here: rich tables of triggers (next fire time in UTC and local time, last run),
backfills and one backfill's intervals; :class:`BackfillProgress`, a backfill's progress on a
terminal (a bar with the intervals done, failed and left, and an ETA) or as plain lines in a
log; and the summary printed when a backfill ends. No scheduling logic.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

_STYLES = {"success": "green", "failed": "bold red", "interrupted": "red",
           "running": "bold blue", "skipped": "yellow", "done before": "cyan",
           "timed out": "red", "not started": "red", "pending": "dim"}


def triggers_table(rows: list[dict[str, Any]], local: dt.tzinfo | None) -> Table:
    """Every trigger: pipeline, name, schedule, status, next fire time, last run."""
    table = Table()
    for column in ("pipeline", "trigger", "schedule", "status", "next (UTC)", "next (local)",
                   "last run", "last status"):
        table.add_column(column, no_wrap=column not in ("schedule",))
    for row in rows:
        upcoming = dt.datetime.fromisoformat(row["next"]) if row.get("next") else None
        table.add_row(
            row["pipeline"], row["trigger"], row["schedule"],
            Text(row["status"], style="green" if row["status"] == "active" else "dim"),
            f"{upcoming.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M}" if upcoming else "",
            f"{upcoming.astimezone(local):%Y-%m-%d %H:%M %Z}" if upcoming else "",
            row.get("last_run") or "",
            Text(row.get("last_status") or "never run",
                 style=_STYLES.get(row.get("last_status") or "", "dim")))
    return table


def backfills_table(rows: list[dict[str, Any]]) -> Table:
    """Backfills: id, pipeline, bounds, interval, status, intervals by status."""
    table = Table()
    for column in ("backfill", "pipeline", "from", "to", "every", "status", "intervals",
                   "succeeded", "failed", "created"):
        table.add_column(column, no_wrap=True,
                         justify="right" if column in ("intervals", "succeeded", "failed")
                         else "left")
    for row in rows:
        table.add_row(row["backfill_id"], row["pipeline"], _day(row["start_at"]),
                      _day(row["end_at"]), row["every"],
                      Text(row["status"], style=_STYLES.get(row["status"], "")),
                      str(row.get("intervals") or 0), str(row.get("succeeded") or 0),
                      str(row.get("failed") or 0), _day(row.get("created_at"), seconds=True))
    return table


def backfill_table(backfill: dict[str, Any]) -> Table:
    """One backfill's intervals: start, end, status, run, error."""
    table = Table(title=f"backfill {backfill['backfill_id']} of {backfill['pipeline']}: "
                  f"{backfill['status']} ({backfill['every']} from "
                  f"{_day(backfill['start_at'])} to {_day(backfill['end_at'])}, end excluded)",
                  title_justify="left")
    for column in ("start", "end", "status", "run", "error"):
        table.add_column(column, no_wrap=column != "error")
    for interval in backfill["intervals"]:
        table.add_row(_day(interval["starts"]), _day(interval["ends"]),
                      Text(interval["status"], style=_STYLES.get(interval["status"], "")),
                      interval.get("run_id") or "", interval.get("error") or "")
    return table


class BackfillProgress:
    """A backfill's progress: a bar on a terminal, one line per interval otherwise."""

    def __init__(self, console: Console, *, live: bool, stream: Any = None) -> None:
        self.console = console
        # The stream as it is now: while blocks run in this process, sys.stdout is routed to
        # their captured output.
        self.stream = stream if stream is not None else sys.stdout
        self.live = live
        self.done = self.failed = self.total = 0
        self.progress: Progress | None = None
        self.task: Any = None
        self.began = time.monotonic()

    def __call__(self, record: dict[str, Any]) -> None:
        """Show ``record`` (an event of ``schedule.backfill``)."""
        kind = record["event"]
        if kind == "backfill_started":
            self.total = record["to_run"]
            verb = "resuming" if record.get("resumed") else "starting"
            self._line(f"{verb} backfill {record['backfill_id']} of {record['pipeline']}: "
                       f"{record['to_run']} of {record['total']} intervals to run"
                       + (f", {record['done_before']} done before" if record["done_before"]
                          else "") + f", {record['parallel']} at once")
            if self.live and self.total:
                self.progress = Progress(
                    TextColumn("[bold]backfill"), BarColumn(),
                    TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
                    transient=True)
                self.task = self.progress.add_task("backfill", total=self.total,
                                                   counts=self._counts())
                self.progress.start()
        elif kind == "interval_finished":
            if record["status"] == "success":
                self.done += 1
            else:
                self.failed += 1
            if self.progress is not None:
                self.progress.update(self.task, advance=1, counts=self._counts())
                if record["status"] != "success":
                    self.progress.console.print(_interval_line(record))
            else:
                self._line(_interval_line(record) + f" · {self._counts()}")

    def _counts(self) -> str:
        left = self.total - self.done - self.failed
        return f"{self.done} done · {self.failed} failed · {left} left"

    def _line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop drawing the bar."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def backfill_summary(result: Any) -> list[str]:
    """The lines printed when a backfill ends."""
    parts = [f"{result.count('success')} succeeded"]
    for status in ("failed", "interrupted", "done before"):
        if result.count(status):
            parts.append(f"{result.count(status)} {status}")
    lines = [f"backfill {result.backfill_id} of {result.pipeline}: "
             f"{len(result.intervals)} intervals, " + ", ".join(parts)]
    lines += [f"  {i.start.isoformat()}: {i.status}" + (f": {i.error}" if i.error else "")
              for i in result.intervals if i.status in ("failed", "interrupted")][:20]
    return lines


def _interval_line(record: dict[str, Any]) -> str:
    text = f"{record['start']} {record['status']} (run {record['run_id']}"
    if record.get("seconds") is not None:
        text += f", {record['seconds']:.2f} s"
    text += ")"
    if record.get("error"):
        text += f": {record['error']}"
    return text


def _day(text: str | None, *, seconds: bool = False) -> str:
    if not text:
        return ""
    moment = dt.datetime.fromisoformat(text)
    if moment.utcoffset() == dt.timedelta(0):
        moment = moment.replace(tzinfo=None)
    if seconds:
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment:%Y-%m-%d}" if (moment.hour, moment.minute) == (0, 0) \
        else f"{moment:%Y-%m-%d %H:%M}"
