"""A notebook's blocks as Mage has them: which list each is in, its upstreams and downstreams.

What belongs here: :func:`mage_blocks`, which places each block in ``blocks:``,
``conditionals:`` or ``callbacks:`` of ``metadata.yaml`` with Mage's type name (``conditional``,
not ``condition``: Mage refuses the pipeline otherwise) and Mage's ``upstream_blocks`` and
``downstream_blocks``. Mage attaches an add-on block by naming, in its ``upstream_blocks``, the
blocks it gates (a conditional) or answers (a callback), and lists it last in their
``downstream_blocks`` (conditionals before callbacks, as Mage appends them). A condition written
DAG-style (listed among a block's ``--upstream``) becomes a conditional gating the blocks that
list it, and leaves their ``upstream_blocks``; Mage then passes it those blocks' inputs rather
than its own upstreams' outputs, which the notes say when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.graph import Dag

#: Our block type -> Mage's.
MAGE_TYPE_NAMES = {"condition": "conditional"}


@dataclass(frozen=True)
class MageBlock:
    """One block as Mage sees it.

    Attributes:
        spec: The block as the notebook has it (its file is written from this).
        kind: Its resolved type, ours.
        mage_type: Its type as Mage spells it.
        section: ``blocks``, ``conditionals`` or ``callbacks``.
        upstream: Mage's ``upstream_blocks`` (names): for an add-on, the blocks it attaches to.
        downstream: Mage's ``downstream_blocks`` (names).
        gated_from_dag: A DAG-style condition turned into a conditional.
    """

    spec: BlockSpec
    kind: str
    mage_type: str
    section: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...] = ()
    gated_from_dag: bool = False


def mage_blocks(dag: Dag, kinds: Mapping[str, str]) -> list[MageBlock]:
    """Every block of ``dag`` placed as Mage places it (``kinds``: each block's resolved type)."""
    dag_conditions = {spec.name for spec in dag
                      if kinds[spec.name] == "condition" and not spec.on}
    placed: list[MageBlock] = []
    for spec in dag:
        kind = kinds[spec.name]
        mage_type = MAGE_TYPE_NAMES.get(kind, kind)
        if kind == "callback":
            placed.append(MageBlock(spec, kind, mage_type, "callbacks", spec.on))
        elif kind == "condition" and spec.on:
            placed.append(MageBlock(spec, kind, mage_type, "conditionals", spec.on))
        elif spec.name in dag_conditions:
            gated = tuple(b.name for b in dag if spec.name in b.upstream)
            placed.append(MageBlock(spec, kind, mage_type, "conditionals", gated,
                                    gated_from_dag=True))
        else:
            upstream = tuple(u for u in spec.upstream if u not in dag_conditions)
            placed.append(MageBlock(spec, kind, mage_type, "blocks", upstream))
    order = ("blocks", "conditionals", "callbacks")
    downstream: dict[str, list[str]] = {block.spec.name: [] for block in placed}
    for section in order:
        for block in placed:
            if block.section != section:
                continue
            for parent in block.upstream:
                if parent in downstream and block.spec.name not in downstream[parent]:
                    downstream[parent].append(block.spec.name)
    return [MageBlock(b.spec, b.kind, b.mage_type, b.section, b.upstream,
                      tuple(downstream[b.spec.name]), b.gated_from_dag) for b in placed]


def inputs_of(block: BlockSpec, dag_conditions: frozenset[str]) -> tuple[str, ...]:
    """The upstreams whose outputs ``block`` receives (a DAG-style condition gives none)."""
    return tuple(u for u in block.upstream if u not in dag_conditions)
