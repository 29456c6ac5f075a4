"""Freshness: what state each block of a kernel's notebook is in, and why.

What belongs here: :class:`BlockRecord` (a block's last run in this kernel), :class:`BlockState`
(what ``%blocks`` and the labextension show) and :func:`block_states`, which compares each block's
current key with the key of its last run: never run, fresh, cached (in the cache but not run in
this kernel), stale (code, upstream or variables changed), failed, skipped or running. A block
whose upstream failed is stale ("not run because X failed") even if its own key still matches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_blocks.cache import Cache, KeyParts, stale_reason
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner.plan import Planned


@dataclass
class BlockRecord:
    """The last run of a block in this kernel."""

    key: KeyParts
    status: str
    seconds: float = 0.0
    rows: int | None = None
    cols: int | None = None
    error: str | None = None
    finished: float = 0.0


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

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the comm."""
        return {"name": self.name, "type": self.type, "upstream": list(self.upstream),
                "state": self.state, "reason": self.reason, "seconds": self.seconds,
                "rows": self.rows, "cols": self.cols, "error": self.error,
                "cell_id": self.cell_id, "origin": self.origin}


_SHORT_REASONS = {"code changed": "code", "upstream changed": "upstream",
                  "variables changed": "variables", "never run": None}


def block_states(dag: Dag, planned: Mapping[str, Planned], records: Mapping[str, BlockRecord],
                 running: Collection[str], cache: Cache) -> list[BlockState]:
    """Every block's state, in notebook order.

    Args:
        dag: The notebook's blocks (with their problems).
        planned: The current plan of the blocks without problems.
        records: Each block's last run in this kernel.
        running: Blocks running now.
        cache: The cache, to tell blocks whose outputs are cached from never-run ones.
    """
    problems = {name: found[0].message for name, found in dag.problems_by_block().items()}
    states = []
    for spec in dag:
        item = planned.get(spec.name)
        record = records.get(spec.name)
        base = BlockState(spec.name, item.type if item else spec.type, spec.upstream,
                          "never_run", cell_id=spec.cell_id, origin=spec.origin)
        if record is not None:
            base = dataclasses.replace(base, seconds=record.seconds, rows=record.rows,
                                       cols=record.cols)
        if spec.name in problems:
            base = dataclasses.replace(base, state="failed", error=problems[spec.name])
        elif spec.name in running:
            base = dataclasses.replace(base, state="running")
        elif item is None:
            pass
        elif record is not None and record.key.digest == item.key.digest:
            failed = record.status in ("failed", "skipped")
            base = dataclasses.replace(base, state=record.status if failed else "fresh",
                                       error=record.error if failed else None)
        elif record is not None:
            reason = stale_reason(record.key, item.key)
            base = dataclasses.replace(base, state="stale",
                                       reason=_SHORT_REASONS.get(reason or "", reason))
        elif cache.has(item.key.digest):
            base = dataclasses.replace(base, state="cached")
        states.append(base)
    # Downstream of a failure is stale: its outputs no longer follow from its upstreams.
    failed_names = {s.name for s in states if s.state == "failed"}
    if failed_names:
        for index, state in enumerate(states):
            broken = sorted(dag.ancestors([state.name]) & failed_names) \
                if state.name not in problems else []
            if broken and state.state in ("fresh", "cached"):
                states[index] = dataclasses.replace(
                    state, state="stale", reason="upstream",
                    error=f"not run because {broken[0]} failed")
    return states
