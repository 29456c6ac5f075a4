"""Dynamic fan-out: which blocks run once per item of which dynamic blocks, checked before a run.

What belongs here: :func:`fan_out`, which gives each block its *dimensions*: the dynamic blocks
whose items it runs once per, outermost first. A dynamic block's downstream blocks run per item
(and so do their downstream blocks) until a ``--reduce`` block, whose outputs are gathered into
one list for its own downstream blocks; a dynamic child that is itself ``--dynamic`` adds a
dimension. A block whose upstreams fan out differently (two unrelated dynamic blocks) is an
error found before any block runs. Also here: the names of dynamic children (``block:<id>``,
``<id>`` the item's ``block_uuid`` metadata or its index) and how a dynamic block's output is
read (a list, Mage's ``[items]`` and ``[items, metadata]``, or a DataFrame's rows, at most
``--max-children`` items), and how the outputs of a ``--reduce`` block's children are gathered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import BlockFailed, GraphError
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.problems import Problem

logger = logging.getLogger(__name__)


def fan_out(dag: Dag) -> dict[str, tuple[str, ...]]:
    """Each block's dimensions, in topological order; raise ``GraphError`` for what cannot run.

    Raises:
        GraphError: A ``--reduce`` block with nothing to gather, a block both ``--dynamic`` and
            ``--reduce``, or upstreams fanned out by unrelated dynamic blocks.
    """
    dims: dict[str, tuple[str, ...]] = {}
    problems: list[Problem] = []
    for name in dag.order():
        spec = dag[name]
        incoming: list[tuple[str, tuple[str, ...]]] = []
        for upstream in spec.upstream:
            if upstream in dims:
                incoming.append((upstream, _out(dag, upstream, dims)))
        if spec.type == "callback":
            for parent in spec.on:
                if parent in dims:
                    incoming.append((parent, dims[parent]))
        widest: tuple[str, ...] = ()
        for _, shape in incoming:
            if len(shape) > len(widest):
                widest = shape
        for upstream, shape in incoming:
            if widest[: len(shape)] != shape:
                problems.append(Problem(
                    "fan_out",
                    f"{spec.label} has upstreams fanned out by different dynamic blocks "
                    f"({' > '.join(shape) or 'none'} through `{upstream}`, "
                    f"{' > '.join(widest)} through another): its runs cannot be paired up",
                    (name,), spec.origin or None))
                break
        if spec.reduce and spec.dynamic:
            problems.append(Problem("fan_out", f"{spec.label} is both --dynamic and --reduce: "
                                    "gather in one block, fan out again in the next",
                                    (name,), spec.origin or None))
        elif spec.reduce and not widest:
            problems.append(Problem("fan_out", f"{spec.label} has --reduce but no dynamic "
                                    "upstream: it has no children's outputs to gather",
                                    (name,), spec.origin or None))
        dims[name] = widest
    if problems:
        raise GraphError(problems)
    return dims


def _out(dag: Dag, name: str, dims: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The dimensions ``name``'s output has for its downstream blocks."""
    spec = dag[name]
    if spec.reduce:
        return ()
    return (*dims[name], name) if spec.dynamic else dims[name]


def split_output(value: Any, label: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """A dynamic block's items and their metadata.

    A list is the items; Mage's ``[items]`` (one element, a list) and ``[items, metadata]``
    (two lists of the same length, the second of dicts) are read as Mage reads them; a
    DataFrame's rows are its items (as Series), as in Mage.

    Raises:
        TypeError: The output is none of these (the message names the block).
    """
    if type(value).__name__ == "DataFrame":
        return [row for _, row in value.iterrows()], [{} for _ in range(len(value))]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise TypeError(f"{label} is --dynamic, so it must return a list (or Mage's [items] "
                        f"or [items, metadata]), got {type(value).__name__}")
    if len(value) == 1 and isinstance(value[0], list):
        return list(value[0]), [{} for _ in value[0]]
    if (len(value) == 2 and isinstance(value[0], list) and isinstance(value[1], list)
            and len(value[0]) == len(value[1])
            and all(isinstance(m, Mapping) for m in value[1])):
        return list(value[0]), [dict(m) for m in value[1]]
    return value, [{} for _ in value]


def children_items(value: Any, spec: BlockSpec) -> tuple[list[Any], list[dict[str, Any]]]:
    """The items and metadata a dynamic block's output fans out into (``--max-children``).

    Raises:
        BlockFailed: The output is not a list, or has too many items with ``--over-max fail``.
    """
    try:
        items, metadata = split_output(value, spec.label)
    except TypeError as exc:
        raise BlockFailed(str(exc)) from None
    if spec.max_children is not None and len(items) > spec.max_children:
        if spec.over_max == "fail":
            raise BlockFailed(f"{spec.label} returned {len(items)} items, more than "
                              f"--max-children {spec.max_children}")
        logger.warning("%s returned %d items; running the first %d (--max-children)",
                       spec.label, len(items), spec.max_children)
        items, metadata = items[: spec.max_children], metadata[: spec.max_children]
    return items, metadata


def gathered(values: list[Any]) -> Any:
    """The outputs of a ``--reduce`` block's children: one frame if they are frames, else a list."""
    if values and all(type(v).__name__ == "DataFrame" for v in values):
        import pandas as pd

        return pd.concat(values, ignore_index=True)
    return list(values)


def child_id(index: int, metadata: Mapping[str, Any]) -> str:
    """The id of a dynamic child: its metadata's ``block_uuid``, else its index."""
    given = metadata.get("block_uuid")
    return str(given) if given not in (None, "") else str(index)


def child_name(block: str, ids: Sequence[str]) -> str:
    """``block`` for a block that does not fan out, ``block:<id>[:<id>...]`` for a child."""
    return ":".join([block, *ids])


def template_of(name: str) -> str:
    """The block a node name belongs to (``per_zone:12``, ``notify@load`` -> the block)."""
    return name.split(":", 1)[0].split("@", 1)[0]
