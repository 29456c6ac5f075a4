"""The runner core: the one loop every run goes through, whatever started it.

It takes a validated DAG, a selection, variables, a cache and an executor, and runs *nodes*:
each block once, or once per item of its dynamic upstreams (``fanout``), plus callback blocks
answering their parents. A node starts as soon as what it waits for is done: it is skipped when
an upstream failed or a condition upstream answered false, served from the cache when fresh, or
submitted to the executor one attempt at a time. Between a failed attempt and its retry, and
between a sensor's pokes, nothing holds a worker: the loop keeps a timer and submits again when
it is due. Every step is an event to the subscribers. One attempt of one node is ``execute``'s;
what a node's inputs and key are is ``wiring``'s; putting a run together around this loop is
``run``'s job.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import itertools
import logging
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.block import SIDE_EFFECT_TYPES
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import announce, isolate
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.attempt import executor_failure, run_task
from jupyter_blocks.runner.events import Event, RunResult, Subscriber
from jupyter_blocks.runner.execute import BlockTask, Executed
from jupyter_blocks.runner.executors import Executor, InlineExecutor
from jupyter_blocks.runner.fanout import fan_out
from jupyter_blocks.runner.nodes import CACHED, DONE, FAILED, RAN, READY, RUNNING, SKIPPED, Node
from jupyter_blocks.runner.outcomes import run_failed, run_outcomes
from jupyter_blocks.runner.plan import Analyses, Planned, plan
from jupyter_blocks.runner.retry import retry_wait
from jupyter_blocks.runner.wiring import Wiring

logger = logging.getLogger(__name__)


class Runner:
    """Runs selections of a DAG through a cache and an executor, emitting events.

    Args:
        cache: Where outputs are looked up and stored (None: nothing is cached).
        executor: Where tasks run (inline by default).
        subscribers: Called with every event, in order.
        namespace: Globals block bodies see (the notebook's, in a kernel).
        directory: The notebook or project folder.
        analyses: The memo of body analyses to plan with (a new one by default).
    """

    def __init__(
        self,
        cache: Cache | None = None,
        executor: Executor | None = None,
        subscribers: Iterable[Subscriber] = (),
        namespace: Mapping[str, Any] | None = None,
        directory: Path | None = None,
        analyses: Analyses | None = None,
    ) -> None:
        self.cache = cache
        self.executor = executor or InlineExecutor()
        self.subscribers = list(subscribers)
        self.namespace = namespace
        self.directory = directory
        self.analyses = analyses if analyses is not None else Analyses()

    def emit(self, event: Event) -> None:
        """Send ``event`` to every subscriber; a failing subscriber never stops the run."""
        for subscriber in self.subscribers:
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", subscriber, event.event)

    def run(
        self,
        dag: Dag,
        targets: Collection[str] | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        force: Collection[str] = (),
        use_cache: bool = True,
        pipeline: str | None = None,
        run_id: str | None = None,
        trigger: str | None = None,
        skip: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run ``targets`` (all blocks when None) and whatever they need.

        Args:
            dag: The whole pipeline.
            targets: Blocks to run; their upstreams are served from the cache or run first.
            variables: Runtime variables (``execution_date``, parameters, ...).
            force: Blocks to run even when the cache has them.
            use_cache: Whether fresh outputs may be served from the cache.
            pipeline: The pipeline's name, for events.
            run_id: An id for this run (a new one by default).
            trigger: What started the run (for events).
            skip: Targets not to run, each with the reason reported for it (an incremental
                run's exporters whose work is done); nothing that runs may need them.

        Returns:
            The run's outcomes (one per node) and outputs. Block failures are reported there,
            not raised.
        """
        run_id = run_id or uuid.uuid4().hex[:12]
        variables = dict(variables or {})
        variables.setdefault("run_id", run_id)
        # Mage's: one dict the blocks of a run share (a copy per worker process), the folder.
        variables.setdefault("context", {})
        if self.directory is not None:
            variables.setdefault("repo_path", str(self.directory))
        if pipeline is not None:
            variables.setdefault("pipeline", pipeline)
        closure = dag.upstream_of(list(targets)) if targets is not None else dag
        # A block's callbacks run when it runs, wherever the run was asked to stop.
        callbacks = [b.name for b in dag if b.on and any(p in closure for p in b.on)
                     and b.name not in closure]
        if callbacks:
            closure = dag.subset([*closure.names, *callbacks])
        planned = plan(closure, variables, self.analyses)
        wanted = set(targets) if targets is not None else set(closure.names)
        loop = _Loop(self, closure, planned, fan_out(closure), wanted, set(force), use_cache,
                     variables, run_id, dict(skip or {}))
        started = time.perf_counter()
        self.emit(ev.RunStarted(run_id=run_id, pipeline=pipeline, blocks=tuple(planned),
                                trigger=trigger))
        status = "interrupted"
        try:
            loop.run()
            status = "failed" if run_failed(loop.wiring) else "success"
        except BaseException:
            isolate.stop_all()
            loop.interrupted()
            raise
        finally:
            seconds = time.perf_counter() - started
            self.emit(ev.RunFinished(run_id=run_id, pipeline=pipeline, status=status,
                                     seconds=seconds))
        outcomes, outputs = run_outcomes(loop.wiring)
        return RunResult(run_id, status, outcomes, outputs, seconds)


class _Loop:
    """The state of one run: its nodes, what is running, and the timers of waits."""

    def __init__(self, runner: Runner, closure: Dag, planned: dict[str, Planned],
                 dims: dict[str, tuple[str, ...]], wanted: set[str], force: set[str],
                 use_cache: bool, variables: dict[str, Any], run_id: str,
                 skip: dict[str, str]) -> None:
        self.runner = runner
        self.skip = skip
        self.run_id = run_id
        self.wanted, self.force, self.use_cache = wanted, force, use_cache
        self.wiring = Wiring(closure, planned, dims, variables, run_id, runner.namespace,
                             runner.directory, self._emit)
        self.ready: list[tuple[tuple[int, tuple[int, ...]], int, str]] = []
        self.timers: list[tuple[float, int, str]] = []
        self.running: dict[cf.Future[Any], str] = {}
        self.in_flight: dict[str, int] = {}
        self.held: dict[str, list[str]] = {}
        self.retrying: set[str] = set()
        self.counter = itertools.count()

    def _emit(self, event: Event) -> None:
        self.runner.emit(event)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        for name in self.wiring.start(self.skip):
            self._queue(name)
        executor = self.runner.executor
        while self.ready or self.running or self.timers:
            while self.ready and (executor.concurrent or not self.running):
                _, _, name = heapq.heappop(self.ready)
                self._begin(name)
            self._fire_due_timers()
            if self.ready and (executor.concurrent or not self.running):
                continue
            wait = self._until_next_timer()
            if self.running:
                done, _ = cf.wait(list(self.running), timeout=wait,
                                  return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: self._rank(self.running[f])):
                    self._finished(self.running.pop(future), future)
            elif wait is not None and not self.ready:
                time.sleep(max(wait, 0.0))

    def _queue(self, name: str) -> None:
        node = self.wiring.nodes[name]
        node.state = READY
        heapq.heappush(self.ready, (self._rank(name), next(self.counter), name))

    def _rank(self, name: str) -> tuple[int, tuple[int, ...]]:
        node = self.wiring.nodes[name]
        return self.wiring.closure.position(node.block), node.path

    def _until_next_timer(self) -> float | None:
        if not self.timers:
            return None
        return max(self.timers[0][0] - time.time(), 0.0)

    def _fire_due_timers(self) -> None:
        now = time.time()
        while self.timers and self.timers[0][0] <= now:
            _, _, name = heapq.heappop(self.timers)
            self._submit(name)

    # -- a node's steps -----------------------------------------------------------------------

    def _begin(self, name: str) -> None:
        """A ready node: skip it, serve it from the cache, or start its first attempt."""
        wiring = self.wiring
        node = wiring.nodes[name]
        if wiring.settle_if_blocked(node):
            self._settled(node)
            return
        item = wiring.planned[node.block]
        runs_anyway = (
            node.block in self.force
            or item.spec.no_cache
            or not self.use_cache
            or (item.type in SIDE_EFFECT_TYPES and node.block in self.wanted)
            or item.type in ("sensor", "callback")
            or node.mode == "callback"
        )
        cache = self.runner.cache
        if not runs_anyway and cache is not None and node.key is not None:
            hit = cache.get(node.key.digest)
            if hit is not None:
                announce.served(wiring, node, hit.value, hit.layer)
                self._settled(node)
                return
        limit = item.spec.max_parallel
        if limit is not None and self.in_flight.get(node.block, 0) >= limit:
            self.held.setdefault(node.block, []).append(name)
            return
        node.attempt = 1
        self.in_flight[node.block] = self.in_flight.get(node.block, 0) + 1
        announce.started(wiring, node)
        self._submit(name)

    def _submit(self, name: str) -> None:
        node = self.wiring.nodes[name]
        node.state = RUNNING
        if name in self.retrying:
            self.retrying.discard(name)
            announce.restarted(self.wiring, node)
        task: BlockTask = self.wiring.task(node)
        try:
            future = self.runner.executor.submit(run_task, task)
        except Exception as exc:  # the executor could not take it (a value that will not pickle)
            future = cf.Future()
            future.set_exception(exc)
        self.running[future] = name

    def _finished(self, name: str, future: cf.Future[Any]) -> None:
        wiring = self.wiring
        node = wiring.nodes[name]
        item = wiring.planned[node.block]
        try:
            executed: Executed = future.result()
        except BlockFailed as failure:
            self._attempt_failed(node, failure)
            return
        except Exception as exc:
            self._attempt_failed(node, executor_failure(item.spec.label, exc))
            return
        if item.type == "sensor" and node.mode == "run" and not executed.value:
            self._poke_again(node, executed)
            return
        try:
            announce.finished(wiring, node, executed, self.runner.cache)
        except BlockFailed as failure:  # a dynamic block's output does not fan out
            announce.failed(wiring, node, failure)
        self._settled(node)

    def _attempt_failed(self, node: Node, failure: BlockFailed) -> None:
        spec = self.wiring.planned[node.block].spec
        wait = retry_wait(spec, node.attempt) if node.mode == "run" else None
        if wait is None:
            announce.failed(self.wiring, node, failure)
            self._settled(node)
            return
        announce.retrying(self.wiring, node, failure, wait)
        node.attempt += 1
        self.retrying.add(node.name)
        heapq.heappush(self.timers, (time.time() + wait, next(self.counter), node.name))

    def _poke_again(self, node: Node, executed: Executed) -> None:
        spec = self.wiring.planned[node.block].spec
        node.pokes += 1
        assert node.started is not None
        now = time.time()
        waited = now - node.started
        if spec.timeout is not None and waited >= spec.timeout:
            announce.failed(self.wiring, node, BlockFailed(
                f"sensor {node.name} still false after {spec.timeout:g} s ({node.pokes} "
                f"poke{'s' if node.pokes != 1 else ''})", output=executed.output))
            self._settled(node)
            return
        next_poke = now + spec.poke_interval
        if spec.timeout is not None:
            next_poke = min(next_poke, node.started + spec.timeout)
        announce.waiting(self.wiring, node, next_poke, waited)
        heapq.heappush(self.timers, (next_poke, next(self.counter), node.name))

    def _settled(self, node: Node) -> None:
        """A node is done: release its slot and start whatever was waiting for it."""
        if node.started is not None and node.attempt:
            self.in_flight[node.block] = max(self.in_flight.get(node.block, 1) - 1, 0)
            held = self.held.get(node.block)
            if held:
                self._queue(held.pop(0))
        node.state = DONE
        for name in self.wiring.after(node):
            self._queue(name)

    def interrupted(self) -> None:
        """The run is being interrupted: call the cancelled callbacks of unfinished nodes."""
        for node in list(self.wiring.nodes.values()):
            if node.state in (RUNNING, READY) and node.mode == "run":
                announce.cancelled(self.wiring, node)


__all__ = ["CACHED", "FAILED", "RAN", "SKIPPED", "Runner"]
