"""Freshness: what state each block of a kernel's notebook is in, and why.

What belongs here: :class:`BlockRecord` (a block's last run in this kernel), :class:`LastRun`
(what the run store remembers of the run that made a cached output), :class:`BlockState` (what
``%blocks`` and the labextension show) and :func:`block_states`, which compares each block's
current key with the key of its last run: never run, fresh (ran in this kernel), cached (its
output came from the cache, not from a run in this kernel), stale (code, upstream or variables
changed; a failed block whose code changed is stale too), failed, skipped or running. Every block
downstream of a failed block is skipped ("not run because X failed") until X succeeds or
changes, whatever its own record says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_blocks.cache import Cache, KeyParts, stale_reason
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner.plan import Planned


@dataclass
class BlockRecord:
    """The last run of a block in this kernel.

    Attributes:
        key: The key parts it ran (or was served) with.
        status: ``ran``, ``cached`` (served from the cache, not run in this kernel) or
            ``failed``.
        seconds: How long the run that made the output took.
        rows: Output rows, when the output has a shape.
        cols: Output columns.
        error: The error of a failed run.
        finished: When the run that made the output ended (epoch seconds).
    """

    key: KeyParts
    status: str
    seconds: float | None = 0.0
    rows: int | None = None
    cols: int | None = None
    error: str | None = None
    finished: float | None = 0.0


@dataclass(frozen=True)
class LastRun:
    """The run-store record of the run that made an output: its time, shape and end."""

    seconds: float | None
    rows: int | None
    cols: int | None
    finished: float | None


@dataclass(frozen=True)
class BlockState:
    """What ``%blocks`` and the labextension show for a block."""

    name: str
    type: str | None
    upstream: tuple[str, ...]
    state: str
    reason: str | None = None
    seconds: float | None = None
    rows: int | None = None
    cols: int | None = None
    error: str | None = None
    cell_id: str | None = None
    origin: str = ""
    key: str | None = None
    finished: float | None = None
    cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the comm."""
        return {"name": self.name, "type": self.type, "upstream": list(self.upstream),
                "state": self.state, "reason": self.reason, "seconds": self.seconds,
                "rows": self.rows, "cols": self.cols, "error": self.error,
                "cell_id": self.cell_id, "origin": self.origin, "key": self.key,
                "finished": self.finished, "cause": self.cause}


_SHORT_REASONS = {"code changed": "code", "upstream changed": "upstream",
                  "variables changed": "variables", "never run": None}


def block_states(dag: Dag, planned: Mapping[str, Planned], records: Mapping[str, BlockRecord],
                 running: Collection[str], cache: Cache,
                 last_run: Callable[[str], LastRun | None] = lambda key: None
                 ) -> list[BlockState]:
    """Every block's state, in notebook order.

    Args:
        dag: The notebook's blocks (with their problems).
        planned: The current plan of the blocks without problems.
        records: Each block's last run in this kernel.
        running: Blocks running now.
        cache: The cache, to tell blocks whose outputs are cached from never-run ones.
        last_run: The run store's record of the run that made the output of a key, for the
            time and shape of cached outputs this kernel did not make.
    """
    problems = {name: found[0].message for name, found in dag.problems_by_block().items()}
    states = [_own_state(spec.name, dag, planned.get(spec.name), records.get(spec.name),
                         problems, running, cache, last_run) for spec in dag]
    # Downstream of a failure nothing follows from its upstreams: not run because X failed.
    failed = [s.name for s in states if s.state == "failed" and s.name not in problems]
    if failed:
        for index, state in enumerate(states):
            if state.state in ("failed", "running") or state.name in problems:
                continue
            ancestors = dag.ancestors([state.name])
            cause = next((name for name in failed if name in ancestors), None)
            if cause is not None:
                states[index] = dataclasses.replace(
                    state, state="skipped", reason=None, cause=cause,
                    error=f"not run because {cause} failed")
    return states


def _own_state(name: str, dag: Dag, item: Planned | None, record: BlockRecord | None,
               problems: Mapping[str, str], running: Collection[str], cache: Cache,
               last_run: Callable[[str], LastRun | None]) -> BlockState:
    spec = dag[name]
    base = BlockState(name, item.type if item else spec.type, spec.upstream, "never_run",
                      cell_id=spec.cell_id, origin=spec.origin,
                      key=item.key.digest if item else None)
    if record is not None:
        base = dataclasses.replace(base, seconds=record.seconds, rows=record.rows,
                                   cols=record.cols, finished=record.finished)
    if name in problems:
        return dataclasses.replace(base, state="failed", error=problems[name])
    if name in running:
        return dataclasses.replace(base, state="running")
    if item is None:
        return base
    if record is not None and record.key.digest == item.key.digest:
        if record.status == "failed":
            return dataclasses.replace(base, state="failed", error=record.error)
        return dataclasses.replace(base, state="fresh" if record.status == "ran" else "cached")
    if record is not None:
        reason = stale_reason(record.key, item.key)
        return dataclasses.replace(base, state="stale",
                                   reason=_SHORT_REASONS.get(reason or "", reason))
    if cache.has(item.key.digest):
        found = last_run(item.key.digest)
        if found is not None:
            base = dataclasses.replace(base, seconds=found.seconds, rows=found.rows,
                                       cols=found.cols, finished=found.finished)
        return dataclasses.replace(base, state="cached")
    return base
