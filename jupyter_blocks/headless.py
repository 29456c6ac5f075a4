"""Headless runs: a notebook or an exported pipeline run in this process, without a kernel.

What belongs here: loading a run target (a notebook, or a project pipeline through
``project.reader``) into a ``HeadlessPipeline``; the variables a run passes, which are exactly the
kernel session's (``Session.variables``) so cache keys match; the namespace a block body sees
headless (the imports made in non-block cells, nothing else); turning ``--only``/``--from``/
``--incremental`` into a runner selection; and the command that resumes a failed run.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jupyter_blocks.block import SIDE_EFFECT_TYPES
from jupyter_blocks.cache import Cache
from jupyter_blocks.capture import OutputCapture
from jupyter_blocks.errors import BlocksError, BlockSpecError, ConfigError, GraphError, did_you_mean
from jupyter_blocks.forms import analyze, resolve_type
from jupyter_blocks.graph import Dag
from jupyter_blocks.project.notebook import NotebookPipeline, read_notebook
from jupyter_blocks.project.outside import check_outside_names
from jupyter_blocks.project.parameters import parameter_values
from jupyter_blocks.redact import Redactor
from jupyter_blocks.runner import Runner, RunResult, plan
from jupyter_blocks.runner.events import Subscriber
from jupyter_blocks.runner.executors import (
    DaskExecutor,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    ThreadExecutor,
)
from jupyter_blocks.runner.namespace import ImportedNamespace
from jupyter_blocks.runner.variables import as_datetime as as_datetime
from jupyter_blocks.runner.variables import run_variables
from jupyter_blocks.store import RunStore

#: The names ``--executor`` takes.
EXECUTORS = ("inline", "threads", "processes", "dask")

#: Threads of ``--executor threads``: blocks that overlap are mostly waiting on I/O.
DEFAULT_WORKERS = 16


@dataclass(frozen=True)
class HeadlessPipeline:
    """A run target, loaded.

    Attributes:
        name: The pipeline name (the notebook's stem, or the project pipeline's name).
        directory: Where ``.jupyter_blocks/`` (cache, run store) lives.
        dag: The blocks, validated.
        defaults: Variable defaults (the ``parameters`` cell's values or ``variables:``).
        imports: Import statements the blocks need from outside them.
    """

    name: str
    directory: Path
    dag: Dag
    defaults: dict[str, Any] = field(default_factory=dict)
    imports: tuple[tuple[str, str], ...] = ()

    def namespace(self) -> ImportedNamespace:
        """The globals block bodies see: the outside imports they use, made now."""
        return ImportedNamespace(self.imports).load()


@dataclass(frozen=True)
class RunRequest:
    """What to run and how, as the CLI received it.

    Attributes:
        target: A notebook, a project folder (with ``pipeline``) or a pipeline folder.
        pipeline: The pipeline name inside a project.
        variables: ``--var``/``-p`` values, already parsed.
        execution_date: ``--execution-date``, if given.
        only: Run this block (its upstreams from the cache, or run when stale).
        start: Run this block and everything downstream of it (``--from``).
        incremental: Reuse fresh cache entries; a full run otherwise.
        run_id: The run's id (a new one by default).
        store: The run store's URL (default: ``$JUPYTER_BLOCKS_STORE`` or SQLite beside).
        record: Whether to record the run in the store.
        resume: Finish this earlier run without re-running its completed blocks.
        echo: Pass what blocks print on to the terminal (it is captured for the store too).
        executor: ``inline`` (one block at a time, in this thread), ``threads`` (independent
            branches at once, on a thread pool), ``processes`` (in worker processes) or ``dask``
            (on a Dask cluster).
        workers: Threads of ``threads`` (default :data:`DEFAULT_WORKERS`), worker processes of
            ``processes`` and of the local ``dask`` cluster (default: the CPUs).
        scheduler: The Dask scheduler's address; None starts a local cluster for the run.
    """

    target: str
    pipeline: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    execution_date: dt.datetime | None = None
    only: str | None = None
    start: str | None = None
    incremental: bool = False
    run_id: str | None = None
    store: str | None = None
    record: bool = True
    resume: str | None = None
    echo: bool = True
    executor: str = "inline"
    workers: int | None = None
    scheduler: str | None = None


_DERIVED = frozenset({"interval_start_datetime", "interval_end_datetime", "ds", "pipeline"})


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` pairs; values are YAML scalars (``3`` is an int, ``true`` a bool)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name.strip():
            raise ConfigError(f"--var `{pair}` needs the form NAME=VALUE "
                              "(for example --var execution_date=2020-10-01)")
        values[name.strip()] = parse_value(text)
    return values


def parse_value(text: str) -> Any:
    """A command-line value as a YAML scalar; text that is not a scalar stays text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, dict | list):
        return text
    return "" if value is None and text.strip() not in ("null", "~") else value


