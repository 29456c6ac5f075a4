"""Exporting a notebook to a Mage-layout project that Mage 0.9.80 runs as the notebook runs here.

What belongs here: turning a notebook's pipeline into the files of ARCHITECTURE §2, checking
everything first (bad blocks, outside names, block files shared with other pipelines) so that
nothing is written half-way, then writing them: ``metadata.yaml`` as Mage writes it
(``mage_layout``, with the ``%%pipeline`` cell's keys), ``triggers.yaml``, one file per block,
the notebook's ``io_config.yaml`` and the data files its variables name (``carry``); and the
notes on what Mage will do differently (``export_notes``).

Shared block files follow Mage's semantics: a file another pipeline uses with different content
is not overwritten unless ``detach`` (write a pipeline-specific copy, named in the block's
``configuration.file_path``, which Mage reads) or ``force``. A file that already holds the same
block (whatever decorator guards it has, ours or Mage's) is left as it is.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_blocks.core.body import analyze, resolve_type
from jupyter_blocks.core.errors import ConfigError, SharedFilesError
from jupyter_blocks.core.files import check_writable, write_atomic
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.carry import Carried, carried_files, io_config_text, with_mage_database
from jupyter_blocks.project.export_notes import export_notes, unknown_kept_blocks
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.project.mage import render_block_file, same_block
from jupyter_blocks.project.mage_layout import (
    documents_for,
    dump_mage_yaml,
    pipeline_document,
    uuids,
)
from jupyter_blocks.project.mage_shape import MageBlock, mage_blocks
from jupyter_blocks.project.mage_sql import sql_configuration
from jupyter_blocks.project.metadata import block_file, read_metadata
from jupyter_blocks.project.scratch import needed_imports
from jupyter_blocks.project.settings import PipelineSettings
from jupyter_blocks.project.triggers_file import TRIGGERS_FILE, dump_triggers, metadata_part

IO_CONFIG = "io_config.yaml"


@dataclass
class ExportResult:
    """What an export wrote (paths relative to the project).

    Attributes:
        detached: The pipeline's own copies of block files other pipelines share (``detach``).
        carried: Data files the variables name, copied into the project.
        notes: What Mage will do differently, one line per block (and the pipeline's lines).
    """

    project: Path
    pipeline: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    files: dict[str, str] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    detached: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export_notebook(notebook: str | Path, project: str | Path | None = None,
                    pipeline: str | None = None, *, detach: bool = False,
                    force: bool = False) -> ExportResult:
    """Export a notebook to ``project`` (default: the notebook's folder) as ``pipeline``.

    Raises:
        SharedFilesError: A block file another pipeline uses has different content, and
            neither ``detach`` nor ``force`` was given (nothing is written then).
        BlocksError: A bad block or an outside name (nothing is written then).
        ConfigError: A file to write is a folder, or lies under a file (nothing is written).
    """
    source = load_pipeline(notebook)
    root = Path(project) if project is not None else source.directory
    name = pipeline or source.name
    plan = _plan(source, root, name, detach=detach, force=force)
    check_writable([root / relative for relative in [*plan.files, *plan.copies]],
                   "move it aside, or export to another folder (--project)",
                   what=f"export to {root}")
    result = ExportResult(root, name, detached=plan.detached, notes=plan.notes)
    for relative, text in plan.files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            result.unchanged.append(relative)
            continue
        write_atomic(path, text)
        result.written.append(relative)
    for relative, origin in plan.copies.items():
        path = root / relative
        if path.is_file() and path.read_bytes() == origin.read_bytes():
            result.unchanged.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, path)
        result.written.append(relative)
        result.carried.append(relative)
    return result


def plan_export(source: Pipeline, root: Path, name: str, *, detach: bool = False,
                force: bool = False) -> dict[str, str]:
    """Every text file an export writes (relative path -> text), after checking everything."""
    return _plan(source, root, name, detach=detach, force=force).files


def _plan(source: Pipeline, root: Path, name: str, *, detach: bool, force: bool) -> _Plan:
    """The files of an export (``source`` checked), its detached copies and its notes."""
    dag = source.dag
    settings: PipelineSettings | None = source.settings
    kept = dict(settings.mage_block_keys or {}) if settings is not None else {}
    kinds = {spec.name: resolve_type(spec, analyze(spec)) for spec in dag}
    placed = mage_blocks(dag, kinds)
    uuid_of = uuids(placed, kept)
    plan = _Plan()
    conflicts: list[tuple[str, list[str]]] = []
    file_paths: dict[str, str] = {}
    users = _pipelines_by_file(root, exclude=name)
    for block in placed:
        spec = block.spec
        inputs = block.upstream if block.section == "blocks" else spec.upstream
        text = render_block_file(spec, block.kind, analyze(spec), needed_imports(source, spec),
                                 inputs=inputs)
        relative, named = _kept_file_path(kept.get(spec.name))
        if named is not None:
            file_paths[spec.name] = named
        relative = relative or block_file(block.kind, uuid_of[spec.name], spec.lang)
        path = root / relative
        written = path.read_text(encoding="utf-8") if path.is_file() else None
        if written is not None and same_block(written, text):
            text = written
        others = users.get(relative, [])
        if others and written is not None and written != text and not force:
            if detach:
                relative = block_file(block.kind, spec.name, spec.lang, name)
                file_paths[spec.name] = relative
                plan.detached.append(relative)
            else:
                conflicts.append((relative, others))
        plan.files[relative] = text
    if conflicts:
        raise SharedFilesError(conflicts)
    plan.files[f"pipelines/{name}/metadata.yaml"] = _metadata(source, name, placed, kept,
                                                              file_paths)
    if settings is not None and settings.triggers:
        plan.files[f"pipelines/{name}/{TRIGGERS_FILE}"] = dump_triggers(settings.triggers)
    plan.notes += export_notes(dag, placed, settings)
    plan.notes += unknown_kept_blocks(kept, list(dag.names))
    _carry(source, root, placed, plan, force=force)
    return plan


def _metadata(source: Pipeline, name: str, placed: list[MageBlock],
              kept: dict[str, Any], file_paths: dict[str, str]) -> str:
    sections = documents_for(placed, kept, file_paths, source.defaults)
    settings = metadata_part(source.settings) if source.settings is not None else {}
    return dump_mage_yaml(pipeline_document(name=name, variables=dict(source.defaults),
                                            settings=settings, **sections))


def _carry(source: Pipeline, root: Path, placed: list[MageBlock], plan: _Plan, *,
           force: bool) -> None:
    """Plan ``io_config.yaml`` and the data files the variables name."""
    sql_profiles = {sql_configuration(b.spec.connector, b.spec.profile, source.defaults)
                    ["data_provider_profile"] for b in placed
                    if b.spec.lang == "sql" and (b.spec.connector or "duckdb") == "duckdb"}
    text, origin, notes = io_config_text(source.directory)
    text, _, more = with_mage_database(text, sql_profiles)
    plan.notes += notes + more
    existing = root / IO_CONFIG
    in_place = origin is not None and existing.is_file() \
        and existing.resolve() == origin.resolve()
    if not existing.is_file() or force or in_place:
        plan.files[IO_CONFIG] = text
        if in_place and text != existing.read_text(encoding="utf-8"):
            plan.notes.append(f"{IO_CONFIG}: added DUCKDB_DATABASE (what Mage reads for "
                              "DUCKDB_PATH) to the notebook's own profiles")
    else:
        own = existing.read_text(encoding="utf-8")
        if own != text and origin is not None:
            plan.notes.append(f"{IO_CONFIG}: the project's own is kept (it differs from "
                              f"{origin}); --force writes the notebook's")
        _, missing, _ = with_mage_database(own, sql_profiles)
        if missing:
            plan.notes.append(f"{IO_CONFIG} (the project's): profile "
                              + ", ".join(f"`{p}`" for p in missing)
                              + " has no DUCKDB_DATABASE, which Mage's SQL blocks read")
    if root.resolve() == source.directory.resolve():
        return
    carried: list[Carried]
    carried, big = carried_files(source.defaults, source.directory)
    plan.notes += big
    for item in carried:
        plan.copies[item.relative] = item.source
    if carried:
        named = sorted({item.variable for item in carried})
        plan.notes.append(f"carried {len(carried)} data file{'s' * (len(carried) != 1)} into "
                          f"the project ({', '.join(c.relative for c in carried[:3])}"
                          f"{', ...' if len(carried) > 3 else ''}), named by "
                          + ", ".join(f"`{v}`" for v in named))


def _kept_file_path(kept: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The block file a read ``configuration`` names, and the ``file_path`` to add for Mage.

    Mage reads ``file_path``; ``file_source.path`` (what earlier exports wrote) only on its
    multi-project platform, so a block naming its file only there also gets ``file_path``.
    """
    configuration = (kept or {}).get("configuration")
    if not isinstance(configuration, dict):
        return None, None
    if configuration.get("file_path"):
        return str(configuration["file_path"]), None
    source = configuration.get("file_source")
    path = source.get("path") if isinstance(source, dict) else None
    return (str(path), str(path)) if path else (None, None)


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
        for block in [*meta.blocks, *meta.conditionals, *meta.callbacks]:
            source = block.configuration.get("file_source")
            path = block.configuration.get("file_path") or (
                source.get("path") if isinstance(source, dict) else None)
            kind = "condition" if block.type == "conditional" else block.type
            relative = path or block_file(kind, block.uuid, block.language)
            users.setdefault(str(relative), []).append(pipeline)
    return users
