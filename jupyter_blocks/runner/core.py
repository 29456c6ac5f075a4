"""The runner core: the one loop every run goes through, whatever started it.

It takes a validated DAG, a selection, variables, a cache and an executor; it plans each block
(``plan``: analysis and key from its upstreams' keys), serves fresh blocks from the cache, submits
the others to the executor as soon as their upstreams are done (independent branches overlap when
the executor allows), skips the downstream of a failure ("not run because X failed"), and emits
events to subscribers. Retries and timeouts live in the task (``execute``), executors in
``executors``; putting a run together around this loop is ``run``'s job.
"""

from __future__ import annotations

import concurrent.futures as cf
import graphlib
import heapq
import logging
import pickle
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.cache.codec import describe
from jupyter_blocks.core.block import SIDE_EFFECT_TYPES
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import BlockOutcome, Event, RunResult, Subscriber
from jupyter_blocks.runner.execute import BlockTask, Executed, run_task
from jupyter_blocks.runner.executors import Executor, InlineExecutor
from jupyter_blocks.runner.plan import Analyses, Planned, block_variables, plan

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

        Returns:
            The run's outcomes and outputs. Block failures are reported there, not raised.
        """
        run_id = run_id or uuid.uuid4().hex[:12]
        variables = dict(variables or {})
        variables.setdefault("run_id", run_id)
        if pipeline is not None:
            variables.setdefault("pipeline", pipeline)
        closure = dag.upstream_of(list(targets)) if targets is not None else dag
        planned = plan(closure, variables, self.analyses)
        wanted = set(targets) if targets is not None else set(closure.names)
        state = _RunState(run_id, planned, closure)
        started = time.perf_counter()
        self.emit(ev.RunStarted(run_id=run_id, pipeline=pipeline, blocks=tuple(planned),
                                trigger=trigger))
        status = "interrupted"
        try:
            self._loop(state, wanted, set(force), use_cache, variables)
            status = "failed" if any(o.status == "failed" for o in state.outcomes.values()) \
                else "success"
        finally:
            seconds = time.perf_counter() - started
            self.emit(ev.RunFinished(run_id=run_id, pipeline=pipeline, status=status,
                                     seconds=seconds))
        ordered = {name: state.outcomes[name] for name in planned if name in state.outcomes}
        return RunResult(run_id, status, ordered, state.outputs, seconds)

    def _loop(self, state: _RunState, wanted: set[str], force: set[str], use_cache: bool,
              variables: dict[str, Any]) -> None:
        closure = state.closure
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
            {n: [u for u in closure[n].upstream if u in state.planned] for n in state.planned}
        )
        sorter.prepare()
        ready: list[tuple[int, str]] = []
        running: dict[cf.Future[Any], str] = {}
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (closure.position(name), name))
            while ready and (self.executor.concurrent or not running):
                _, name = heapq.heappop(ready)
                if self._settle_without_running(state, name, wanted, force, use_cache):
                    sorter.done(name)
                    continue
                task = self._task(state, name, variables)
                self.emit(ev.BlockStarted(run_id=state.run_id, block=name, attempt=1,
                                          type=state.planned[name].type))
                running[self.executor.submit(run_task, task)] = name
            if not running:
                continue
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: closure.position(running[f])):
                name = running.pop(future)
                self._finish(state, name, future)
                sorter.done(name)

    def _settle_without_running(self, state: _RunState, name: str, wanted: set[str],
                                force: set[str], use_cache: bool) -> bool:
        """Skip or serve ``name`` from the cache; True when it needs no run."""
        item = state.planned[name]
        failed_upstream = next((u for u in item.spec.upstream if u in state.blocked), None)
        if failed_upstream is not None:
            cause = state.blocked[failed_upstream]
            state.blocked[name] = cause
            reason = f"not run because {cause} failed"
            state.outcomes[name] = BlockOutcome(name, "skipped", item.key, error=reason,
                                                cause=cause)
            self.emit(ev.BlockSkipped(run_id=state.run_id, block=name, reason=reason,
                                      cause=cause))
            return True
        runs_anyway = (
            name in force
            or item.spec.no_cache
            or not use_cache
            or (item.type in SIDE_EFFECT_TYPES and name in wanted)
        )
        if runs_anyway or self.cache is None:
            return False
        hit = self.cache.get(item.key.digest)
        if hit is None:
            return False
        state.outputs[name] = hit.value
        facts = describe(hit.value)
        state.outcomes[name] = BlockOutcome(name, "cached", item.key, rows=facts["rows"],
                                            cols=facts["cols"], type_name=facts["type"])
        self.emit(ev.BlockCached(run_id=state.run_id, block=name, key=item.key.digest,
                                 layer=hit.layer, rows=facts["rows"], cols=facts["cols"],
                                 type=item.type, seconds=0.0))
        return True

    def _task(self, state: _RunState, name: str, variables: dict[str, Any]) -> BlockTask:
        item = state.planned[name]
        inputs = [state.outputs[u] for u in item.spec.upstream]
        return BlockTask(item.spec, item.info, inputs, block_variables(variables, name),
                         self.namespace, self.directory)

    def _finish(self, state: _RunState, name: str, future: cf.Future[Any]) -> None:
        item = state.planned[name]
        try:
            executed: Executed = future.result()
        except BlockFailed as failure:
            self._failed(state, name, failure)
            return
        except Exception as exc:  # the executor could not run the task (e.g. pickling)
            self._failed(state, name, executor_failure(item.spec.label, exc))
            return
        state.outputs[name] = executed.value
        facts = describe(executed.value)
        if self.cache is not None and not item.spec.no_cache:
            self.cache.put(item.key.digest, executed.value, block=name)
        state.outcomes[name] = BlockOutcome(
            name, "ran", item.key, executed.seconds, executed.attempts, facts["rows"],
            facts["cols"], facts["type"], (executed.tests_passed, executed.tests_total))
        self.emit(ev.BlockFinished(run_id=state.run_id, block=name, attempt=executed.attempts,
                                   seconds=executed.seconds, rows=facts["rows"],
                                   cols=facts["cols"], key=item.key.digest,
                                   tests_passed=executed.tests_passed,
                                   tests_total=executed.tests_total, type=item.type,
                                   output=executed.output or None))

    def _failed(self, state: _RunState, name: str, failure: BlockFailed) -> None:
        item = state.planned[name]
        state.blocked[name] = name
        state.outcomes[name] = BlockOutcome(
            name, "failed", item.key, failure.seconds, failure.attempts, tests=failure.tests,
            error=failure.message, traceback=failure.traceback)
        self.emit(ev.BlockFailed(run_id=state.run_id, block=name, attempt=failure.attempts,
                                 seconds=failure.seconds, error=failure.message,
                                 traceback=failure.traceback or None, type=item.type,
                                 output=failure.output or None))


def executor_failure(label: str, exc: BaseException) -> BlockFailed:
    """A failure of the executor itself for a block (its values could not cross to a worker)."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    hint = ""
    if "pickl" in detail.lower() or isinstance(exc, pickle.PicklingError):
        hint = ("; with worker processes or Dask a block's inputs and output must pickle: "
                "run it with the inline or threads executor")
    return BlockFailed(f"{label} could not run in the executor: {detail}{hint}")


class _RunState:
    """Mutable bookkeeping of one run."""

    def __init__(self, run_id: str, planned: dict[str, Planned], closure: Dag) -> None:
        self.run_id = run_id
        self.planned = planned
        self.closure = closure
        self.outputs: dict[str, Any] = {}
        self.outcomes: dict[str, BlockOutcome] = {}
        #: failed or skipped block -> the failed block that caused it
        self.blocked: dict[str, str] = {}
