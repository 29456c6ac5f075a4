"""Picking a run up again: ``--resume``, ``--incremental`` and the command that resumes a run.

What belongs here: reading the run store to finish an earlier run without redoing its completed
blocks or to skip side-effect blocks whose current key already succeeded, and writing the resume
command.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.block import SIDE_EFFECT_TYPES
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
DERIVED_VARIABLES = DERIVED - {"execution_date"}


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


def without_done_side_effects(store: RunStore, dag: Dag, targets: list[str] | None,
                              variables: Mapping[str, Any], analyses: Analyses
                              ) -> list[str] | None:
    """Leave out exporters and sensors whose run history shows this key already succeeded."""
    planned = plan(dag, variables, analyses)
    side_effects = {name: item.key.digest for name, item in planned.items()
                    if item.type in SIDE_EFFECT_TYPES and not item.spec.no_cache}
    done = store.succeeded_keys(side_effects.values())
    skipped = {name for name, key in side_effects.items() if key in done}
    if not skipped:
        return targets
    return [name for name in (targets if targets is not None else dag.names)
            if name not in skipped]


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
