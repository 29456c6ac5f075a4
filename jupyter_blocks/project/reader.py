"""Reading a project pipeline (ours or Mage-written): its blocks as specs, and its settings.

What belongs here: finding a pipeline in a project folder, loading ``metadata.yaml`` and its
block files into a DAG a headless run can execute (tracebacks show the block file and line; the
lines of an export's Mage adapter are blank, as a run here needs none of it), and its settings:
``triggers.yaml``, the pipeline keys of ``metadata.yaml``, and what each block's entry says that
its options do not (``mage_block_keys``), so an export writes the same file back. Building a
notebook from it for ``import`` is ``importer``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from jupyter_blocks.core.block import BLOCK_TYPES, DEFAULT_RETRY_DELAY, LANGUAGES, BlockSpec
from jupyter_blocks.core.body import analyze, resolve_type
from jupyter_blocks.core.errors import BlocksError, BlockSpecError, ConfigError, did_you_mean
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.adapter import blank_adapter
from jupyter_blocks.project.configuration import options_of
from jupyter_blocks.project.mage_layout import documents_for, kept_block_keys
from jupyter_blocks.project.mage_shape import mage_blocks
from jupyter_blocks.project.metadata import MAGE_TYPES, BlockMeta, block_file, read_metadata
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
    document = yaml.safe_load(metadata.read_text(encoding="utf-8")) or {}
    settings = settings_from_metadata(document, read_triggers(
        root / "pipelines" / name / TRIGGERS_FILE), where=label)
    kept = _kept_keys(dag, document, dict(meta.variables or {}))
    if kept:
        settings = settings.model_copy(update={"mage_block_keys": kept})
    return Pipeline(name=meta.name or name, directory=root.resolve(), dag=dag,
                    defaults=dict(meta.variables or {}), target=str(path),
                    project=(root.resolve(), name), files=files, settings=settings)


def _kept_keys(dag: Dag, document: dict[str, Any],
               variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What each block's entry in ``document`` says beyond what its options make export write."""
    kinds = {spec.name: resolve_type(spec, analyze(spec)) for spec in dag}
    ours = {entry["uuid"]: entry for section in documents_for(mage_blocks(dag, kinds), {},
                                                                 variables=variables)
            .values() for entry in section}
    kept: dict[str, dict[str, Any]] = {}
    for section in ("blocks", "conditionals", "callbacks"):
        for written in document.get(section) or []:
            if not isinstance(written, dict) or "uuid" not in written:
                continue
            name = str(written["uuid"]).rsplit("/", 1)[-1]
            if name not in ours:
                continue
            keys = kept_block_keys(written, ours[name])
            if keys:
                kept[name] = keys
    return kept


def not_imported(document: dict[str, Any]) -> list[str]:
    """Entries of a ``metadata.yaml`` that are not pipeline blocks (Mage's notes and charts)."""
    return [f"blocks[{index}] `{entry.get('uuid')}` ({entry.get('type')})"
            for index, entry in enumerate(document.get("blocks") or [])
            if isinstance(entry, dict) and str(entry.get("type")) in _NOT_BLOCKS]


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
        source=blank_adapter(path.read_text(encoding="utf-8")), origin=str(path.resolve()),
        first_line=1)
    if block.language == "python":
        info = analyze(spec)
        if info.form != "decorated":
            raise BlockSpecError(f"{relative} has no decorated block function: put the block's "
                                 f"code in a function under @{block_type}", "no_function")
    return spec, path
