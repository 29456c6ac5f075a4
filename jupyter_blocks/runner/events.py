"""Runner events and results: the records every subscriber (display, comm, store, CLI) receives.

What belongs here: one small frozen class per kind of event, each with its JSON form
(``to_dict``, read back by :func:`event_from_dict`), the results of a run, and how an output's
shape reads (``4,329 rows × 21 cols``) wherever it is shown. The JSON form is
the protocol of ``--json`` and of the labextension comm; ``tests/data/events.json`` holds shared
vectors that pytest and jest both check. Every event has ``event`` (its kind), ``run_id``,
``block`` (None for the run's own events) and ``time``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jupyter_blocks.cache.keys import KeyParts


def shape_text(rows: int | None, cols: int | None, type_name: str | None = None) -> str:
    """``1,234 rows × 5 cols``, ``3 items`` or the type name."""
    if rows is not None and cols is not None:
        return f"{rows:,} rows × {cols} cols"
    if rows is not None:
        return f"{rows:,} rows" if type_name in (None, "Series", "ndarray") else f"{rows:,} items"
    return type_name or ""


RUN_STARTED = "run_started"
BLOCK_STARTED = "block_started"
BLOCK_CACHED = "block_cached"
BLOCK_FINISHED = "block_finished"
BLOCK_FAILED = "block_failed"
BLOCK_SKIPPED = "block_skipped"
BLOCK_WAITING = "block_waiting"
BLOCK_RETRYING = "block_retrying"
CHILDREN_STARTED = "children_started"
RUN_FINISHED = "run_finished"


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event has. Subclasses add their own fields and set :attr:`event`."""

    #: The kind of event, as in the JSON form.
    event: ClassVar[str] = ""

    run_id: str
    block: str | None = None
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-able dict: ``event`` first, fields that are None left out."""
        data: dict[str, Any] = {"event": self.event}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is not None:
                data[item.name] = list(value) if isinstance(value, tuple) else value
        return data


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run began; ``blocks`` are the blocks it may touch, in run order."""

    event: ClassVar[str] = RUN_STARTED
    pipeline: str | None = None
    blocks: tuple[str, ...] = ()
    trigger: str | None = None


@dataclass(frozen=True, kw_only=True)
class BlockStarted(Event):
    """A block's task was started (``attempt`` 1, or a later attempt)."""

    event: ClassVar[str] = BLOCK_STARTED
    block: str
    attempt: int = 1
    type: str | None = None


@dataclass(frozen=True, kw_only=True)
class BlockCached(Event):
    """A block's output was served from the cache (``layer``: memory or disk)."""

    event: ClassVar[str] = BLOCK_CACHED
    block: str
    key: str | None = None
    layer: str | None = None
    rows: int | None = None
    cols: int | None = None
    type: str | None = None
    seconds: float | None = 0.0


@dataclass(frozen=True, kw_only=True)
class BlockFinished(Event):
    """A block ran and its tests passed; ``answer`` is a condition's or sensor's answer."""

    event: ClassVar[str] = BLOCK_FINISHED
    block: str
    attempt: int = 1
    seconds: float | None = None
    rows: int | None = None
    cols: int | None = None
    key: str | None = None
    tests_passed: int | None = None
    tests_total: int | None = None
    type: str | None = None
    output: str | None = None
    answer: bool | None = None


@dataclass(frozen=True, kw_only=True)
class BlockFailed(Event):
    """A block raised, failed a test or timed out on its last attempt."""

    event: ClassVar[str] = BLOCK_FAILED
    block: str
    attempt: int = 1
    seconds: float | None = None
    error: str | None = None
    traceback: str | None = None
    type: str | None = None
    output: str | None = None


@dataclass(frozen=True, kw_only=True)
class BlockSkipped(Event):
    """A block was not run: ``reason`` says why, ``cause`` names the block that caused it.

    ``why`` is ``upstream_failed``, ``condition`` (a condition answered false), ``no_items``
    (its dynamic upstream had nothing to fan out) or ``interrupted``.
    """

    event: ClassVar[str] = BLOCK_SKIPPED
    block: str
    reason: str | None = None
    cause: str | None = None
    why: str | None = None


