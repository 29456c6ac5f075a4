"""The CLI's rich output: the live progress view on a terminal, the summary and history tables.

What belongs here: what is drawn for a person with rich: the table of blocks updated in place
while a run goes on (stdout a TTY), the run's summary table, and the tables of ``runs`` and
``cache``. Plain progress lines, JSON events and failure reports are ``progress``'s (so
``--quiet`` and ``--json`` runs never import rich). No run logic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jupyter_blocks.cache import EntryInfo
from jupyter_blocks.cli.progress import STATUS, detail, tally
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import Event, RunResult

_STYLES = {"ran": "green", "cached": "cyan", "failed": "bold red", "skipped": "yellow",
           "running": "bold blue", "pending": "dim", "interrupted": "red"}


class LiveProgress:
    """A rich table of blocks updated in place as events arrive."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.states: dict[str, tuple[str, str]] = {}
        self.children: dict[str, list[int]] = {}
        self.live: Live | None = None

    def _count(self, block: str, event: Event) -> None:
        counts = self.children[block]
        index = {ev.BLOCK_FINISHED: 1, ev.BLOCK_CACHED: 1, ev.BLOCK_FAILED: 2,
                 ev.BLOCK_SKIPPED: 3}.get(event.event)
        if index is not None:
            counts[index] += 1
        settled = sum(counts[1:])
        state = ("failed" if counts[2] else "ran") if settled >= counts[0] else "running"
        self.states[block] = (state, tally(counts))

    def __call__(self, event: Event) -> None:
        """Update the view with ``event``."""
        if isinstance(event, ev.RunStarted):
            self.states = {name: ("pending", "") for name in event.blocks}
            self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                             transient=True)
            self.live.start()
        elif isinstance(event, ev.ChildrenStarted):
            self.children[event.block] = [len(event.children), 0, 0, 0]
            self.states[event.block] = ("running", tally(self.children[event.block]))
        elif event.block is not None and event.event in STATUS:
            block = event.block.split(":", 1)[0]
            if block != event.block and block in self.children:
                self._count(block, event)
            else:
                self.states[event.block] = (STATUS[event.event], detail(event))
        elif event.event == ev.RUN_FINISHED:
            self.close()
            return
        if self.live is not None:
            self.live.update(self._render())

    def close(self) -> None:
        """Stop the live view."""
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _render(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for name, (state, said) in self.states.items():
            marker = "…" if state == "running" else "•"
            table.add_row(Text(f"{marker} {name}"), Text(state, style=_STYLES.get(state, "")),
                          Text(said, style="dim"))
        return table


def _shape(rows: int | None, cols: int | None) -> str:
    """``5,008 × 20``, ``5,008`` or nothing: a table cell of an output's shape."""
    if rows is None:
        return ""
    return f"{rows:,} × {cols}" if cols is not None else f"{rows:,}"


def summary_table(result: RunResult) -> Table:
    """Block, status, seconds, rows: a row per block of the run.

    A block that fanned out shows its children's counts; only its failed children get rows.
    """
    table = Table(title=f"run {result.run_id}: {result.status} in {result.seconds:.2f}s",
                  title_justify="left")
    table.add_column("block")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("rows × cols", justify="right")
    fanned = {o.name for o in result.outcomes.values() if o.children is not None}
    for outcome in result.outcomes.values():
        if outcome.block in fanned and outcome.name != outcome.block \
                and outcome.status != "failed":
            continue
        seconds = f"{outcome.seconds:.2f}" if outcome.status == "ran" or \
            outcome.status == "failed" else "-"
        rows = _shape(outcome.rows, outcome.cols)
        status = outcome.status
        if outcome.children is not None:
            status = f"{status} {tally(outcome.children)}"
        if outcome.status == "skipped" and outcome.why == "condition":
            status = "skipped (condition)"
        elif outcome.status == "skipped" and outcome.why == "done" and outcome.error:
            status = f"skipped: {outcome.error}"  # an incremental run's done exporter
        table.add_row(outcome.name, Text(status, style=_STYLES.get(outcome.status, "")),
                      seconds, rows)
    return table


def cache_table(entries: Iterable[EntryInfo]) -> Table:
    """Disk cache entries: key, block, the value's type, rows, size, last used."""
    table = Table()
    for column in ("key", "block", "type", "rows", "size", "last used"):
        table.add_column(column, justify="right" if column in ("rows", "size") else "left")
    for entry in entries:
        used = dt.datetime.fromtimestamp(entry.used).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(entry.key[:12], entry.block or "", entry.type,
                      "" if entry.rows is None else f"{entry.rows:,}", _size(entry.size), used)
    return table


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """Pipeline runs: id, pipeline, status, started, seconds, trigger, the time it was for."""
    table = Table()
    for column in ("run", "pipeline", "status", "started", "seconds", "trigger", "for"):
        table.add_column(column, justify="right" if column == "seconds" else "left",
                         no_wrap=True)
    for run in runs:
        seconds = "" if run.get("seconds") is None else f"{run['seconds']:.2f}"
        trigger = run.get("trigger") or ""
        scheduled = trigger.startswith(("schedule:", "backfill:", "api:"))
        when = str((run.get("variables") or {}).get("execution_date") or "") if scheduled \
            else ""
        table.add_row(run["run_id"], run["pipeline"],
                      Text(run["status"], style=_STYLES.get(_run_style(run["status"]), "")),
                      (run.get("started_at") or "")[:19].replace("T", " "), seconds,
                      trigger, when[:19].replace("T", " "))
    return table


def run_table(run: dict[str, Any], width: int = 24) -> Table:
    """A run's block runs with a text Gantt of their timings."""
    seconds = "" if run.get("seconds") is None else f" in {run['seconds']:.2f}s"
    table = Table(title=f"run {run['run_id']} of {run['pipeline']}: {run['status']}{seconds}",
                  title_justify="left")
    for column in ("block", "attempt", "status", "seconds", "rows × cols", "timeline"):
        table.add_column(column, justify="right" if column in ("seconds", "rows × cols")
                         else "left")
    blocks = run.get("blocks", [])
    starts = [_time(b["started_at"]) for b in blocks if b.get("started_at")]
    ends = [_time(b["finished_at"]) for b in blocks if b.get("finished_at")]
    origin = min(starts) if starts else 0.0
    span = max((max(ends) if ends else origin) - origin, 1e-6)
    for block in blocks:
        bar = ""
        if block.get("started_at"):
            begin = _time(block["started_at"]) - origin
            end = (_time(block["finished_at"]) - origin) if block.get("finished_at") else span
            left = min(int(begin / span * width), width - 1)
            right = max(left + 1, min(round(end / span * width), width))
            bar = " " * left + "█" * (right - left)
        seconds_text = "" if block.get("seconds") is None else f"{block['seconds']:.2f}"
        table.add_row(block["block"], str(block.get("attempt") or ""),
                      Text(block["status"], style=_STYLES.get(block["status"], "")),
                      seconds_text, _shape(block.get("rows"), block.get("cols")),
                      Text(bar, style=_STYLES.get(block["status"], "")))
    return table


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _run_style(status: str) -> str:
    return {"success": "ran", "running": "running"}.get(status, status)
