"""Kernel-side state: registered blocks, their last runs, the runner, variables and freshness.

What belongs here: everything the ``%%block`` and ``%blocks`` magics and the labextension comm
need from a live kernel, independent of IPython's magic machinery (the namespace is any dict),
so it is testable without a kernel. The notebook's structure comes from three places, newest
first: blocks registered by running their cells, the cell sources the labextension syncs, and
the saved notebook file (for cells not yet run in this kernel and for the ``parameters`` cell).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
import types
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_blocks.block import BlockSpec
from jupyter_blocks.cache import Cache, KeyParts, stale_reason
from jupyter_blocks.errors import BlocksError, ConfigError, GraphError, did_you_mean
from jupyter_blocks.forms import analyze
from jupyter_blocks.graph import Dag
from jupyter_blocks.project.notebook import (
    NotebookPipeline,
    from_sources,
    imported_names,
    read_notebook,
)
from jupyter_blocks.runner import Event, Runner, RunResult, plan
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.variables import as_datetime, run_variables

logger = logging.getLogger(__name__)

NOTEBOOK_ENV = "JUPYTER_BLOCKS_NOTEBOOK"


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


class Session:
    """The blocks of one kernel and everything known about their runs.

    Args:
        namespace: The notebook's globals (IPython's ``user_ns``).
        directory: Where ``.jupyter_blocks/`` lives (the notebook's folder; cwd by default).
        notebook: The notebook file, when known.
    """

    def __init__(
        self,
        namespace: MutableMapping[str, Any] | None = None,
        directory: str | Path | None = None,
        notebook: str | Path | None = None,
    ) -> None:
        self.namespace: MutableMapping[str, Any] = namespace if namespace is not None else {}
        self.notebook_path = Path(notebook) if notebook else None
        if directory is None:
            directory = self.notebook_path.parent if self.notebook_path else Path.cwd()
        self.directory = Path(directory).resolve()
        self.started = dt.datetime.now().replace(microsecond=0)
        self.registered: dict[str, BlockSpec] = {}
        self.registered_at: dict[str, float] = {}
        self.records: dict[str, BlockRecord] = {}
        self.running: set[str] = set()
        self.synced: NotebookPipeline | None = None
        self.subscribers: list[Callable[[Event], None]] = []
        #: Called after each run, once the blocks' records are up to date.
        self.after_run: list[Callable[[], None]] = []
        self._cache: Cache | None = None
        self._store: Any = None
        self._scanned: dict[Path, float] = {}
        self._file: tuple[float, NotebookPipeline] | None = None

    @property
    def cache(self) -> Cache:
        """The cache beside the notebook (created on first use)."""
        if self._cache is None:
            self._cache = Cache.beside(self.directory)
        return self._cache

    # -- the notebook's structure -------------------------------------------------------------

    def notebook(self) -> NotebookPipeline | None:
        """The saved notebook file as a pipeline, re-read when it changes on disk."""
        path = self.notebook_path
        if path is None or not path.exists():
            return None
        mtime = path.stat().st_mtime
        if self._file is None or self._file[0] != mtime:
            try:
                self._file = (mtime, read_notebook(path))
            except BlocksError as exc:
                logger.warning("cannot read %s: %s", path, exc)
                return None
        return self._file[1]

    def find_notebook(self, cell_source: str | None = None) -> None:
        """Locate the notebook file this kernel runs, if not known yet.

        Tries ``$JUPYTER_BLOCKS_NOTEBOOK``, the ``__session__``/``__vsc_ipynb_file__`` names
        front ends set, then a notebook in the working folder that holds ``cell_source``.
        """
        if self.notebook_path is not None:
            return
        candidates = [os.environ.get(NOTEBOOK_ENV), self.namespace.get("__session__"),
                      self.namespace.get("__vsc_ipynb_file__")]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.endswith(".ipynb"):
                for path in (Path(candidate), self.directory / Path(candidate).name):
                    if path.is_file():
                        self.notebook_path = path.resolve()
                        return
        if cell_source is None:
            return
        for path in sorted(self.directory.glob("*.ipynb")):
            # Each file is read again only once it changes: this runs before every block run
            # until the notebook is found (an unsaved notebook is not on disk yet).
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._scanned.get(path) == mtime:
                continue
            self._scanned[path] = mtime
            try:
                pipeline = read_notebook(path)
            except BlocksError:
                continue
            sources = [b.source.strip() for b in pipeline.blocks]
            if cell_source.partition("\n")[2].strip() in sources:
                self.notebook_path = path.resolve()
                return

    def structure(self) -> NotebookPipeline | None:
        """The notebook's cells: the labextension's last sync, else the saved file."""
        return self.synced or self.notebook()

    def dag(self) -> Dag:
        """Every block: registered ones override the notebook's, in notebook order."""
        source = self.structure()
        blocks: list[BlockSpec] = []
        used: set[str] = set()
        saved = self.notebook_path.stat().st_mtime if (
            self.synced is None and self.notebook_path and self.notebook_path.exists()) else None
        if source is not None:
            for spec in source.blocks:
                if spec.name in self.registered and spec.name not in used:
                    spec = self.registered[spec.name].replace(origin=spec.origin,
                                                              cell_id=spec.cell_id)
                used.add(spec.name)
                blocks.append(spec)
        for name, spec in self.registered.items():
            if name in used:
                continue
            # A registered block missing from the notebook was renamed or deleted there,
            # unless it ran after the notebook was last saved (the file is just behind).
            if source is None or (saved is not None and self.registered_at[name] > saved):
                blocks.append(spec)
        return Dag.of(blocks)

    def register(self, spec: BlockSpec) -> None:
        """Register (or re-register) a block from a cell that ran."""
        structure = self.structure()
        if structure is not None and not spec.origin:
            match = next((b for b in structure.blocks if b.name == spec.name), None)
            if match is not None:
                spec = spec.replace(origin=match.origin, cell_id=match.cell_id)
        self.registered[spec.name] = spec
        self.registered_at[spec.name] = time.time()

    def sync(self, cells: Iterable[Mapping[str, Any]]) -> None:
        """Take the notebook's current cell sources from the labextension."""
        self.synced = from_sources(list(cells))

    # -- variables ----------------------------------------------------------------------------

    def parameter_names(self) -> tuple[str, ...]:
        """Names assigned in the notebook's ``parameters`` cell."""
        structure = self.notebook() or self.synced
        return structure.parameter_names() if structure else ()

    def variables(self) -> dict[str, Any]:
        """The run variables: dates, pipeline name and the parameters' current values."""
        try:
            execution_date = as_datetime(self.namespace.get("execution_date", self.started))
        except ConfigError:
            execution_date = self.started
        parameters = {name: self.namespace[name] for name in self.parameter_names()
                      if name in self.namespace}
        pipeline = self.notebook_path.stem if self.notebook_path else "notebook"
        return run_variables(pipeline, execution_date, parameters)

    # -- running ------------------------------------------------------------------------------

    def run(self, targets: Iterable[str] | None, *, force: Collection[str] = (),
            subscribers: Iterable[Callable[[Event], None]] = ()) -> RunResult:
        """Run ``targets`` (every block when None) with stale upstreams first."""
        dag = self.dag()
        targets = list(targets) if targets is not None else None
        if targets is not None:
            for name in targets:
                if name not in dag:
                    raise GraphError([self._unknown_block(name, dag)])
        closure = dag.upstream_of(targets) if targets is not None else dag
        problems = closure.problems()
        if problems:
            raise GraphError(problems)
        variables = self.variables()
        runner = Runner(self.cache, subscribers=[self._on_event, *self._recorder(variables),
                                                 *self.subscribers, *subscribers],
                        namespace=self.namespace, directory=self.directory)
        try:
            result = runner.run(dag, targets, variables, force=force,
                                pipeline=variables["pipeline"])
        finally:
            self.running.clear()
        self._record(result)
        for listener in self.after_run:
            try:
                listener()
            except Exception:
                logger.exception("after-run listener %r failed", listener)
        for name, value in result.outputs.items():
            self.namespace[name] = value
        return result

    def run_cell(self, spec: BlockSpec, *, subscribers: Iterable[Callable[[Event], None]] = ()
                 ) -> RunResult:
        """Register the block of a cell that ran and run it with its upstreams."""
        analyze(spec)  # a syntax error is bad input: nothing is registered
        closure = self.dag().replace_block(spec).upstream_of(spec.name)
        problems = closure.problems()
        if problems:
            if any("unknown upstream" in p for p in problems):
                where = (f"no cell of {self.notebook_path.name} defines it"
                         if self.notebook_path else
                         f"the notebook file was not found (save it, or set {NOTEBOOK_ENV})")
                problems.append(f"an upstream must be a block run in this kernel or a %%block "
                                f"cell of the saved notebook, and {where}")
            raise GraphError(problems)
        self.register(spec)
        force = [spec.name] if spec.no_cache else []
        return self.run([spec.name], force=force, subscribers=subscribers)

    def outside_names(self, spec: BlockSpec) -> list[str]:
        """Names ``spec`` reads from the notebook that a headless run will not have."""
        info = analyze(spec)
        imported: set[str] = set()
        for cell in self.namespace.get("In", []) or []:
            if isinstance(cell, str):
                imported.update(imported_names(cell))
        structure = self.structure()
        if structure is not None:
            imported.update(structure.imports())
        names = []
        for name in sorted(info.free_names - set(spec.upstream)):
            if name not in self.namespace or name in imported:
                continue
            if isinstance(self.namespace[name], types.ModuleType):
                continue
            names.append(name)
        return names

    def output(self, name: str) -> Any:
        """The last output of block ``name`` in this kernel (from memory or the disk cache)."""
        record = self.records.get(name)
        if record is not None and record.status in ("ran", "cached"):
            hit = self.cache.get(record.key.digest)
            if hit is not None:
                return hit.value
        if name in self.namespace and name in self.registered:
            return self.namespace[name]
        raise BlocksError(self._unknown_block(name, self.dag()) if name not in self.dag()
                          else f"block `{name}` has no output yet: run its cell first")

    # -- freshness ----------------------------------------------------------------------------

    def states(self) -> list[BlockState]:
        """Every block's state: never run, fresh, cached, stale (with reason), failed, running."""
        dag = self.dag()
        problems = {name: found[0] for name, found in dag.problems_by_block().items()}
        try:
            current = plan(dag.subset(n for n in dag.names if n not in problems),
                           self.variables())
        except BlocksError:
            current = {}
        states = []
        for spec in dag:
            item = current.get(spec.name)
            record = self.records.get(spec.name)
            base = BlockState(spec.name, item.type if item else spec.type, spec.upstream,
                              "never_run", cell_id=spec.cell_id, origin=spec.origin)
            if record is not None:
                base = dataclasses.replace(base, seconds=record.seconds, rows=record.rows,
                                           cols=record.cols)
            if spec.name in problems:
                base = dataclasses.replace(base, state="failed", error=problems[spec.name])
            elif spec.name in self.running:
                base = dataclasses.replace(base, state="running")
            elif item is None:
                pass
            elif record is not None and record.key.digest == item.key.digest:
                failed = record.status in ("failed", "skipped")
                base = dataclasses.replace(base, state=record.status if failed else "fresh",
                                           error=record.error if failed else None)
            elif record is not None:
                reason = _short(stale_reason(record.key, item.key))
                base = dataclasses.replace(base, state="stale", reason=reason)
            elif item.key.digest in self.cache.memory or (
                    self.cache.disk is not None and item.key.digest in self.cache.disk):
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

    def clear_cache(self) -> int:
        """Empty the cache and forget recorded keys; return how many disk entries went."""
        removed = self.cache.clear()
        self.records.clear()
        return removed

    def _on_event(self, event: Event) -> None:
        if event.block is None:
            return
        if event.event == ev.BLOCK_STARTED:
            self.running.add(event.block)
        else:
            self.running.discard(event.block)

    def _recorder(self, variables: dict[str, Any]) -> list[Callable[[Event], None]]:
        """The run store's subscriber, so notebook runs show in the run history too."""
        if self._store is None:
            from jupyter_blocks.store import RunStore

            try:
                self._store = RunStore.for_directory(self.directory)
            except BlocksError as exc:
                logger.warning("runs of this notebook are not recorded: %s", exc)
                self._store = False
        if self._store is False:
            return []
        target = str(self.notebook_path) if self.notebook_path else str(self.directory)
        from jupyter_blocks.capture import OutputCapture
        from jupyter_blocks.redact import Redactor

        # What blocks print still shows in the cell; a copy goes to the run history.
        capture = OutputCapture(echo=True)
        recorder = self._store.recorder(target, variables, trigger="notebook",
                                        output=capture.take,
                                        redact=Redactor.cached_for_directory(self.directory).value)

        def record(event: Event) -> None:
            try:
                recorder(event)
            except Exception as exc:  # history is best effort: never fail a notebook run
                logger.warning("cannot record %s in the run store: %s", event.event, exc)

        return [capture, record]

    def _record(self, result: RunResult) -> None:
        now = time.time()
        for name, outcome in result.outcomes.items():
            if outcome.key is None:
                continue
            seconds = outcome.seconds
            previous = self.records.get(name)
            if outcome.status == "cached" and previous is not None:
                seconds = previous.seconds  # keep the time of the run that made the output
            self.records[name] = BlockRecord(outcome.key, outcome.status, seconds,
                                             outcome.rows, outcome.cols, outcome.error, now)

    def _unknown_block(self, name: str, dag: Dag) -> str:
        return (f"no block named `{name}` in this notebook" + did_you_mean(name, dag.names)
                + ": run the cell that defines it (%%block " + name + ") or save the notebook")


def _short(reason: str | None) -> str | None:
    return {"code changed": "code", "upstream changed": "upstream",
            "variables changed": "variables", "never run": None}.get(reason or "", reason)
