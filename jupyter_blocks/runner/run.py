"""The run assembly: the one place a run is put together, whatever starts it.

What belongs here: :func:`run`, which every way of starting a run calls (a notebook cell, a Lab
command, ``jupyter-blocks run``, the scheduler, a backfill interval, the API trigger), and
:class:`RunRequest`, what those callers say about the run. From a request it puts together the
selection (or what ``--resume`` finishes), the variables, the cache, the run store's recorder,
output capture, secret hiding for every subscriber, the working folder, the executor and its
lifecycle, then hands the validated DAG to the runner core and returns a :class:`FinishedRun`
(secrets hidden in its errors too). A new way of starting a run builds a request; it never
assembles a run of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.files import check_state_folder
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.runner.capture import OutputCapture
from jupyter_blocks.runner.core import Runner
from jupyter_blocks.runner.events import Event, RunResult, Subscriber
from jupyter_blocks.runner.executors import Executor, make_executor
from jupyter_blocks.runner.folder import working_folder
from jupyter_blocks.runner.namespace import namespace_for
from jupyter_blocks.runner.plan import Analyses
from jupyter_blocks.runner.resume import done_side_effects, resume_command, resumed
from jupyter_blocks.runner.selection import Selection
from jupyter_blocks.runner.variables import as_datetime, day_of, run_variables

if TYPE_CHECKING:
    # Imported when a run starts: SQLAlchemy and the profile models are not needed before.
    from jupyter_blocks.history.redact import Redactor
    from jupyter_blocks.history.store import RunStore


@dataclass(frozen=True)
class RunRequest:
    """What to run and how: everything that differs between the ways a run starts.

    Attributes:
        pipeline: The pipeline (from ``project.load_pipeline``, or the kernel's cells).
        selection: Which blocks; every block by default.
        variables: Values over the pipeline's defaults (``--var``, a trigger's variables).
        execution_date: The run's execution date; else ``variables["execution_date"]``, the
            pipeline's default, or now.
        interval_end: The end of the interval the run covers (a schedule's next tick, a
            backfill interval's end); a day after the interval's start by default.
        interval_start: The start of that interval: the execution date by default, the
            calendar day it falls in when the run sets no execution date.
        trigger: What started the run (``manual``, ``notebook``, a schedule, ...), recorded.
        run_id: The run's id (a new one by default).
        resume: Finish this earlier run without re-running its completed blocks.
        store: The run store, or its URL (default: ``$JUPYTER_BLOCKS_STORE`` or SQLite beside
            the pipeline); None with ``record`` off records nothing.
        record: Whether to record the run.
        echo: Pass what blocks print on to this process's streams (it is captured for the
            store either way).
        executor: ``inline``, ``threads``, ``processes``, ``dask``, or an executor to use (its
            owner shuts it down).
        workers: Workers of the executor named by ``executor``.
        scheduler: The Dask scheduler's address, with ``executor="dask"``.
        namespace: Globals blocks see (a kernel's); None: the pipeline's scratch-cell imports.
        cache: The cache; None: the one beside the pipeline.
        chdir: Run in the pipeline's folder (off in a kernel, whose folder is the notebook's).
        analyses: A memo of body analyses to reuse (a kernel keeps one).
    """

    pipeline: Pipeline
    selection: Selection = field(default_factory=Selection)
    variables: Mapping[str, Any] = field(default_factory=dict)
    execution_date: dt.datetime | None = None
    interval_end: dt.datetime | None = None
    interval_start: dt.datetime | None = None
    trigger: str = "manual"
    run_id: str | None = None
    resume: str | None = None
    store: RunStore | str | None = None
    record: bool = True
    echo: bool = True
    executor: str | Executor = "inline"
    workers: int | None = None
    scheduler: str | None = None
    namespace: Mapping[str, Any] | None = None
    cache: Cache | None = None
    chdir: bool = True
    analyses: Analyses | None = None


@dataclass
class FinishedRun:
    """A finished run: the runner's result and what is needed to report it.

    Attributes:
        result: Outcomes per block, outputs, status (errors with known secrets hidden).
        pipeline: The pipeline that ran.
        variables: The run's variables.
        resume: The command that resumes from the first failed block, when one failed.
        redact: Hides the known secrets in text about the run that is shown to people.
    """

    result: RunResult
    pipeline: Pipeline
    variables: dict[str, Any]
    resume: str | None = None
    redact: Callable[[str], str] = str


def _given_time(values: Mapping[str, Any], name: str) -> dt.datetime | None:
    return as_datetime(values[name], name) if values.get(name) is not None else None


def run(request: RunRequest, subscribers: Iterable[Subscriber] = ()) -> FinishedRun:
    """Put the run of ``request`` together and run it; block failures are in the result.

    Everything that can be checked is checked before any block runs.

    Raises:
        BlocksError: Bad input (exit code 2): no block, a bad DAG, an unknown block, an
            unknown run to resume, a failing scratch-cell import, a store that cannot be
            opened, a profile a SQL block names that does not load.
        KeyboardInterrupt: After the runner's ``run_finished`` event with status interrupted.
    """
    pipeline = request.pipeline.require_blocks()
    analyses = request.analyses if request.analyses is not None else Analyses()
    store = _store(request)
    values = {**pipeline.defaults, **request.variables}
    selection, run_id = request.selection, request.run_id
    if request.resume:
        assert store is not None
        selection, recorded = resumed(store, request.resume, pipeline)
        values = {**recorded, **request.variables}
        run_id = request.resume
    # The interval: the request's, else one given as variables (a resumed run's own).
    interval_start = request.interval_start or _given_time(values, "interval_start_datetime")
    interval_end = request.interval_end or _given_time(values, "interval_end_datetime")
    if request.execution_date is not None:
        execution_date = request.execution_date
    elif "execution_date" in values:
        execution_date = as_datetime(values["execution_date"])
    else:  # a run for no particular time covers the day it starts in
        execution_date = dt.datetime.now().replace(microsecond=0)
        if interval_start is None and interval_end is None:
            interval_start, interval_end = day_of(execution_date)
    variables = run_variables(pipeline.name, execution_date, values,
                              interval_start=interval_start, interval_end=interval_end)
    # Mage's repo_path, here so that what plans the run (--incremental) keys blocks alike.
    variables.setdefault("repo_path", str(pipeline.directory))
    targets, force = selection.resolve(pipeline.dag)
    # What this run covers must be a valid DAG; problems elsewhere in a notebook do not stop it.
    covered = pipeline.dag.upstream_of(targets) if targets is not None else pipeline.dag
    covered.validate()
    _check_languages(covered, analyses)
    _check_profiles(covered, pipeline.directory, variables)
    cache = request.cache if request.cache is not None else Cache.beside(pipeline.directory)
    if cache.location is not None:
        check_state_folder(cache.location, "cache")
    done: dict[str, str] = {}
    if selection.skip_done_side_effects and store is not None:
        targets, done = done_side_effects(store, pipeline.name, pipeline.dag, targets,
                                          variables, analyses)
    from jupyter_blocks.history.redact import Redactor

    redactor = Redactor.cached_for_directory(pipeline.directory)
    listeners = [_redacting(subscriber, redactor) for subscriber in subscribers]
    if store is not None and request.record:
        capture = OutputCapture(echo=request.echo,
                                redact=None if redactor.hides_nothing else redactor.text)
        target = pipeline.target or str(pipeline.directory)
        listeners = [capture, store.recorder(target, variables, trigger=request.trigger,
                                             output=capture.take, redact=redactor.value),
                     *listeners]
    namespace = request.namespace if request.namespace is not None else \
        namespace_for(pipeline, analyses.info)
    ours = isinstance(request.executor, str)
    executor = make_executor(request.executor, request.workers, request.scheduler) \
        if isinstance(request.executor, str) else request.executor
    runner = Runner(cache, executor, listeners, namespace, pipeline.directory, analyses)
    folder = working_folder(pipeline.directory) if request.chdir else contextlib.nullcontext()
    try:
        with folder:
            result = runner.run(pipeline.dag, targets, variables, force=force,
                                use_cache=selection.use_cache, pipeline=pipeline.name,
                                run_id=run_id, trigger=request.trigger, skip=done)
    finally:
        if ours:
            executor.shutdown()
    result = _hidden(result, redactor)
    resume = None
    if result.failed:
        resume = resume_command(pipeline, result.failed[0].name, execution_date,
                                request.variables,
                                request.executor if isinstance(request.executor, str)
                                else "inline", request.workers, request.scheduler)
    return FinishedRun(result, pipeline, variables, resume, redactor.text)


def run_target(target: str | Path, *, pipeline: str | None = None, only: str | None = None,
               start: str | None = None, incremental: bool = False,
               subscribers: Iterable[Subscriber] = (), **options: Any) -> FinishedRun:
    """Run a notebook or a project pipeline headless, as ``jupyter-blocks run`` does.

    Args:
        target: A notebook, a project folder (with ``pipeline``) or a pipeline folder.
        pipeline: The pipeline's name inside a project.
        only: Run this block (its upstreams from the cache, or run when stale).
        start: Run this block and everything downstream of it.
        incremental: Reuse fresh cache entries and skip side effects already done.
        subscribers: Called with every event.
        **options: Any other :class:`RunRequest` field (``variables``, ``executor``, ...).
    """
    from jupyter_blocks.project.loading import load_pipeline

    loaded = load_pipeline(target, pipeline)
    selection = Selection.for_command(loaded.dag, only=only, start=start,
                                      incremental=incremental)
    return run(RunRequest(loaded, selection, **options), subscribers)


def _check_languages(dag: Dag, analyses: Analyses) -> None:
    """R must be installed for the R blocks a run will surely reach, before any block runs.

    An R block behind a condition may be skipped by it (a condition can ask whether R is here):
    without R it fails only if it is reached.
    """
    r_blocks = [spec.name for spec in dag if spec.lang == "r"]
    if not r_blocks:
        return
    conditions = {spec.name for spec in dag if spec.type == "condition"
                  or (spec.lang == "python" and analyses(spec).type == "condition")}
    gated = dag.descendants(conditions) if conditions else set()
    if any(name not in gated for name in r_blocks):
        from jupyter_blocks.io.r import require_r

        require_r()


def _check_profiles(dag: Dag, directory: Path, variables: Mapping[str, Any]) -> None:
    """The profiles the run's SQL blocks name load, before any block runs (every problem)."""
    sql_blocks = [spec for spec in dag if spec.lang == "sql"]
    if not sql_blocks:
        return
    from jupyter_blocks.io.sql import engine_and_profile

    found: dict[tuple[str | None, str | None], str] = {}  # each (profile, connector) once
    problems: dict[str, list[str]] = {}
    for spec in sql_blocks:
        choice = (spec.profile, spec.connector)
        if choice not in found:
            try:
                engine_and_profile(spec.profile, spec.connector, directory, variables)
                found[choice] = ""
            except ConfigError as exc:
                found[choice] = str(exc)
        if found[choice]:
            problems.setdefault(found[choice], []).append(spec.label)
    if problems:
        raise ConfigError("; ".join(f"{', '.join(labels)}: {message}"
                                    for message, labels in problems.items()))


def _store(request: RunRequest) -> RunStore | None:
    if request.store is not None and not isinstance(request.store, str):
        return request.store
    if not (request.record or request.resume):
        return None
    from jupyter_blocks.history.store import RunStore

    return RunStore.for_directory(request.pipeline.directory, request.store)


def _redacting(subscriber: Subscriber, redactor: Redactor) -> Subscriber:
    """``subscriber`` receiving events with the known secrets hidden."""
    if redactor.hides_nothing:
        return subscriber

    def hidden(event: Event) -> None:
        subscriber(redactor.event(event))

    return hidden


def _hidden(result: RunResult, redactor: Redactor) -> RunResult:
    """``result`` with the known secrets hidden in its errors and tracebacks."""
    if redactor.hides_nothing:
        return result
    outcomes = {
        name: dataclasses.replace(
            outcome,
            error=redactor.text(outcome.error) if outcome.error else outcome.error,
            traceback=redactor.text(outcome.traceback) if outcome.traceback
            else outcome.traceback)
        for name, outcome in result.outcomes.items()}
    return dataclasses.replace(result, outcomes=outcomes)
