"""The CLI's output layer: run progress, the summary table and failure reports on a terminal.

What belongs here: rendering runner events for a person or a program. A live rich view when
stdout is a TTY, plain timestamped lines otherwise, one JSON object per line for ``--json``,
nothing but failures for ``--quiet``. No run logic: ``cli`` wires these to ``headless``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jupyter_blocks.cache import EntryInfo
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import Event, RunResult

_STYLES = {"ran": "green", "cached": "cyan", "failed": "bold red", "skipped": "yellow",
           "running": "bold blue", "pending": "dim", "interrupted": "red"}
_STATUS = {ev.BLOCK_STARTED: "running", ev.BLOCK_CACHED: "cached", ev.BLOCK_FINISHED: "ran",
           ev.BLOCK_FAILED: "failed", ev.BLOCK_SKIPPED: "skipped", ev.BLOCK_WAITING: "waiting",
           ev.BLOCK_RETRYING: "retrying", ev.CHILDREN_STARTED: "fanned out"}


def json_lines(stream: TextIO) -> Any:
    """A subscriber writing each event as one JSON line to ``stream``."""
    closed = False

    def write(event: Event) -> None:
        nonlocal closed
        if closed:
            return
        try:
            stream.write(json.dumps(event.to_dict(), default=str) + "\n")
            stream.flush()
        except BrokenPipeError:
            closed = True  # the reader went away (``| head``); the run goes on

    return write


class PlainProgress:
    """One timestamped line per event, for logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        """Write the line for ``event``."""
        stamp = dt.datetime.fromtimestamp(event.time).strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {describe(event)}\n")
        self.stream.flush()

    def close(self) -> None:
        """Nothing to close."""


