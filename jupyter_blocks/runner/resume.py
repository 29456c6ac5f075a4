"""Picking a run up again: ``--resume``, ``--incremental`` and the command that resumes a run.

What belongs here: reading the run store to finish an earlier run without redoing its completed
blocks or to skip the exporters and sensors whose work is already done, and writing the resume
command.

An exporter's work is done when the latest run that started it, for this pipeline, succeeded
with the key it has now: the same code, inputs and variables, so the same rows in the same
target. Any later run that exported other inputs (an October-only run after a three-month one),
or failed or was interrupted half way, means it is not. Skipped blocks are reported, with the run
that did the work; an exporter that a block which runs needs is not skipped but served from the
cache like any upstream.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.runner.plan import Analyses, plan
from jupyter_blocks.runner.selection import Selection
from jupyter_blocks.runner.values import format_value
from jupyter_blocks.runner.variables import DERIVED

if TYPE_CHECKING:
    from jupyter_blocks.history.store import RunStore

#: Variables every run derives again; a resumed run does not take them from the record.
DERIVED_VARIABLES = DERIVED - {"execution_date", "interval_start_datetime",
                                 "interval_end_datetime"}

#: The blocks an incremental run may leave out, and what their done work is called.
_DONE = {"data_exporter": "exported", "sensor": "passed"}
_SKIPPABLE = frozenset(_DONE)


def resumed(store: RunStore, run_id: str, pipeline: Pipeline) -> tuple[Selection, dict[str, Any]]:
    """The selection and recorded variables that finish run ``run_id`` of ``pipeline``.

    Raises:
        ConfigError: No such run, a run of another pipeline, or a run still running.
    """
    previous = store.get_run(run_id)
    if previous["pipeline"] != pipeline.name:
        raise ConfigError(f"run {run_id} is of pipeline `{previous['pipeline']}`, "
                          f"not `{pipeline.name}`")
    if previous["status"] == "running":
        raise ConfigError(f"run {run_id} is still running")
    done = store.completed_blocks(run_id)
    recorded = {k: v for k, v in previous["variables"].items() if k not in DERIVED_VARIABLES}
    targets = tuple(name for name in pipeline.dag.names if name not in done)
    return Selection(targets), recorded


def done_side_effects(store: RunStore, pipeline: str, dag: Dag, targets: list[str] | None,
                      variables: Mapping[str, Any], analyses: Analyses
                      ) -> tuple[list[str] | None, dict[str, str]]:
    """What an incremental run leaves out: the exporters and sensors whose work is done.

    Args:
        store: The run store.
        pipeline: The pipeline's name: with the block's, what a block's work is found by.
        dag: The pipeline's DAG.
        targets: The run's targets (None: every block).
        variables: The run's variables.
        analyses: The memo of body analyses.

    Returns:
        The targets without the done blocks that a block which runs needs (they come from the
        cache, or run when it has nothing), and the other done blocks, each with the reason it
        is skipped (the run that did it).
    """
    selected = list(targets) if targets is not None else list(dag.names)
    planned = plan(dag.upstream_of(selected), variables, analyses)
    candidates = {name: item for name, item in planned.items()
                  if item.type in _SKIPPABLE and name in selected and not item.spec.no_cache
                  and not _fans_out(dag, name)}
    latest = store.latest_attempts(pipeline, candidates)
    done = {name: latest[name]["run_id"] for name, item in candidates.items()
            if name in latest and latest[name]["status"] == "ran"
            and latest[name]["cache_key"] == item.key.digest}
    if not done:
        return targets, {}
    running = [name for name in selected if name not in done]
    needed = set(dag.upstream_of(running).names) & set(done) if running else set()
    skipped = {name: f"{_DONE[planned[name].type]} by run {run_id} with the same inputs"
               for name, run_id in done.items() if name not in needed}
    kept = [name for name in selected if name not in needed]
    return kept, skipped


def _fans_out(dag: Dag, name: str) -> bool:
    """Whether ``name`` or an upstream is dynamic or reduces: it may run once per item.

    Such a block's runs are per item, not one for the block, so it is never left out.
    """
    return any(dag[upstream].dynamic or dag[upstream].reduce
               for upstream in dag.upstream_of([name]).names)

def resume_command(pipeline: Pipeline, failed: str, execution_date: dt.datetime,
                   variables: Mapping[str, Any], executor: str = "inline",
                   workers: int | None = None, scheduler: str | None = None) -> str:
    """The command that resumes a run from ``failed``, reusing what finished (and the date).

    Args:
        pipeline: The pipeline that ran.
        failed: The first block that failed.
        execution_date: The run's execution date.
        variables: The values given on the command line (``--var``).
        executor: The executor the run used, and its ``workers`` and ``scheduler``.
        workers: See ``executor``.
        scheduler: See ``executor``.
    """
    target = pipeline.target or str(pipeline.directory)
    words = ["jupyter-blocks", "run", target]
    if pipeline.project is not None:
        root, name = pipeline.project
        if Path(target).resolve() != root / "pipelines" / name:
            words += ["--pipeline", name]
    for name, value in variables.items():
        if name != "execution_date":
            words += ["--var", f"{name}={format_value(value)}"]
    words += ["--execution-date", execution_date.isoformat(), "--from", failed, "--incremental"]
    if executor != "inline":
        words += ["--executor", executor]
    if workers is not None:
        words += ["--workers", str(workers)]
    if scheduler is not None:
        words += ["--scheduler", scheduler]
    return shlex.join(words)
