"""Runner events and results: the records every subscriber (display, comm, store, CLI) receives.

Event kinds: ``run_started``, ``block_started``, ``block_cached``, ``block_finished``,
``block_failed``, ``block_skipped``, ``run_finished``. ``to_dict`` gives the JSON form used by
``--json`` output and the labextension comm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from jupyter_blocks.cache.keys import KeyParts

RUN_STARTED = "run_started"
BLOCK_STARTED = "block_started"
BLOCK_CACHED = "block_cached"
BLOCK_FINISHED = "block_finished"
BLOCK_FAILED = "block_failed"
BLOCK_SKIPPED = "block_skipped"
RUN_FINISHED = "run_finished"


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run."""

    event: str
    run_id: str
    block: str | None = None
    pipeline: str | None = None
    attempt: int | None = None
    seconds: float | None = None
    rows: int | None = None
    cols: int | None = None
    type: str | None = None
    key: str | None = None
    layer: str | None = None
    tests_passed: int | None = None
    tests_total: int | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    cause: str | None = None
    status: str | None = None
    blocks: tuple[str, ...] | None = None
    output: str | None = None
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-able dict without empty fields."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items() if v is not None}


Subscriber = Callable[[Event], None]


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
        cause: The failed block that caused a skip.
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
        """Outcomes of the blocks that failed."""
        return [o for o in self.outcomes.values() if o.status == "failed"]

    @property
    def ok(self) -> bool:
        """Whether every block ran or was cached."""
        return self.status == "success"