class LiveProgress:
    """A rich table of blocks updated in place as events arrive."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.states: dict[str, tuple[str, str]] = {}
        self.children: dict[str, list[int]] = {}
        self.live: Live | None = None

    def _count(self, block: str, event: Event) -> None:
        tally = self.children[block]
        index = {ev.BLOCK_FINISHED: 1, ev.BLOCK_CACHED: 1, ev.BLOCK_FAILED: 2,
                 ev.BLOCK_SKIPPED: 3}.get(event.event)
        if index is not None:
            tally[index] += 1
        settled = sum(tally[1:])
        state = ("failed" if tally[2] else "ran") if settled >= tally[0] else "running"
        self.states[block] = (state, _tally(tally))

    def __call__(self, event: Event) -> None:
        """Update the view with ``event``."""
        if isinstance(event, ev.RunStarted):
            self.states = {name: ("pending", "") for name in event.blocks}
            self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                             transient=True)
            self.live.start()
        elif isinstance(event, ev.ChildrenStarted):
            self.children[event.block] = [len(event.children), 0, 0, 0]
            self.states[event.block] = ("running", _tally(self.children[event.block]))
        elif event.block is not None and event.event in _STATUS:
            block = event.block.split(":", 1)[0]
            if block != event.block and block in self.children:
                self._count(block, event)
            else:
                self.states[event.block] = (_STATUS[event.event], _detail(event))
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
        for name, (state, detail) in self.states.items():
            marker = "…" if state == "running" else "•"
            table.add_row(Text(f"{marker} {name}"), Text(state, style=_STYLES.get(state, "")),
                          Text(detail, style="dim"))
        return table


def describe(event: Event) -> str:
    """A one-line, human description of an event."""
    if isinstance(event, ev.RunStarted):
        count = len(event.blocks)
        return f"run {event.run_id} of {event.pipeline or 'pipeline'} started ({count} blocks)"
    if isinstance(event, ev.RunFinished):
        return f"run {event.run_id} {event.status} in {event.seconds or 0:.2f}s"
    status = _STATUS.get(event.event, event.event)
    text = f"{event.block} {status}"
    detail = _detail(event)
    return f"{text} {detail}" if detail else text


def _detail(event: Event) -> str:
    parts: list[str] = []
    if isinstance(event, ev.BlockStarted) and event.attempt > 1:
        parts.append(f"attempt {event.attempt}")
    if isinstance(event, ev.BlockFinished | ev.BlockFailed) and event.seconds is not None:
        parts.append(f"{event.seconds:.2f}s")
    if isinstance(event, ev.BlockCached) and event.layer:
        parts.append(f"from {event.layer} cache")
    if isinstance(event, ev.BlockCached | ev.BlockFinished) and event.rows is not None:
        parts.append(f"{event.rows} rows")
    if isinstance(event, ev.BlockFailed) and event.error:
        parts.append(event.error)
    if isinstance(event, ev.BlockSkipped) and event.reason:
        parts.append(event.reason)
    if isinstance(event, ev.BlockWaiting):
        parts.append(f"poke {event.poke}, next in {max(event.next_poke - event.time, 0):.0f}s")
    if isinstance(event, ev.BlockRetrying):
        parts.append(f"attempt {event.attempt} failed: {event.error}; "
                     f"retrying in {event.delay or 0:g}s")
    if isinstance(event, ev.ChildrenStarted):
        parts.append(f"into {len(event.children)} children")
    return ", ".join(parts)


def _tally(tally: list[int]) -> str:
    total, ran, failed, skipped = tally
    parts = [f"×{total}"] + [f"{count} {word}" for count, word in
                             ((ran, "ran"), (failed, "failed"), (skipped, "skipped")) if count]
    return " · ".join(parts)


def summary_table(result: RunResult) -> Table:
    """Block, status, seconds, rows: a row per block of the run.

    A block that fanned out shows its children's counts; only its failed children get rows.
    """
    table = Table(title=f"run {result.run_id}: {result.status} in {result.seconds:.2f}s",
                  title_justify="left")
    table.add_column("block")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("rows", justify="right")
    fanned = {o.name for o in result.outcomes.values() if o.children is not None}
    for outcome in result.outcomes.values():
        if outcome.block in fanned and outcome.name != outcome.block \
                and outcome.status != "failed":
            continue
        seconds = f"{outcome.seconds:.2f}" if outcome.status == "ran" or \
            outcome.status == "failed" else "-"
        rows = "" if outcome.rows is None else str(outcome.rows)
        status = outcome.status
        if outcome.children is not None:
            status = f"{status} {_tally(list(outcome.children))}"
        if outcome.status == "skipped" and outcome.why == "condition":
            status = "skipped (condition)"
        table.add_row(outcome.name, Text(status, style=_STYLES.get(outcome.status, "")),
                      seconds, rows)
    return table


def failure_report(result: RunResult, resume: str | None) -> list[str]:
    """Lines explaining each failure: traceback, blocks not run because of it, how to resume."""
    lines: list[str] = []
    for failed in result.failed:
        lines.append(failed.error or f"block `{failed.name}` failed")
        if failed.traceback:
            lines.extend(failed.traceback.rstrip("\n").splitlines())
        blocked = [o.name for o in result.outcomes.values()
                   if o.status == "skipped" and o.cause == failed.name]
        if blocked:
            lines.append(f"not run because {failed.name} failed: {', '.join(blocked)}")
    for failed in result.failed_callbacks:
        lines.append(f"warning: callback {failed.name} failed (its block's status is "
                     f"unchanged): {failed.error}")
    if resume:
        lines.append(f"resume with: {resume}")
    return lines


def cache_table(entries: Iterable[EntryInfo]) -> Table:
    """Disk cache entries: key, block, kind, rows, size, last used."""
    table = Table()
    for column in ("key", "block", "kind", "rows", "size", "last used"):
        table.add_column(column, justify="right" if column in ("rows", "size") else "left")
    for entry in entries:
        used = dt.datetime.fromtimestamp(entry.used).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(entry.key[:12], entry.block or "", entry.kind,
                      "" if entry.rows is None else str(entry.rows), _size(entry.size), used)
    return table


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """Pipeline runs: id, pipeline, status, started, seconds, trigger."""
    table = Table()
    for column in ("run", "pipeline", "status", "started", "seconds", "trigger"):
        table.add_column(column, justify="right" if column == "seconds" else "left",
                         no_wrap=True)
    for run in runs:
        seconds = "" if run.get("seconds") is None else f"{run['seconds']:.2f}"
        table.add_row(run["run_id"], run["pipeline"],
                      Text(run["status"], style=_STYLES.get(_run_style(run["status"]), "")),
                      (run.get("started_at") or "")[:19].replace("T", " "), seconds,
                      run.get("trigger") or "")
    return table


def run_table(run: dict[str, Any], width: int = 24) -> Table:
    """A run's block runs with a text Gantt of their timings."""
    seconds = "" if run.get("seconds") is None else f" in {run['seconds']:.2f}s"
    table = Table(title=f"run {run['run_id']} of {run['pipeline']}: {run['status']}{seconds}",
                  title_justify="left")
    for column in ("block", "attempt", "status", "seconds", "rows", "timeline"):
        table.add_column(column, justify="right" if column in ("seconds", "rows") else "left")
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
                      seconds_text, "" if block.get("rows") is None else str(block["rows"]),
                      Text(bar, style=_STYLES.get(block["status"], "")))
    return table


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _run_style(status: str) -> str:
    return {"success": "ran", "running": "running"}.get(status, status)
