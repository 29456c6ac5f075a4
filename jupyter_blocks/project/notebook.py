"""Reading a notebook as a pipeline: its block cells, its ``parameters`` cell, its scratch cells.

What belongs here: turning ``.ipynb`` JSON (or a list of cell sources, as the labextension sends
them) into a ``NotebookPipeline``: blocks labelled ``cell N`` (1-based position in the notebook),
the names the ``parameters`` cell assigns, and the imports made in non-block cells.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_blocks.block import BlockSpec, is_block_line, parse_cell
from jupyter_blocks.errors import BlockSpecError, ConfigError
from jupyter_blocks.graph import Dag

PARAMETERS_TAG = "parameters"


@dataclass(frozen=True)
class Cell:
    """A code cell: its position (1-based), source, tags and id."""

    number: int
    source: str
    tags: tuple[str, ...] = ()
    cell_id: str | None = None

    @property
    def label(self) -> str:
        """``cell N``."""
        return f"cell {self.number}"


@dataclass(frozen=True)
class NotebookPipeline:
    """A notebook read as a pipeline.

    Attributes:
        path: The notebook file, when read from one.
        blocks: Block cells' specs, in notebook order.
        parameters: The cell tagged ``parameters``, if any.
        scratch: Code cells that are not blocks (never run headless).
        errors: Block cells whose ``%%block`` line did not parse: (cell, message).
    """

    path: Path | None
    blocks: tuple[BlockSpec, ...]
    parameters: Cell | None = None
    scratch: tuple[Cell, ...] = ()
    errors: tuple[tuple[Cell, str], ...] = field(default=())

    @property
    def name(self) -> str:
        """The pipeline name: the notebook's file name without extension."""
        return self.path.stem if self.path else "notebook"

    def dag(self) -> Dag:
        """The blocks as a DAG (not yet validated)."""
        return Dag.of(self.blocks)

    def parameter_names(self) -> tuple[str, ...]:
        """Names the ``parameters`` cell assigns, in order."""
        return assigned_names(self.parameters.source) if self.parameters else ()

    def imports(self) -> dict[str, tuple[str, Cell]]:
        """Names bound by imports in non-block cells -> (import statement, its cell)."""
        found: dict[str, tuple[str, Cell]] = {}
        for cell in (*([self.parameters] if self.parameters else []), *self.scratch):
            for name, statement in imported_names(cell.source).items():
                found.setdefault(name, (statement, cell))
        return found


def read_notebook(path: str | Path) -> NotebookPipeline:
    """Read a notebook file; raise ``ConfigError`` if it is not nbformat 4 JSON."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"notebook {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a notebook: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("nbformat") != 4 \
            or not isinstance(document.get("cells"), list):
        found = document.get("nbformat") if isinstance(document, dict) else type(document).__name__
        raise ConfigError(f"{path} is not an nbformat 4 notebook (nbformat: {found})")
    cells = []
    for number, raw in enumerate(document["cells"], start=1):
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        tags = tuple(raw.get("metadata", {}).get("tags", ()) or ())
        cells.append(Cell(number, source, tags, raw.get("id")))
    return from_cells(cells, path=path)


def from_cells(cells: Iterable[Cell], path: Path | None = None) -> NotebookPipeline:
    """Build a pipeline from code cells (block cells, the parameters cell, scratch cells)."""
    blocks: list[BlockSpec] = []
    scratch: list[Cell] = []
    errors: list[tuple[Cell, str]] = []
    parameters: Cell | None = None
    for cell in cells:
        if is_block_line(cell.source.partition("\n")[0]):
            try:
                spec = parse_cell(cell.source, origin=cell.label, cell_id=cell.cell_id)
            except BlockSpecError as exc:
                errors.append((cell, f"{cell.label}: {exc}"))
                continue
            assert spec is not None
            blocks.append(spec)
        elif PARAMETERS_TAG in cell.tags and parameters is None:
            parameters = cell
        else:
            scratch.append(cell)
    return NotebookPipeline(path, tuple(blocks), parameters, tuple(scratch), tuple(errors))


def from_sources(sources: Sequence[Mapping[str, Any]]) -> NotebookPipeline:
    """Build a pipeline from ``[{"cell_id", "source"}]`` as the labextension sends them."""
    return from_cells(Cell(i, str(c.get("source", "")), tuple(c.get("tags", ()) or ()),
                           c.get("cell_id")) for i, c in enumerate(sources, start=1))


def assigned_names(source: str, *, definitions: bool = False) -> tuple[str, ...]:
    """Top-level names a cell assigns (``x = 1``, ``x: int = 1``, ``a, b = ...``).

    Args:
        source: The cell's source.
        definitions: Also count ``def`` and ``class`` names.
    """
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return ()
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif definitions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                        | ast.ClassDef):
            names.append(node.name)
        for target in targets:
            names.extend(sub.id for sub in ast.walk(target) if isinstance(sub, ast.Name))
    return tuple(dict.fromkeys(names))


def imported_names(source: str) -> dict[str, str]:
    """Names bound by top-level imports in ``source`` -> the import statement's text."""
    return dict(_imported_names(source))


@lru_cache(maxsize=1024)
def _imported_names(source: str) -> tuple[tuple[str, str], ...]:
    # Cached: the kernel re-reads the same executed cells before every block run.
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return ()
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                found[bound] = text
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    continue
                text = f"from {module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else "")
                found[alias.asname or alias.name] = text
    return tuple(found.items())


def _without_magics(source: str) -> str:
    """Blank out IPython magic and shell lines so the rest parses as Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
