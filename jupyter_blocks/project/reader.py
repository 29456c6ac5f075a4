"""Reading a project pipeline (ours or Mage-written): its blocks as specs, or back as a notebook.

What belongs here: finding a pipeline in a project folder, loading ``metadata.yaml`` and its
block files into a DAG a headless run can execute (tracebacks show the block file and line), and
building a notebook of ``%%block`` cells (plus a ``parameters`` cell) from it for ``import``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_blocks.core.block import BLOCK_TYPES, DEFAULT_RETRY_DELAY, LANGUAGES, BlockSpec
from jupyter_blocks.core.body import analyze
from jupyter_blocks.core.errors import BlocksError, BlockSpecError, ConfigError, did_you_mean
from jupyter_blocks.core.grammar import render_magic_line
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.configuration import options_of
from jupyter_blocks.project.mage import body_of_block_file
from jupyter_blocks.project.metadata import MAGE_TYPES, BlockMeta, block_file, read_metadata
from jupyter_blocks.project.parameters import parameters_source
from jupyter_blocks.project.triggers_file import (
    TRIGGERS_FILE,
    read_triggers,
    settings_from_metadata,
)

_NOT_BLOCKS = frozenset({"scratchpad", "markdown", "chart", "extension"})
#: Mage's add-on blocks name in ``upstream_blocks`` the blocks they answer or gate: ``--on``.
_ADD_ONS = frozenset({"callback", "condition"})


def find_pipeline(path: str | Path, pipeline: str | None = None) -> tuple[Path, str]:
    """The project folder and pipeline name of a project (+ name) or a pipeline folder."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path} is neither a notebook nor a project folder")
    if (path / "metadata.yaml").is_file() and path.parent.name == "pipelines":
        if pipeline is not None and pipeline != path.name:
            raise ConfigError(f"{path} is pipeline `{path.name}`, not `{pipeline}`")
        return path.parent.parent, path.name
    names = sorted(p.parent.name for p in path.glob("pipelines/*/metadata.yaml"))
    if pipeline is None:
        if len(names) == 1:
            return path, names[0]
        listed = ", ".join(names) if names else "none"
        raise ConfigError(f"{path}: pick a pipeline with --pipeline (pipelines: {listed})")
    if pipeline not in names:
        raise ConfigError(f"{path} has no pipeline `{pipeline}`" + did_you_mean(pipeline, names)
                          + f" (pipelines: {', '.join(names) or 'none'})")
    return path, pipeline


def load_project_pipeline(path: str | Path, pipeline: str | None = None) -> Pipeline:
    """Load a project pipeline's blocks from their files, checking every problem first."""
    root, name = find_pipeline(path, pipeline)
    metadata = root / "pipelines" / name / "metadata.yaml"
    meta = read_metadata(metadata)
    label = f"pipelines/{name}/metadata.yaml"
    specs: list[BlockSpec] = []
    files: dict[str, Path] = {}
    problems: list[str] = []
    listed = [(f"blocks[{i}]", b) for i, b in enumerate(meta.blocks)]
    listed += [(f"conditionals[{i}]", b) for i, b in enumerate(meta.conditionals)]
    listed += [(f"callbacks[{i}]", b) for i, b in enumerate(meta.callbacks)]
    for position, block in listed:
        where = f"{label}: {position}"
        try:
            spec, file = _block_spec(root, block, where)
        except BlocksError as exc:
            problems.append(str(exc))
            continue
        if spec is None:
            continue
        specs.append(spec)
        files[spec.name] = file
    if problems:
        raise ConfigError("; ".join(problems))
    dag = Dag.of(specs)
    dag.validate()
    return Pipeline(name=meta.name or name, directory=root.resolve(), dag=dag,
                    defaults=dict(meta.variables or {}), target=str(path),
                    project=(root.resolve(), name), files=files,
                    settings=_settings(metadata, root / "pipelines" / name / TRIGGERS_FILE))


def _settings(metadata: Path, triggers: Path) -> Any:
    """The pipeline's settings: ``triggers.yaml`` and the settings keys of ``metadata.yaml``."""
    import yaml

    document = yaml.safe_load(metadata.read_text(encoding="utf-8")) or {}
    return settings_from_metadata(document, read_triggers(triggers),
                                  where=str(metadata.relative_to(metadata.parents[2])))


def _block_spec(root: Path, block: BlockMeta, where: str) -> tuple[BlockSpec | None, Path]:
    block_type = MAGE_TYPES.get(block.type, block.type)
    if block_type in _NOT_BLOCKS:
        return None, root
    if block_type not in BLOCK_TYPES:
        raise ConfigError(f"{where}.type: unknown block type `{block.type}`"
                          + did_you_mean(block.type, BLOCK_TYPES))
    if block.language not in LANGUAGES:
        raise ConfigError(f"{where}.language: must be one of {', '.join(LANGUAGES)}, got "
                          f"`{block.language}`")
    source = block.configuration.get("file_source")
    relative = source.get("path") if isinstance(source, dict) else None
    relative = relative or block.configuration.get("file_path") or block_file(
        block_type, block.uuid, block.language)
    path = root / str(relative)
    if not path.is_file():
        raise ConfigError(f"{where}: block file {relative} does not exist")
    config = block.configuration
    retry = block.retry_config
    name = block.uuid.rsplit("/", 1)[-1]
    upstream = tuple(u.rsplit("/", 1)[-1] for u in block.upstream_blocks)
    add_on = block_type in _ADD_ONS and block.type != "condition"
    spec = BlockSpec(
        name=name, type=block_type, upstream=() if add_on else upstream,
        on=upstream if add_on else (),
        lang=block.language,
        retries=retry.retries if retry else 0,
        retry_delay=retry.delay if retry else DEFAULT_RETRY_DELAY,
        max_retry_delay=retry.max_delay if retry else None,
        exponential_backoff=retry.exponential_backoff if retry else None,
        timeout=block.timeout, **options_of(config),
        source=path.read_text(encoding="utf-8"), origin=str(path.resolve()), first_line=1)
    if block.language == "python":
        info = analyze(spec)
        if info.form != "decorated":
            raise BlockSpecError(f"{relative} has no decorated block function: put the block's "
                                 f"code in a function under @{block_type}", "no_function")
    return spec, path


def import_pipeline(project: str | Path, pipeline: str | None, output: str | Path) -> Path:
    """Write a notebook of ``%%block`` cells (and a ``parameters`` cell) for a pipeline."""
    loaded = load_project_pipeline(project, pipeline)
    cells = [_code_cell("load-ext", "%load_ext jupyter_blocks")]
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
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    return output


def _code_cell(cell_id: str, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "id": cell_id,
            "metadata": {"tags": tags} if tags else {}, "outputs": [],
            "source": source.splitlines(keepends=True)}
