"""Importing a project pipeline (ours or Mage-written) as a notebook of ``%%block`` cells.

What belongs here: :func:`import_project`, which writes the notebook: a ``%%pipeline`` cell with
the pipeline's settings (triggers, Mage's pipeline keys, ``mage_block_keys``: whatever an export
needs to write the same ``metadata.yaml`` and ``triggers.yaml`` back), the ``parameters`` cell,
then one cell per block, its file's body without the decorator guards and the export's Mage
adapter. The project's ``io_config.yaml`` is copied beside the notebook when none is there,
and the data files its variables name (as an export carried them), so the notebook's blocks
find the same profiles and files. What the notebook cannot hold (Mage's markdown and
scratchpad blocks) is named in the notes, never dropped silently.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jupyter_blocks.core.files import check_writable
from jupyter_blocks.core.grammar import render_magic_line
from jupyter_blocks.project.carry import carried_files
from jupyter_blocks.project.mage import body_of_block_file
from jupyter_blocks.project.parameters import parameters_source
from jupyter_blocks.project.reader import find_pipeline, load_project_pipeline, not_imported
from jupyter_blocks.project.settings import dump_pipeline_cell

IO_CONFIG = "io_config.yaml"


@dataclass
class ImportResult:
    """What an import wrote: the notebook, and notes on what it did beside it."""

    notebook: Path
    notes: list[str] = field(default_factory=list)


def import_project(project: str | Path, pipeline: str | None, output: str | Path
                   ) -> ImportResult:
    """Write a notebook of ``%%block`` cells (settings and parameters first) for a pipeline."""
    root, name = find_pipeline(project, pipeline)
    loaded = load_project_pipeline(project, pipeline)
    output = Path(output)
    advice = (f"give -o the notebook to write, such as {output / (name + '.ipynb')}"
              if output.is_dir() else "move it aside, or give -o a notebook path outside it")
    check_writable([output], advice, what=f"import to {output}")
    result = ImportResult(output)
    cells = [_code_cell("load-ext", "%load_ext jupyter_blocks")]
    settings = loaded.settings
    if settings is not None and settings.model_fields_set:
        cells.append(_code_cell("pipeline-settings", dump_pipeline_cell(settings).rstrip("\n")))
    if loaded.defaults:
        cells.append(_code_cell("parameters", parameters_source(loaded.defaults),
                                ["parameters"]))
    for spec in loaded.dag:
        body = body_of_block_file(spec.source) if spec.lang == "python" \
            else spec.source.strip("\n") + "\n"
        cells.append(_code_cell(f"block-{spec.name}",
                                render_magic_line(spec) + "\n" + body.rstrip("\n")))
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    metadata = root / "pipelines" / name / "metadata.yaml"
    document: dict[str, Any] = yaml.safe_load(metadata.read_text(encoding="utf-8")) or {}
    result.notes += [f"{entry} is not a pipeline block: not imported (an export does not "
                     "write it back)" for entry in not_imported(document)]
    result.notes += _copy_io_config(root, output.parent)
    result.notes += _copy_data_files(root, loaded.defaults, output.parent)
    return result


def import_pipeline(project: str | Path, pipeline: str | None, output: str | Path) -> Path:
    """Write a notebook of ``%%block`` cells for a pipeline; return its path."""
    return import_project(project, pipeline, output).notebook


def _copy_io_config(root: Path, folder: Path) -> list[str]:
    """Copy the project's profiles beside the notebook, unless the folder has its own."""
    source, target = root / IO_CONFIG, folder / IO_CONFIG
    if not source.is_file() or source.resolve() == target.resolve():
        return []
    if not target.exists():
        shutil.copyfile(source, target)
        return [f"copied {IO_CONFIG} beside the notebook (the project's profiles)"]
    if target.read_bytes() != source.read_bytes():
        return [f"{target} differs from the project's {IO_CONFIG}: the notebook's blocks use "
                "the one beside it"]
    return []


def _copy_data_files(root: Path, defaults: Mapping[str, Any], folder: Path) -> list[str]:
    """Copy the data files the variables name relative to the project, as an export carried them.

    A file already at its place beside the notebook is left as it is.
    """
    if root.resolve() == folder.resolve():
        return []
    copied = []
    for carried in carried_files(defaults, root)[0]:
        target = folder / carried.relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(carried.source, target)
        copied.append(carried.relative)
    if not copied:
        return []
    return [f"copied {len(copied)} data file(s) beside the notebook ({', '.join(copied)}), "
            "named by the variables"]


def _code_cell(cell_id: str, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": cell_id,
            "metadata": {"tags": tags} if tags else {}, "outputs": [],
            "source": source.splitlines(keepends=True)}
