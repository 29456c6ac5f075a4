"""The pipeline: one value for a notebook, a project pipeline or the notebook a kernel runs.

What belongs here: :class:`Pipeline`, the frozen value every part of the package works on (the
run assembly, the exporter, the kernel session, the scheduler), and :class:`Cell`, a code cell
as a pipeline remembers it. It is built by ``project`` (from a notebook file or a project folder)
or by the kernel (from the cells on screen); nothing converts one kind of pipeline into another.
What a pipeline learns from its scratch cells (the imports they make, the names they define) is
computed from its cells when first asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import assigned_names, imported_names
from jupyter_blocks.core.errors import GraphError
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.problems import Problem


@dataclass(frozen=True)
class Cell:
    """A code cell: its position (1-based, among all cells), source, tags and id."""

    number: int
    source: str
    tags: tuple[str, ...] = ()
    cell_id: str | None = None

    @property
    def label(self) -> str:
        """``cell N``."""
        return f"cell {self.number}"


@dataclass(frozen=True)
class Import:
    """An import made in a scratch cell: the name it binds, the statement, and its cell."""

    name: str
    statement: str
    where: str


@dataclass(frozen=True)
class Pipeline:
    """A pipeline, wherever it was read from.

    Attributes:
        name: The pipeline name (the notebook's stem, or the project pipeline's name).
        directory: Where ``.jupyter_blocks/`` (cache, run store) lives and what relative paths
            in blocks mean: the notebook's folder, or the project folder.
        dag: The blocks, in notebook (or ``metadata.yaml``) order.
        defaults: Variable defaults: the ``parameters`` cell's values, the project's
            ``variables:``, or in a kernel the parameters' current values.
        target: What a user names to run it again (the notebook path, or the project folder).
        project: The project folder and pipeline name a project pipeline was read from.
        parameters_cell: The cell tagged ``parameters``, if any.
        scratch: Code cells that are neither blocks nor the parameters cell.
        problems: Block cells whose ``%%block`` line did not parse.
        files: Block name -> its block file, for a project pipeline.
        settings_cell: The notebook's ``%%pipeline`` cell, if any.
        settings: The pipeline's settings (``project.settings.PipelineSettings``: triggers,
            alerts, defaults), when read: from the ``%%pipeline`` cell, or from a project's
            ``triggers.yaml`` and ``metadata.yaml``.
    """

    name: str
    directory: Path
    dag: Dag
    defaults: Mapping[str, Any] = field(default_factory=dict)
    target: str = ""
    project: tuple[Path, str] | None = None
    parameters_cell: Cell | None = None
    scratch: tuple[Cell, ...] = ()
    problems: tuple[Problem, ...] = ()
    files: Mapping[str, Path] = field(default_factory=dict)
    settings_cell: Cell | None = None
    settings: Any = None

    @property
    def blocks(self) -> tuple[BlockSpec, ...]:
        """The block specs, in order."""
        return self.dag.blocks

    def require_blocks(self) -> Pipeline:
        """Return self when it has a block; a pipeline of none is bad input (nothing to do).

        Raises:
            GraphError: A problem of kind ``no_blocks`` saying how to write a block.
        """
        if self.blocks:
            return self
        if self.project is not None:
            root, name = self.project
            message = (f"pipeline `{name}` has no blocks: list them under `blocks:` in "
                       f"{root / 'pipelines' / name / 'metadata.yaml'}")
        else:
            message = (f"{self.target or self.name} has no %%block cell: a block is a code cell "
                       "whose first line is `%%block NAME` (e.g. `%%block load --type "
                       "data_loader`, `%%block clean --upstream load`)")
        raise GraphError([Problem("no_blocks", message)])

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        """Names the ``parameters`` cell assigns, in order."""
        return assigned_names(self.parameters_cell.source) if self.parameters_cell else ()

    @cached_property
    def imports(self) -> dict[str, Import]:
        """Names bound by imports in the parameters and scratch cells, first binding kept."""
        found: dict[str, Import] = {}
        for cell in self._outside_cells():
            for name, statement in imported_names(cell.source).items():
                found.setdefault(name, Import(name, statement, cell.label))
        return found

    @cached_property
    def definitions(self) -> dict[str, Cell]:
        """Names the parameters and scratch cells define other than by import -> their cell."""
        found: dict[str, Cell] = {}
        for cell in self._outside_cells():
            for name in assigned_names(cell.source, definitions=True):
                if name not in self.imports:
                    found.setdefault(name, cell)
        return found

    def _outside_cells(self) -> tuple[Cell, ...]:
        return (*([self.parameters_cell] if self.parameters_cell else []), *self.scratch)