def load_notebook(path: str | Path) -> HeadlessPipeline:
    """Load a notebook: its blocks (validated), parameter defaults and outside imports."""
    notebook = read_notebook(path)
    _check_blocks(notebook)
    imports = notebook.imports()
    used: dict[str, tuple[str, str]] = {}
    for spec in notebook.blocks:
        free = analyze(spec).free_names - set(spec.upstream)
        for name, (statement, cell) in imports.items():
            if name in free:
                used.setdefault(statement, (statement, cell.label))
    assert notebook.path is not None
    return HeadlessPipeline(
        name=notebook.name,
        directory=notebook.path.resolve().parent,
        dag=notebook.dag(),
        defaults=parameter_values(notebook),
        imports=tuple(used.values()),
    )


def load_target(target: str | Path, pipeline: str | None = None) -> HeadlessPipeline:
    """Load a notebook, a project pipeline (``pipeline`` given) or a pipeline folder."""
    path = Path(target)
    if path.suffix == ".ipynb" or path.is_file():
        if pipeline is not None:
            raise ConfigError(f"--pipeline is for project folders; {path} is a notebook")
        return load_notebook(path)
    from jupyter_blocks.project.reader import load_project_pipeline

    loaded = load_project_pipeline(path, pipeline)
    return HeadlessPipeline(loaded.name, loaded.directory, loaded.dag, loaded.variables)


def load_dag(target: str | Path, pipeline: str | None = None
             ) -> tuple[Dag, dict[str, str | None]]:
    """The DAG of a target as written (not validated, to draw its problems too) and its types."""
    path = Path(target)
    if path.suffix == ".ipynb" or path.is_file():
        dag = read_notebook(path).dag()
    else:
        dag = load_target(path, pipeline).dag
    types: dict[str, str | None] = {}
    for spec in dag:
        try:
            types[spec.name] = resolve_type(spec, analyze(spec))
        except BlocksError:
            types[spec.name] = spec.type
    return dag, types


def cache_for(target: str | Path) -> Cache:
    """The cache of a notebook's folder or a project folder."""
    path = Path(target)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise ConfigError(f"{target} is neither a notebook nor a folder")
    return Cache.beside(path.resolve())


def store_for(target: str | Path, url: str | None = None) -> RunStore:
    """The run store of a notebook's folder or a project folder (or ``url``)."""
    path = Path(target)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise ConfigError(f"{target} is neither a notebook nor a folder")
    return RunStore.for_directory(path, url)


def selection(dag: Dag, request: RunRequest) -> tuple[list[str] | None, list[str], bool]:
    """The runner's ``targets``, ``force`` and ``use_cache`` for a request."""
    if request.only and request.start:
        raise ConfigError("--only and --from cannot be combined: pick one")
    for option, name in (("--only", request.only), ("--from", request.start)):
        if name is not None and name not in dag:
            raise GraphError([f"{option}: no block named `{name}` in this pipeline"
                              + did_you_mean(name, dag.names)])
    if request.only:
        targets = [request.only]
    elif request.start:
        targets = list(dag.downstream_of(request.start).names)
    else:
        return None, [], request.incremental
    force = [] if request.incremental else targets
    return targets, force, True


@dataclass
class HeadlessResult:
    """A finished headless run: the runner's result and what is needed to report it.

    Attributes:
        result: Outcomes per block, outputs, status.
        pipeline: The pipeline that ran.
        variables: The run's variables.
        resume: The command that resumes from the first failed block, when one failed.
        redact: Hides the known secrets in text about the run that is shown to people.
    """

    result: RunResult
    pipeline: HeadlessPipeline
    variables: dict[str, Any]
    resume: str | None = None
    redact: Callable[[str], str] = str


def run(request: RunRequest, subscribers: Iterable[Subscriber] = (),
        executor: Executor | None = None, loaded: HeadlessPipeline | None = None
        ) -> HeadlessResult:
    """Run a request headless; block failures are in the result, bad input raises.

    Raises:
        BlocksError: Bad input (exit code 2): unreadable target, bad blocks, unknown block.
        KeyboardInterrupt: After the runner's ``run_finished`` event with status interrupted.
    """
    pipeline = loaded or load_target(request.target, request.pipeline)
    pipeline.dag.validate()
    store = RunStore.for_directory(pipeline.directory, request.store) \
        if request.record or request.resume else None
    values = {**pipeline.defaults, **request.variables}
    run_id = request.run_id
    targets: list[str] | None
    if request.resume:
        assert store is not None
        targets, force, use_cache, values = _resumed(store, request, pipeline, values)
        run_id = request.resume
    else:
        targets, force, use_cache = selection(pipeline.dag, request)
    execution_date = request.execution_date or (
        as_datetime(values["execution_date"]) if "execution_date" in values
        else dt.datetime.now().replace(microsecond=0))
    variables = run_variables(pipeline.name, execution_date, values)
    if request.incremental and store is not None:
        targets = _without_done_side_effects(store, pipeline.dag, targets, variables)
    # Known secrets are hidden in all the run shows (events, echoed output) and stores.
    redactor = Redactor.for_directory(pipeline.directory)
    listeners = [_redacting(subscriber, redactor) for subscriber in subscribers]
    if store is not None and request.record:
        capture = OutputCapture(echo=request.echo,
                                redact=None if redactor.hides_nothing else redactor.text)
        listeners = [capture, store.recorder(request.target, variables, output=capture.take,
                                             redact=redactor.value),
                     *listeners]
    namespace = pipeline.namespace()
    owned = executor is None
    executor = executor or make_executor(request.executor, request.workers, request.scheduler)
    runner = Runner(Cache.beside(pipeline.directory), executor, listeners, namespace,
                    pipeline.directory)
    # Relative paths in blocks mean what they mean in the kernel: the notebook's folder.
    previous = os.getcwd()
    try:
        os.chdir(pipeline.directory)
        result = runner.run(pipeline.dag, targets, variables, force=force, use_cache=use_cache,
                            pipeline=pipeline.name, run_id=run_id)
    finally:
        os.chdir(previous)
        if owned:
            executor.shutdown()
    resume = None
    if result.failed:
        resume = resume_command(request, result.failed[0].name, execution_date)
    return HeadlessResult(result, pipeline, variables, resume, redactor.text)


