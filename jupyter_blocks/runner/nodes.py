"""The nodes of a run: each block once, or once per item of its dynamic upstreams, and callbacks.

What belongs here: :class:`Node`, one runnable instance of a block in a run (a block, a dynamic
child ``block:<id>``, a callback called for a parent ``callback@parent``) with what it waits
for and how it ended, and :class:`Source`, where one of its inputs comes from. The runner core
creates nodes as the run unfolds and moves them through their states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jupyter_blocks.cache.keys import KeyParts

#: A node's states: waiting for upstreams, ready, running (or waiting between attempts or
#: pokes), done.
PENDING, READY, RUNNING, DONE = "pending", "ready", "running", "done"

#: How a done node ended.
RAN, CACHED, FAILED, SKIPPED = "ran", "cached", "failed", "skipped"


@dataclass(frozen=True)
class Source:
    """Where one upstream of a node comes from.

    Attributes:
        block: The upstream block.
        kind: ``value`` (a node's output), ``item`` (one item of a dynamic node's output) or
            ``gather`` (the outputs of every instance of a ``--reduce`` block).
        node: The upstream node (``value``, ``item``).
        index: The item's position (``item``).
        gate: Whether the upstream gates the node (a sensor or a condition) rather than feeds it.
    """

    block: str
    kind: str
    node: str | None = None
    index: int | None = None
    gate: bool = False

    @property
    def waits_for(self) -> str:
        """What must be done first: the upstream node, or every instance (``block:*``)."""
        return f"{self.block}:*" if self.kind == "gather" else str(self.node)


@dataclass
class Node:
    """One runnable instance of a block in a run, and how far it got.

    Attributes:
        name: Its name in events and the run store (``load``, ``per_zone:12``,
            ``notify@transform``).
        block: The block it is an instance of.
        path: The item positions it runs for, outermost dynamic block first.
        ids: The child ids of those items (their ``block_uuid`` metadata, or positions).
        sources: Where each upstream comes from, in declared order.
        metadata: A dynamic item's metadata, merged into the node's ``kwargs``.
        mode: ``run`` or ``callback``.
        parent: The node a callback is called for.
        status: The parent's status a callback answers.
        error_of_parent: The parent's failure, for a failure callback's ``__error``.
        closed: A condition that answered false (its downstream nodes are skipped).
        errors: The error of each failed attempt, in order.
    """

    name: str
    block: str
    path: tuple[int, ...] = ()
    ids: tuple[str, ...] = ()
    sources: list[Source] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    mode: str = "run"
    parent: str | None = None
    status: str | None = None
    error_of_parent: Any = None
    state: str = PENDING
    outcome: str | None = None
    key: KeyParts | None = None
    attempt: int = 0
    pokes: int = 0
    started: float | None = None
    seconds: float = 0.0
    value: Any = None
    rows: int | None = None
    cols: int | None = None
    type_name: str | None = None
    tests: tuple[int, int] = (0, 0)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    cause: str | None = None
    why: str | None = None
    closed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether it ran or was served from the cache."""
        return self.outcome in (RAN, CACHED)
