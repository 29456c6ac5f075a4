"""Exporting a notebook to a Mage-layout project: ``metadata.yaml`` plus one file per block.

What belongs here: turning a notebook's pipeline into the files of ARCHITECTURE §2, checking
everything first (bad blocks, outside names, block files shared with other pipelines) so that
nothing is written half-way, then writing them. Shared block files follow Mage's semantics: a
file another pipeline uses with different content is not overwritten unless ``detach`` (write a
pipeline-specific copy) or ``force``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import analyze, resolve_type
from jupyter_blocks.core.errors import ConfigError, SharedFilesError
from jupyter_blocks.core.files import write_atomic
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.configuration import configuration_of
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.project.mage import render_block_file
from jupyter_blocks.project.metadata import (
    BlockMeta,
    PipelineMeta,
    RetryConfig,
    block_file,
    dump_metadata,
    read_metadata,
)
from jupyter_blocks.project.scratch import needed_imports


@dataclass
class ExportResult:
    """What an export wrote (paths relative to the project).

    Attributes:
        detached: The pipeline's own copies of block files other pipelines share (``detach``).
    """

    project: Path
    pipeline: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)


def block_meta(spec: BlockSpec, block_type: str, downstream: list[str],
               file_path: str | None = None) -> BlockMeta:
    """The ``blocks:`` entry of a block."""
    configuration = configuration_of(spec)
    if file_path:
        configuration["file_source"] = {"path": file_path}
    retry = None
    if spec.retries or spec.max_retry_delay is not None or spec.exponential_backoff is not None:
        retry = RetryConfig(retries=spec.retries, delay=spec.retry_delay,
                            max_delay=spec.max_retry_delay,
                            exponential_backoff=spec.exponential_backoff)
    return BlockMeta(uuid=spec.name, name=spec.name, type=block_type, language=spec.lang,
                     upstream_blocks=list(spec.upstream), downstream_blocks=downstream,
                     configuration=configuration, retry_config=retry, timeout=spec.timeout)


def export_notebook(notebook: str | Path, project: str | Path | None = None,
                    pipeline: str | None = None, *, detach: bool = False,
                    force: bool = False) -> ExportResult:
    """Export a notebook to ``project`` (default: the notebook's folder) as ``pipeline``.

    Raises:
        SharedFilesError: A block file another pipeline uses has different content, and
            neither ``detach`` nor ``force`` was given (nothing is written then).
        BlocksError: A bad block or an outside name (nothing is written then).
    """
    source = load_pipeline(notebook)
    root = Path(project) if project is not None else source.directory
    name = pipeline or source.name
    files, detached = _plan(source, root, name, detach=detach, force=force)
    result = ExportResult(root, name, detached=detached)
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            result.unchanged.append(relative)
            continue
        write_atomic(path, text)
        result.written.append(relative)
    return result


def plan_export(source: Pipeline, root: Path, name: str, *, detach: bool = False,
                force: bool = False) -> dict[str, str]:
    """Every file an export writes (relative path -> text), after checking everything."""
    return _plan(source, root, name, detach=detach, force=force)[0]


def _plan(source: Pipeline, root: Path, name: str, *, detach: bool,
          force: bool) -> tuple[dict[str, str], list[str]]:
    """The files of :func:`plan_export` (``source`` checked), and which are detached copies."""
    dag = source.dag
    files: dict[str, str] = {}
    metas: list[BlockMeta] = []
    conflicts: list[tuple[str, list[str]]] = []
    detached_files: list[str] = []
    users = _pipelines_by_file(root, exclude=name)
    for spec in dag:
        info = analyze(spec)
        block_type = resolve_type(spec, info)
        text = render_block_file(spec, block_type, info, needed_imports(source, spec))
        relative = block_file(block_type, spec.name, spec.lang)
        detached = None
        path = root / relative
        others = users.get(relative, [])
        if others and path.is_file() and path.read_text(encoding="utf-8") != text \
                and not force:
            if detach:
                detached = relative = block_file(block_type, spec.name, spec.lang, name)
                detached_files.append(relative)
            else:
                conflicts.append((relative, others))
        files[relative] = text
        metas.append(block_meta(spec, block_type, list(dag.downstream[spec.name]), detached))
    if conflicts:
        raise SharedFilesError(conflicts)
    meta = PipelineMeta(name=name, uuid=name, type="python",
                        variables=dict(source.defaults), blocks=metas)
    files[f"pipelines/{name}/metadata.yaml"] = dump_metadata(meta)
    if not (root / "io_config.yaml").exists():
        files["io_config.yaml"] = resources.files("jupyter_blocks.io").joinpath(
            "templates/io_config.yaml").read_text(encoding="utf-8")
    return files, detached_files


def _pipelines_by_file(root: Path, exclude: str) -> dict[str, list[str]]:
    """Block file path -> the other pipelines of the project that use it."""
    users: dict[str, list[str]] = {}
    for metadata in sorted(root.glob("pipelines/*/metadata.yaml")):
        pipeline = metadata.parent.name
        if pipeline == exclude:
            continue
        try:
            meta = read_metadata(metadata)
        except ConfigError:
            continue
        for block in meta.blocks:
            source = block.configuration.get("file_source")
            path = source.get("path") if isinstance(source, dict) else None
            relative = path or block_file(block.type, block.uuid, block.language)
            users.setdefault(str(relative), []).append(pipeline)
    return users
