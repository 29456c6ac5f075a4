"""What a block needs from the notebook's non-block cells, and what it may not take from them.

What belongs here: the one rule the exporter and the headless runner share. A block body may use
imports made in non-block cells (they are copied into its block file, and a headless run makes
them before the blocks run); any other name defined only in a non-block cell is an error that
names the name and the cell, because a block file or a headless run would not have it.
"""

from __future__ import annotations

from collections.abc import Iterable

from jupyter_blocks.block import BlockSpec
from jupyter_blocks.errors import BlockSpecError
from jupyter_blocks.forms import analyze
from jupyter_blocks.project.notebook import Cell, NotebookPipeline, assigned_names


def defined_names(source: str) -> tuple[str, ...]:
    """Top-level names a cell binds other than by import: assignments, functions, classes."""
    return assigned_names(source, definitions=True)


def needed_imports(pipeline: NotebookPipeline, spec: BlockSpec) -> list[str]:
    """Import statements from non-block cells that ``spec`` uses, in notebook order."""
    if spec.lang != "python":
        return []
    used = analyze(spec).free_names - set(spec.upstream)
    statements = [statement for name, (statement, _) in pipeline.imports().items()
                  if name in used]
    return list(dict.fromkeys(statements))


def check_outside_names(pipeline: NotebookPipeline, blocks: Iterable[BlockSpec] | None = None
                        ) -> None:
    """Raise ``BlockSpecError`` listing every block that uses a non-import outside name."""
    defined: dict[str, Cell] = {}
    imports = pipeline.imports()
    cells = [*([pipeline.parameters] if pipeline.parameters else []), *pipeline.scratch]
    for cell in cells:
        for name in defined_names(cell.source):
            if name not in imports:
                defined.setdefault(name, cell)
    problems: list[str] = []
    for spec in blocks if blocks is not None else pipeline.blocks:
        if spec.lang != "python":
            continue
        for name in sorted(analyze(spec).free_names - set(spec.upstream)):
            where = defined.get(name)
            if where is None:
                continue
            if pipeline.parameters is not None and where is pipeline.parameters:
                hint = f'read the parameter as kwargs["{name}"]'
            else:
                hint = "define it inside the block, or in a block of its own used as an upstream"
            problems.append(f"{spec.label} uses `{name}`, which is defined outside blocks in "
                            f"{where.label}: {hint}")
    if problems:
        raise BlockSpecError("; ".join(problems), "outside_name")