def _redacting(subscriber: Subscriber, redactor: Redactor) -> Subscriber:
    """``subscriber`` receiving events with the known secrets hidden."""
    if redactor.hides_nothing:
        return subscriber
    return lambda event: subscriber(redactor.event(event))


def make_executor(name: str, workers: int | None = None, scheduler: str | None = None
                  ) -> Executor:
    """The executor ``--executor NAME`` names, with ``workers`` (threads or processes).

    Raises:
        ConfigError: An unknown name (with the near match), or options the executor ignores.
        MissingDependencyError: ``dask`` without ``dask.distributed`` installed.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {workers}")
    if scheduler is not None and name != "dask":
        raise ConfigError("--scheduler: a Dask scheduler's address goes with --executor dask")
    if name == "inline":
        if workers not in (None, 1):
            raise ConfigError("--workers: the inline executor runs one block at a time; "
                              "add --executor threads")
        return InlineExecutor()
    if name == "threads":
        return ThreadExecutor(workers or DEFAULT_WORKERS)
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        if scheduler is not None and workers is not None:
            raise ConfigError("--workers: the cluster at --scheduler has its own workers")
        return DaskExecutor(scheduler, workers)
    raise ConfigError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {name!r}"
                      f"{did_you_mean(name, EXECUTORS)}")


def _resumed(store: RunStore, request: RunRequest, pipeline: HeadlessPipeline,
             values: dict[str, Any]) -> tuple[list[str], list[str], bool, dict[str, Any]]:
    """Selection and variables that finish run ``request.resume``."""
    assert request.resume is not None
    previous = store.get_run(request.resume)
    if previous["pipeline"] != pipeline.name:
        raise ConfigError(f"run {request.resume} is of pipeline `{previous['pipeline']}`, "
                          f"not `{pipeline.name}`")
    if previous["status"] == "running":
        raise ConfigError(f"run {request.resume} is still running")
    done = store.completed_blocks(request.resume)
    recorded = {k: v for k, v in previous["variables"].items() if k not in _DERIVED}
    targets = [name for name in pipeline.dag.names if name not in done]
    return targets, [], True, {**recorded, **request.variables}


def _without_done_side_effects(store: RunStore, dag: Dag, targets: list[str] | None,
                               variables: dict[str, Any]) -> list[str] | None:
    """Leave out exporters and sensors whose run history shows this key already succeeded."""
    planned = plan(dag, variables)
    side_effects = {name: item.key.digest for name, item in planned.items()
                    if item.type in SIDE_EFFECT_TYPES and not item.spec.no_cache}
    done = store.succeeded_keys(side_effects.values())
    skipped = {name for name, key in side_effects.items() if key in done}
    if not skipped:
        return targets
    return [name for name in (targets if targets is not None else dag.names)
            if name not in skipped]


def resume_command(request: RunRequest, failed: str, execution_date: dt.datetime) -> str:
    """The command that resumes a run from ``failed``, reusing what finished (and the date)."""
    words = ["jupyter-blocks", "run", request.target]
    if request.pipeline:
        words += ["--pipeline", request.pipeline]
    for name, value in request.variables.items():
        if name != "execution_date":
            words += ["--var", f"{name}={format_value(value)}"]
    words += ["--execution-date", execution_date.isoformat(), "--from", failed, "--incremental"]
    if request.executor != "inline":
        words += ["--executor", request.executor]
    if request.workers is not None:
        words += ["--workers", str(request.workers)]
    if request.scheduler is not None:
        words += ["--scheduler", request.scheduler]
    return shlex.join(words)


def format_value(value: Any) -> str:
    """A value as command-line text that ``parse_value`` reads back to the same value."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if parse_value(value) == value else yaml.safe_dump(value).strip()
    text: str = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def _check_blocks(notebook: NotebookPipeline) -> None:
    if notebook.errors:
        raise BlockSpecError("; ".join(message for _, message in notebook.errors))
    for spec in notebook.blocks:
        analyze(spec)
    problems = notebook.dag().problems()
    if problems:
        raise GraphError(problems)
    check_outside_names(notebook)
