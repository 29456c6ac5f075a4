"""The CLI's plain output: progress lines, JSON events and failure reports, without rich.

What belongs here: what ``jupyter-blocks run`` writes for a program or a log (one timestamped
line per event, one JSON object per line for ``--json``), the failure report, and the lines of
the scheduler's log, all plain text, so a run with ``--quiet`` or ``--json`` never imports rich.
The live view and the tables are ``terminal``'s.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TextIO

from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import Event, RunResult

#: The state a block is in after each kind of event.
STATUS = {ev.BLOCK_STARTED: "running", ev.BLOCK_CACHED: "cached", ev.BLOCK_FINISHED: "ran",
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


def describe(event: Event) -> str:
    """A one-line, human description of an event."""
    if isinstance(event, ev.RunStarted):
        count = len(event.blocks)
        return f"run {event.run_id} of {event.pipeline or 'pipeline'} started ({count} blocks)"
    if isinstance(event, ev.RunFinished):
        return f"run {event.run_id} {event.status} in {event.seconds or 0:.2f}s"
    status = STATUS.get(event.event, event.event)
    text = f"{event.block} {status}"
    said = detail(event)
    if said and isinstance(event, ev.BlockSkipped):
        return f"{text}: {said}"  # skipped: why
    return f"{text} {said}" if said else text


def detail(event: Event) -> str:
    """What an event says about its block: attempt, time, cache layer, rows, error."""
    parts: list[str] = []
    if isinstance(event, ev.BlockStarted) and event.attempt > 1:
        parts.append(f"attempt {event.attempt}")
    if isinstance(event, ev.BlockFinished | ev.BlockFailed) and event.seconds is not None:
        parts.append(f"{event.seconds:.2f}s")
    if isinstance(event, ev.BlockCached) and event.layer:
        parts.append(f"from {event.layer} cache")
    if isinstance(event, ev.BlockCached | ev.BlockFinished) and event.rows is not None:
        parts.append(ev.shape_text(event.rows, event.cols))
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


def tally(counts: list[int] | tuple[int, ...]) -> str:
    """``×265 · 263 ran · 2 failed``: the children of a block that fanned out."""
    total, ran, failed, skipped = counts
    parts = [f"×{total}"] + [f"{count} {word}" for count, word in
                             ((ran, "ran"), (failed, "failed"), (skipped, "skipped")) if count]
    return " · ".join(parts)


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


def log_line(record: dict[str, Any]) -> str:
    """One line of the scheduler's log for a ``Scheduler.say`` record."""
    kind = record["event"]
    when = record.get("time", "")
    who = f"{record.get('pipeline', '')} run {record.get('run_id', '')}".strip()
    if kind == "scheduler_started":
        text = (f"scheduling {record.get('triggers', 0)} trigger(s) of "
                f"{', '.join(record.get('pipelines', [])) or 'no pipeline'}")
    elif kind == "scheduler_stopped":
        text = "stopped"
    elif kind in ("run_started", "run_scheduled"):
        verb = "starts at its tick" if kind == "run_scheduled" else "started"
        when_for = record.get("execution_date")
        text = f"{who} {verb} ({record.get('trigger')}" + (
            f", execution date {when_for})" if when_for else ")")
    elif kind == "run_finished":
        text = f"{who} {record.get('status')} in {record.get('seconds', 0):.1f} s"
    elif kind == "sla_missed":
        text = f"{who} missed its SLA ({record.get('trigger')}, tick {record.get('tick')})"
    elif kind == "pipeline_problem":
        text = f"{record.get('pipeline')}: {record.get('error')} ({record.get('detail')})"
    elif kind == "tick_released":
        text = (f"{who} had not begun: tick {record.get('tick')} of {record.get('trigger')} "
                "given back for the next scheduler")
    elif kind == "api_listening":
        text = f"API trigger listening on {record.get('url')}"
    elif kind == "pipeline_reloaded":
        text = f"{record.get('pipeline')}: reloaded"
    else:
        rest = {k: v for k, v in record.items() if k not in ("event", "time")}
        text = f"{kind} {json.dumps(rest, default=str)}"
    return f"{when} {text}"
