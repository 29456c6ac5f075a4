"""What a block needs from the notebook's scratch cells, and what it may not take from them.

What belongs here: the one rule the exporter and the headless runner share. A block body may use
imports made in non-block cells (they are copied into its block file, and a headless run makes
them before the blocks run); any other name defined only in a non-block cell is an error that
names the name and the cell, because a block file or a headless run would not have it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo, analyze
from jupyter_blocks.core.errors import BlockSpecError
from jupyter_blocks.core.pipeline import Import, Pipeline

Analyse = Callable[[BlockSpec], BodyInfo]


def used_imports(pipeline: Pipeline, spec: BlockSpec, analyse: Analyse = analyze
                 ) -> list[Import]:
    """The scratch-cell imports ``spec`` uses, in notebook order."""
    if spec.lang != "python" or not pipeline.imports:
        return []
    used = analyse(spec).free_names - set(spec.upstream)
    return [found for name, found in pipeline.imports.items() if name in used]


def needed_imports(pipeline: Pipeline, spec: BlockSpec, analyse: Analyse = analyze) -> list[str]:
    """Import statements from non-block cells that ``spec`` uses, in notebook order."""
    return list(dict.fromkeys(i.statement for i in used_imports(pipeline, spec, analyse)))


def check_outside_names(pipeline: Pipeline, blocks: Iterable[BlockSpec] | None = None,
                        analyse: Analyse = analyze) -> None:
    """Raise ``BlockSpecError`` listing every block that uses a non-import outside name."""
    defined = pipeline.definitions
    if not defined:
        return
    problems: list[str] = []
    for spec in blocks if blocks is not None else pipeline.blocks:
        if spec.lang != "python":
            continue
        for name in sorted(analyse(spec).free_names - set(spec.upstream)):
            where = defined.get(name)
            if where is None:
                continue
            if where is pipeline.parameters_cell:
                hint = f'read the parameter as kwargs["{name}"]'
            else:
                hint = "define it inside the block, or in a block of its own used as an upstream"
            problems.append(f"{spec.label} uses `{name}`, which is defined outside blocks in "
                            f"{where.label}: {hint}")
    if problems:
        raise BlockSpecError("; ".join(problems), "outside_name")
