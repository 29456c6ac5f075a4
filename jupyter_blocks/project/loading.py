"""Loading a pipeline from any target: a notebook, a project folder (+ name) or a pipeline folder.

What belongs here: :func:`load_pipeline`, the one function every command that reads a pipeline
from disk goes through (``run``, ``export``, ``schedule``, the server), and :func:`check_pipeline`,
which reports everything wrong with it before any block runs or any file is written.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from jupyter_blocks.core.body import analyze
from jupyter_blocks.core.errors import BlockSpecError, ConfigError, GraphError
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.notebook import read_notebook
from jupyter_blocks.project.parameters import parameter_values
from jupyter_blocks.project.scratch import check_outside_names


def is_notebook_target(target: str | Path) -> bool:
    """Whether ``target`` names a notebook (rather than a project or pipeline folder)."""
    path = Path(target)
    return path.suffix == ".ipynb" or path.is_file()


def load_pipeline(target: str | Path, pipeline: str | None = None, *, check: bool = True
                  ) -> Pipeline:
    """The pipeline of a notebook, of a project folder (``pipeline`` names it) or a pipeline folder.

    Args:
        target: A notebook file, a project folder or a ``pipelines/<name>`` folder.
        pipeline: The pipeline's name inside a project.
        check: Report every problem first (:func:`check_pipeline`); off only to draw a broken
            pipeline.

    Raises:
        ConfigError: The target cannot be read, or ``pipeline`` is given for a notebook.
        BlockSpecError, GraphError: A block or the DAG is wrong (with ``check``).
    """
    if is_notebook_target(target):
        if pipeline is not None:
            raise ConfigError(f"--pipeline is for project folders; {target} is a notebook")
        loaded = read_notebook(target)
        if not check:
            return loaded
        check_pipeline(loaded)
        return dataclasses.replace(loaded, defaults=parameter_values(loaded),
                                   settings=settings_of(loaded))
    from jupyter_blocks.project.reader import load_project_pipeline

    return load_project_pipeline(target, pipeline)


def settings_of(pipeline: Pipeline) -> Any:
    """The settings of a notebook's ``%%pipeline`` cell (``PipelineSettings``), or None.

    Raises:
        ConfigError: The cell is not valid (every problem, with its YAML path and the cell).
    """
    cell = pipeline.settings_cell
    if cell is None:
        return None
    from jupyter_blocks.project.settings import parse_pipeline_cell

    return parse_pipeline_cell(cell.source, where=f"{cell.label}: %%pipeline")


def check_pipeline(pipeline: Pipeline) -> None:
    """Raise for every problem of ``pipeline`` at once, kind by kind, before anything runs.

    Raises:
        BlockSpecError: ``%%block`` lines that do not parse, bodies that do not compile, blocks
            using names defined outside blocks.
        GraphError: Duplicates, unknown upstreams, cycles.
    """
    if pipeline.problems:
        raise BlockSpecError("; ".join(p.message for p in pipeline.problems))
    for spec in pipeline.blocks:
        analyze(spec)
    problems = pipeline.dag.problems()
    if problems:
        raise GraphError(problems)
    check_outside_names(pipeline)
