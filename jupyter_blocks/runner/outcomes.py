"""What the nodes of a finished run add up to: its outcomes and outputs.

What belongs here: turning a run's :class:`~jupyter_blocks.runner.wiring.Wiring` into the
records a :class:`~jupyter_blocks.runner.events.RunResult` holds: one outcome per node, in run
order, plus one per block that fanned out counting its children (its output the list of theirs),
and whether the run failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_blocks.runner.events import BlockOutcome
from jupyter_blocks.runner.nodes import FAILED, RAN, SKIPPED

if TYPE_CHECKING:
    from jupyter_blocks.runner.wiring import Wiring


def run_failed(wiring: Wiring) -> bool:
    """Whether a node other than a callback failed."""
    return any(n.outcome == FAILED and n.mode == "run" for n in wiring.nodes.values())


def run_outcomes(wiring: Wiring) -> tuple[dict[str, BlockOutcome], dict[str, Any]]:
    """Every node's outcome and the outputs of the nodes that ran, in run order.

    A block that fanned out also gets an outcome of its own, before its children's, that
    counts them; its output is the list of its children's outputs.
    """
    closure, planned = wiring.closure, wiring.planned
    entries: list[tuple[tuple[Any, ...], BlockOutcome]] = []
    outputs: dict[str, Any] = {}
    for node in wiring.nodes.values():
        if node.outcome is None:
            continue
        entries.append(((closure.position(node.block), node.path, node.name), BlockOutcome(
            node.name, node.outcome, node.key, node.seconds, max(node.attempt, 0),
            node.rows, node.cols, node.type_name, node.tests,
            node.error if node.outcome == FAILED else node.reason, node.traceback,
            node.cause, node.block, node.why, tuple(node.errors),
            node.parent if node.mode == "callback" else None)))
        if node.ok and node.mode == "run":
            outputs[node.name] = node.value
    for block, names in wiring.instances.items():
        if not wiring.dims[block] or planned[block].type == "callback" or not names:
            continue
        nodes = [wiring.nodes[n] for n in wiring.ordered(block)]
        if block not in outputs:
            outputs[block] = [n.value for n in nodes if n.ok]
        if len(nodes) == 1 and nodes[0].name == block:
            continue  # a placeholder: its own outcome says why nothing fanned out
        ran = sum(1 for n in nodes if n.ok)
        failed = sum(1 for n in nodes if n.outcome == FAILED)
        skipped = sum(1 for n in nodes if n.outcome == SKIPPED)
        counted = [n.rows for n in nodes if n.ok]
        rows = sum(r for r in counted if r is not None) \
            if counted and None not in counted else None
        entries.append(((closure.position(block), (), block), BlockOutcome(
            block, FAILED if failed else (RAN if ran else SKIPPED), planned[block].key,
            max(n.seconds for n in nodes), rows=rows, block=block,
            children=(len(nodes), ran, failed, skipped),
            error=next((n.error for n in nodes if n.outcome == FAILED), None))))
    entries.sort(key=lambda entry: entry[0])
    return {outcome.name: outcome for _, outcome in entries}, outputs
