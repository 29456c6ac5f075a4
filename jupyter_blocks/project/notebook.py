"""Reading a notebook as a pipeline: its block cells, its ``parameters`` cell, its scratch cells.

What belongs here: turning ``.ipynb`` JSON (or a list of cell sources, as the labextension sends
them) into a :class:`~jupyter_blocks.core.pipeline.Pipeline`: blocks labelled ``cell N`` (their
1-based position among all the notebook's cells, as JupyterLab counts them), the cell tagged
``parameters``, and the scratch cells.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import BlockSpecError, ConfigError
from jupyter_blocks.core.grammar import is_block_line, parse_cell
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Cell, Pipeline
from jupyter_blocks.core.problems import Problem

PARAMETERS_TAG = "parameters"
#: The first line of the cell holding a pipeline's settings.
SETTINGS_MAGIC = "%%pipeline"
#: Names the notebook file a kernel runs, for kernels started by papermill mode.
NOTEBOOK_ENV = "JUPYTER_BLOCKS_NOTEBOOK"


def read_notebook(path: str | Path, defaults: Mapping[str, Any] | None = None) -> Pipeline:
    """Read a notebook file's structure; raise ``ConfigError`` if it is not nbformat 4 JSON.

    The ``parameters`` cell is not run: ``defaults`` (none by default) are the variable
    defaults; ``load_pipeline`` runs the cell for a headless run or an export.
    """
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
    return from_cells(cells, path=path, defaults=defaults)


def from_cells(cells: Iterable[Cell], *, path: Path | None = None,
               directory: Path | None = None, defaults: Mapping[str, Any] | None = None
               ) -> Pipeline:
    """The pipeline of a notebook's code cells (block cells, the parameters cell, scratch cells).

    Args:
        cells: The code cells, numbered by their position among all cells.
        path: The notebook file, when there is one (it names the pipeline).
        directory: The notebook's folder (default: the folder of ``path``, else the cwd).
        defaults: The variable defaults.
    """
    blocks: list[BlockSpec] = []
    scratch: list[Cell] = []
    problems: list[Problem] = []
    parameters: Cell | None = None
    settings: Cell | None = None
    for cell in cells:
        first = cell.source.partition("\n")[0].strip()
        if first == SETTINGS_MAGIC or first.startswith(SETTINGS_MAGIC + " "):
            if settings is None:
                settings = cell
            else:
                problems.append(Problem("bad_line", f"{cell.label}: a second %%pipeline cell "
                                        f"(the first is {settings.label}); keep one",
                                        cell=cell.label))
        elif is_block_line(cell.source.partition("\n")[0]):
            try:
                spec = parse_cell(cell.source, origin=cell.label, cell_id=cell.cell_id)
            except BlockSpecError as exc:
                problems.append(Problem("bad_line", f"{cell.label}: {exc}", cell=cell.label))
                continue
            assert spec is not None
            blocks.append(spec)
        elif PARAMETERS_TAG in cell.tags and parameters is None:
            parameters = cell
        else:
            scratch.append(cell)
    folder = directory or (path.resolve().parent if path is not None else Path.cwd())
    return Pipeline(
        name=path.stem if path is not None else "notebook",
        directory=folder.resolve(),
        dag=Dag.of(blocks),
        defaults=dict(defaults or {}),
        target=str(path) if path is not None else "",
        parameters_cell=parameters,
        scratch=tuple(scratch),
        problems=tuple(problems),
        settings_cell=settings,
    )


def from_sources(sources: Sequence[Mapping[str, Any]], *, path: Path | None = None,
                 directory: Path | None = None) -> Pipeline:
    """The pipeline of ``[{"cell_id", "source", "tags", "index"}]`` as the labextension sends them.

    ``index`` is the cell's 0-based position among all the notebook's cells (markdown cells
    included), so blocks are labelled ``cell N`` as in the saved file; without it the cells
    are numbered in the order given.
    """
    cells = []
    for position, raw in enumerate(sources):
        index = raw.get("index")
        number = index + 1 if isinstance(index, int) and index >= 0 else position + 1
        tags = raw.get("tags", ()) or ()
        cells.append(Cell(number, str(raw.get("source", "")),
                          tuple(str(t) for t in tags) if isinstance(tags, list | tuple) else (),
                          raw.get("cell_id")))
    return from_cells(cells, path=path, directory=directory)


