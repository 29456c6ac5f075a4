"""A node's steps, recorded on the node and announced as events.

What belongs here: what the runner core's loop reports as a node goes through its attempts —
started, retrying, started again, waiting for a sensor, served from the cache, finished (its
output kept, stored in the cache, a dynamic block's items split), failed — and the cancelled
callbacks called here when a run is interrupted. When each step happens is the loop's business;
which nodes exist and what they wait for is the :class:`~jupyter_blocks.runner.wiring.Wiring`'s.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.cache.codec import describe
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.attempt import run_task
from jupyter_blocks.runner.execute import Executed
from jupyter_blocks.runner.fanout import children_items, split_output
from jupyter_blocks.runner.nodes import CACHED, FAILED, RAN, Node

if TYPE_CHECKING:
    from jupyter_blocks.runner.wiring import Wiring

#: Block types whose output is never stored in the cache.
_NEVER_CACHED = frozenset({"sensor", "callback"})


def started(wiring: Wiring, node: Node) -> None:
    """``node``'s first attempt starts now."""
    node.started = time.time()
    restarted(wiring, node)


def restarted(wiring: Wiring, node: Node) -> None:
    """An attempt of ``node`` (its first, or a retry) starts now."""
    wiring.emit(ev.BlockStarted(run_id=wiring.run_id, block=node.name, attempt=node.attempt,
                                type=wiring.planned[node.block].type))


def retrying(wiring: Wiring, node: Node, failure: BlockFailed, wait: float) -> None:
    """Attempt ``node.attempt`` failed; the next one starts after ``wait`` seconds."""
    node.errors.append(failure.message)
    wiring.emit(ev.BlockRetrying(run_id=wiring.run_id, block=node.name, attempt=node.attempt,
                                 error=failure.message, traceback=failure.traceback or None,
                                 seconds=failure.seconds, delay=wait,
                                 type=wiring.planned[node.block].type,
                                 output=failure.output or None))


def waiting(wiring: Wiring, node: Node, next_poke: float, waited: float) -> None:
    """A sensor answered false; it is poked again at ``next_poke``."""
    spec = wiring.planned[node.block].spec
    wiring.emit(ev.BlockWaiting(run_id=wiring.run_id, block=node.name, poke=node.pokes,
                                next_poke=next_poke, waited=waited, timeout=spec.timeout))


def served(wiring: Wiring, node: Node, value: Any, layer: str) -> None:
    """``node``'s output comes from the cache (its ``layer``)."""
    item = wiring.planned[node.block]
    node.value = value
    if item.spec.dynamic:
        wiring.items[node.name] = split_output(value, item.spec.label)
    if item.type == "condition":
        node.closed = not value
    facts = describe(value)
    node.outcome, node.rows, node.cols, node.type_name = (
        CACHED, facts["rows"], facts["cols"], facts["type"])
    assert node.key is not None
    wiring.emit(ev.BlockCached(run_id=wiring.run_id, block=node.name, key=node.key.digest,
                               layer=layer, rows=facts["rows"], cols=facts["cols"],
                               type=item.type, seconds=0.0))


def finished(wiring: Wiring, node: Node, executed: Executed, cache: Cache | None) -> None:
    """``node``'s attempt succeeded: keep its output, store it, announce it.

    Raises:
        BlockFailed: A dynamic block's output is not a list, or has too many items.
    """
    item = wiring.planned[node.block]
    spec = item.spec
    value = executed.value
    if spec.dynamic and node.mode == "run":
        try:
            wiring.items[node.name] = children_items(value, spec)
        except BlockFailed as failure:
            raise BlockFailed(failure.message, output=executed.output) from None
    answer = None
    if item.type == "condition":
        node.closed = not value
        answer = bool(value)
    elif item.type == "sensor":
        answer = True
    node.value = value
    facts = describe(value)
    node.outcome, node.rows, node.cols, node.type_name = (
        RAN, facts["rows"], facts["cols"], facts["type"])
    node.tests = (executed.tests_passed, executed.tests_total)
    node.seconds = time.time() - (node.started or time.time())
    if (cache is not None and node.key is not None and node.mode == "run"
            and not spec.no_cache and item.type not in _NEVER_CACHED):
        cache.put(node.key.digest, value, block=node.name)
    wiring.emit(ev.BlockFinished(
        run_id=wiring.run_id, block=node.name, attempt=max(node.attempt, 1),
        seconds=node.seconds, rows=facts["rows"], cols=facts["cols"],
        key=node.key.digest if node.key else None, tests_passed=executed.tests_passed,
        tests_total=executed.tests_total, type=item.type, output=executed.output or None,
        answer=answer))


def failed(wiring: Wiring, node: Node, failure: BlockFailed) -> None:
    """``node`` failed on its last attempt."""
    node.outcome, node.error, node.traceback = FAILED, failure.message, failure.traceback
    node.errors.append(failure.message)
    node.tests = failure.tests
    node.seconds = time.time() - (node.started or time.time())
    wiring.emit(ev.BlockFailed(run_id=wiring.run_id, block=node.name,
                               attempt=max(node.attempt, 1), seconds=node.seconds,
                               error=failure.message, traceback=failure.traceback or None,
                               type=wiring.planned[node.block].type,
                               output=failure.output or None))


def cancelled(wiring: Wiring, node: Node) -> None:
    """The run is interrupted while ``node`` runs: call its cancelled callbacks, here."""
    for block in wiring.callbacks_of[node.block]:
        (name,) = wiring.callback(node, block, "cancelled")
        callback = wiring.nodes[name]
        callback.started = time.time()
        wiring.emit(ev.BlockStarted(run_id=wiring.run_id, block=callback.name, attempt=1,
                                    type="callback"))
        try:
            finished(wiring, callback, run_task(wiring.task(callback)), None)
        except BlockFailed as failure:
            failed(wiring, callback, failure)
        except BaseException as exc:  # another interrupt: stop calling callbacks
            failed(wiring, callback, BlockFailed(f"{callback.name} was interrupted: {exc!r}"))
            return


__all__ = ["cancelled", "failed", "finished", "restarted", "retrying", "served", "started",
           "waiting"]