@dataclass(frozen=True, kw_only=True)
class BlockWaiting(Event):
    """A sensor answered false on poke ``poke``; it is checked again at ``next_poke`` (epoch s)."""

    event: ClassVar[str] = BLOCK_WAITING
    block: str
    poke: int
    next_poke: float
    waited: float | None = None
    timeout: float | None = None


@dataclass(frozen=True, kw_only=True)
class BlockRetrying(Event):
    """Attempt ``attempt`` failed with ``error``; attempt ``attempt + 1`` starts in ``delay`` s."""

    event: ClassVar[str] = BLOCK_RETRYING
    block: str
    attempt: int
    error: str | None = None
    traceback: str | None = None
    seconds: float | None = None
    delay: float | None = None
    type: str | None = None
    output: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChildrenStarted(Event):
    """``parent`` (a dynamic block's node) fanned ``block`` out into ``children``."""

    event: ClassVar[str] = CHILDREN_STARTED
    block: str
    parent: str | None = None
    children: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """A run ended: ``success``, ``failed`` or ``interrupted``."""

    event: ClassVar[str] = RUN_FINISHED
    pipeline: str | None = None
    status: str | None = None
    seconds: float | None = None


#: Every event class by its kind.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.event: cls
    for cls in (RunStarted, BlockStarted, BlockCached, BlockFinished, BlockFailed, BlockSkipped,
                BlockWaiting, BlockRetrying, ChildrenStarted, RunFinished)
}

Subscriber = Callable[[Event], None]


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The event of a JSON form (``to_dict``'s output); unknown fields are an error."""
    kind = data.get("event")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "event":
            continue
        if key not in names:
            raise ValueError(f"{kind} has no field {key!r}")
        values[key] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


@dataclass
class BlockOutcome:
    """How one block ended in a run.

    Attributes:
        name: The block.
        status: ``ran``, ``cached``, ``failed`` or ``skipped``.
        key: The key parts of the block's inputs (None when skipped before keying).
        seconds: Wall time of the block (0 for a cache hit).
        attempts: How many times it ran.
        rows: Output rows, when the output has a shape.
        cols: Output columns, when the output has two dimensions.
        type_name: The output's type name.
        tests: ``(passed, total)`` of its ``@test`` functions.
        error: One-line error (failed) or reason (skipped).
        traceback: The block's traceback, with cell or file line numbers.
        cause: The block that caused a skip (a failed one, or a condition that answered false).
        block: The block a node is an instance of (its name, for a block that did not fan out).
        why: Why a skipped block was skipped (see ``BlockSkipped.why``).
        errors: The error of each failed attempt, in order (the last is ``error``).
        callback_of: The node a callback answered.
        children: For a block that fanned out, the summary of its nodes (the nodes have
            outcomes of their own): ``(total, ran, failed, skipped)``.
    """

    name: str
    status: str
    key: KeyParts | None = None
    seconds: float = 0.0
    attempts: int = 0
    rows: int | None = None
    cols: int | None = None
    type_name: str | None = None
    tests: tuple[int, int] = (0, 0)
    error: str | None = None
    traceback: str | None = None
    cause: str | None = None
    block: str | None = None
    why: str | None = None
    errors: tuple[str, ...] = ()
    callback_of: str | None = None
    children: tuple[int, int, int, int] | None = None


@dataclass
class RunResult:
    """The result of a run: per-block outcomes in run order, outputs, and the overall status."""

    run_id: str
    status: str
    outcomes: dict[str, BlockOutcome]
    outputs: dict[str, Any]
    seconds: float

    @property
    def failed(self) -> list[BlockOutcome]:
        """Outcomes of the blocks that failed (callbacks apart: see ``failed_callbacks``)."""
        return [o for o in self.outcomes.values()
                if o.status == "failed" and o.callback_of is None and o.children is None]

    @property
    def failed_callbacks(self) -> list[BlockOutcome]:
        """Outcomes of the callbacks that failed (they do not fail their parent or the run)."""
        return [o for o in self.outcomes.values()
                if o.status == "failed" and o.callback_of is not None]

    @property
    def ok(self) -> bool:
        """Whether every block ran or was cached."""
        return self.status == "success"
