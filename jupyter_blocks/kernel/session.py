"""The kernel session: a notebook's blocks, their runs and their state, in one live kernel.

What belongs here: everything the ``%%block`` and ``%blocks`` magics and the labextension comm
need from a kernel, independent of IPython's magic machinery (the namespace is any dict), so it
is testable without a kernel. A run is a request to the run assembly (``runner.run``) with the
kernel's own parts: the notebook's globals, the session's cache and run store, the parameters'
current values (the ``parameters`` cell's defaults for names it has not set yet, as headless),
and the session's memo of body analyses, so a cell run analyses each body once. A ``--no-cache``
block runs when it is asked for (its cell, a forced or whole-pipeline run); as another cell's
upstream it gives the output of its last run in this kernel while its key holds, so it runs once
per pipeline run rather than once per cell. The notebook's structure is
:mod:`~jupyter_blocks.kernel.structure`'s, freshness :mod:`~jupyter_blocks.kernel.freshness`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import types
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import imported_names
from jupyter_blocks.core.errors import BlocksError, ConfigError, GraphError, did_you_mean
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.core.problems import Problem
from jupyter_blocks.kernel.freshness import BlockRecord, BlockState, block_states
from jupyter_blocks.kernel.memory import RunMemory
from jupyter_blocks.kernel.structure import KernelNotebook
from jupyter_blocks.project.notebook import NOTEBOOK_ENV
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import Event, RunResult
from jupyter_blocks.runner.plan import Analyses, plan
from jupyter_blocks.runner.selection import Selection
from jupyter_blocks.runner.variables import as_datetime, day_of, run_variables

logger = logging.getLogger(__name__)

#: The events after which a block is no longer running.
_SETTLED = frozenset({ev.BLOCK_CACHED, ev.BLOCK_FINISHED, ev.BLOCK_FAILED, ev.BLOCK_SKIPPED})
#: The longest trigger the run store keeps.
_TRIGGER_LENGTH = 64


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
        path = Path(notebook).resolve() if notebook else None
        if directory is None:
            directory = path.parent if path else Path.cwd()
        self.directory = Path(directory).resolve()
        self.notebook = KernelNotebook(self.namespace, self.directory, path)
        self.started = dt.datetime.now().replace(microsecond=0)
        self.memory = RunMemory(self._run_store)
        self.running: set[str] = set()
        self.analyses = Analyses()
        self.subscribers: list[Callable[[Event], None]] = []
        #: Called after each run, once the blocks' records are up to date.
        self.after_run: list[Callable[[], None]] = []
        self._cache: Cache | None = None
        self._store: Any = None
        self._defaults: tuple[str, dict[str, Any]] | None = None

    @property
    def cache(self) -> Cache:
        """The cache beside the notebook (created on first use)."""
        if self._cache is None:
            self._cache = Cache.beside(self.directory)
        return self._cache

    @property
    def records(self) -> dict[str, BlockRecord]:
        """Each block's last run in this kernel."""
        return self.memory.records

    @property
    def notebook_path(self) -> Path | None:
        """The notebook file this kernel runs, once found."""
        return self.notebook.path

    # -- the notebook's structure -------------------------------------------------------------

    def find_notebook(self, cell_source: str | None = None) -> None:
        """Locate the notebook file this kernel runs (see ``KernelNotebook.find``)."""
        self.notebook.find(cell_source)

    def structure(self) -> Pipeline | None:
        """The notebook's cells: the labextension's last sync, else the saved file."""
        return self.notebook.structure()

    def dag(self) -> Dag:
        """Every block: registered ones override the notebook's, in notebook order."""
        return self.notebook.dag()

    def register(self, spec: BlockSpec) -> None:
        """Register (or re-register) a block from a cell that ran."""
        self.notebook.register(spec)

    def sync(self, cells: Iterable[Mapping[str, Any]], notebook: str | None = None) -> None:
        """Take the notebook's current cells from the labextension (and its path, if said)."""
        if notebook and not self.notebook_path:
            self.notebook.find(hint=notebook)
        self.notebook.sync(cells)

    # -- variables ----------------------------------------------------------------------------

    def parameter_names(self) -> tuple[str, ...]:
        """Names assigned in the notebook's ``parameters`` cell."""
        structure = self.structure()
        return structure.parameter_names if structure else ()

    def parameters(self) -> dict[str, Any]:
        """The parameters' current values in the kernel; the cell's defaults for the others.

        A name the ``parameters`` cell assigns but the kernel does not have yet (the cell has
        not run since the kernel started) gets the cell's value, as a headless run would.
        """
        names = self.parameter_names()
        missing = [name for name in names if name not in self.namespace]
        defaults = self._parameter_defaults() if missing else {}
        return {name: self.namespace[name] if name in self.namespace else defaults[name]
                for name in names if name in self.namespace or name in defaults}

    def _parameter_defaults(self) -> dict[str, Any]:
        """The values the ``parameters`` cell assigns when run on its own (once per source)."""
        structure = self.structure()
        cell = structure.parameters_cell if structure else None
        if structure is None or cell is None:
            return {}
        if self._defaults is None or self._defaults[0] != cell.source:
            from jupyter_blocks.project.parameters import parameter_values

            try:
                values = parameter_values(structure)
            except BlocksError as exc:
                logger.warning("the parameters cell's defaults are not used: %s", exc)
                values = {}
            self._defaults = (cell.source, values)
        return self._defaults[1]

    def execution_date(self) -> dt.datetime:
        """The notebook's ``execution_date`` if it sets one, else when the kernel started."""
        try:
            return as_datetime(self.namespace.get("execution_date", self.started))
        except ConfigError:
            return self.started

    def pipeline_name(self) -> str:
        """The notebook's name (``notebook`` until the file is known)."""
        return self.notebook_path.stem if self.notebook_path else "notebook"

    def variables(self) -> dict[str, Any]:
        """The run variables: dates, pipeline name and the parameters' current values."""
        start, end = self.interval()
        return run_variables(self.pipeline_name(), self.execution_date(), self.parameters(),
                             interval_start=start, interval_end=end)

    def interval(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The interval runs cover: the day (as headless) unless the notebook sets a date."""
        if "execution_date" in self.namespace:
            return None, None
        return day_of(self.execution_date())

    # -- running ------------------------------------------------------------------------------

    def run(self, targets: Iterable[str] | None, *, force: Collection[str] = (),
            subscribers: Iterable[Callable[[Event], None]] = (),
            trigger: str = "notebook") -> RunResult:
        """Run ``targets`` (every block when None) with stale upstreams first.

        Args:
            targets: The blocks asked for.
            force: Blocks to run even when the cache has them.
            subscribers: Called with every event of the run.
            trigger: What started it, as the run history shows it (``%blocks run --all``).
        """
        dag = self.dag()
        names = list(targets) if targets is not None else None
        for name in names or ():
            if name not in dag:
                raise GraphError([self._unknown_block(name, dag)])
        return self._run(dag, Selection(tuple(names) if names is not None else None,
                                        tuple(force)), subscribers, trigger)

    def run_cell(self, spec: BlockSpec, *, subscribers: Iterable[Callable[[Event], None]] = (),
                 trigger: str | None = None) -> RunResult:
        """Register the block of a cell that ran and run it with its upstreams."""
        self.analyses(spec)  # a syntax error is bad input: nothing is registered
        dag = self.notebook.with_block(spec)
        problems = dag.upstream_of(spec.name).problems()
        if problems:
            if any(p.kind == "unknown_upstream" for p in problems):
                where = (f"no cell of {self.notebook_path.name} defines it"
                         if self.notebook_path else
                         f"the notebook file was not found (save it, or set {NOTEBOOK_ENV})")
                problems.append(Problem(
                    "unknown_upstream",
                    f"an upstream must be a block run in this kernel or a %%block cell of the "
                    f"saved notebook, and {where}", (spec.name,), spec.origin or None))
            raise GraphError(problems)
        self.register(spec)
        force = (spec.name,) if spec.no_cache else ()
        where = spec.origin or "cell"
        return self._run(self.dag(), Selection((spec.name,), force), subscribers,
                         trigger or f"notebook · {where} · %%block {spec.name}")

    def _run(self, dag: Dag, selection: Selection,
             subscribers: Iterable[Callable[[Event], None]], trigger: str) -> RunResult:
        from jupyter_blocks.runner.run import RunRequest, run

        dag = self.memory.with_kept_outputs(
            dag, selection, self.cache,
            lambda closure: plan(closure, self.variables(), self.analyses))
        pipeline = Pipeline(name=self.pipeline_name(), directory=self.directory, dag=dag,
                            defaults=self.parameters(),
                            target=str(self.notebook_path or self.directory))
        store = self._run_store()
        start, end = self.interval()
        request = RunRequest(pipeline, selection, execution_date=self.execution_date(),
                             interval_start=start, interval_end=end,
                             trigger=trigger[:_TRIGGER_LENGTH], store=store,
                             record=store is not None, namespace=self.namespace,
                             cache=self.cache, chdir=False, analyses=self.analyses)
        try:
            finished = run(request, [self._on_event, *self.subscribers, *subscribers])
        finally:
            self.running.clear()
        result = finished.result
        self.memory.remember(result, dag)
        for listener in self.after_run:
            try:
                listener()
            except Exception:
                logger.exception("after-run listener %r failed", listener)
        for name, value in result.outputs.items():
            self.namespace[name] = value
        return result

    def outside_names(self, spec: BlockSpec) -> list[str]:
        """Names ``spec`` reads from the notebook that a headless run will not have."""
        info = self.analyses.info(spec)
        imported: set[str] = set()
        for cell in self.namespace.get("In", []) or []:
            if isinstance(cell, str):
                imported.update(imported_names(cell))
        structure = self.structure()
        if structure is not None:
            imported.update(structure.imports)
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
        if name in self.namespace and name in self.notebook.registered:
            return self.namespace[name]
        dag = self.dag()
        raise BlocksError(self._unknown_block(name, dag).message if name not in dag
                          else f"block `{name}` has no output yet: run its cell first")

    # -- freshness ----------------------------------------------------------------------------

    def states(self, *, history: bool = True) -> list[BlockState]:
        """Every block's state: never run, fresh, cached, stale (with reason), failed, running.

        Args:
            history: Look up in the run store the time and shape of cached outputs this
                kernel did not make (off: only when the store is already open, so loading the
                extension does not import the database layer).
        """
        dag = self.dag()
        problems = dag.problems_by_block()
        self.analyses.keep_only(dag.blocks)
        try:
            current = plan(dag.subset(n for n in dag.names if n not in problems),
                           self.variables(), self.analyses)
        except BlocksError:
            current = {}
        lookup = self.memory.last_run if history or self._store else (lambda key: None)
        return block_states(dag, current, self.records, self.running, self.cache, lookup)

    def clear_cache(self) -> int:
        """Empty the cache and forget recorded keys; return how many disk entries went."""
        removed = self.cache.clear()
        self.memory.forget()
        return removed

    def _on_event(self, event: Event) -> None:
        if event.block is None:
            return
        if event.event == ev.BLOCK_STARTED:
            self.running.add(event.block)
        elif event.event in _SETTLED:
            self.running.discard(event.block)

    def _run_store(self) -> Any:
        """The run store of the notebook's folder, so notebook runs show in the history too."""
        if self._store is None:
            from jupyter_blocks.history.store import RunStore

            try:
                self._store = RunStore.for_directory(self.directory)
            except BlocksError as exc:
                logger.warning("runs of this notebook are not recorded: %s", exc)
                self._store = False
        return self._store or None

    def _unknown_block(self, name: str, dag: Dag) -> Problem:
        return Problem("unknown_block",
                       f"no block named `{name}` in this notebook" + did_you_mean(name, dag.names)
                       + ": run the cell that defines it (%%block " + name
                       + ") or save the notebook", name=name)
