"""What an export would write, for the export dialog to show before anything is written.

What belongs here: :func:`review_export`, which plans an export (the exporter's own
``plan_export``, so the review and the export cannot disagree) and says, for the dialog, every
file it writes with its state (new, changed or unchanged, and whether it is the pipeline's own
copy of a shared file), the block files other pipelines use with different content (what an
export refuses without ``detach`` or ``force``), and blocks whose name another block file of the
project already has: Mage knows a block by its name, so ``transformers/trips_per_day.py`` beside
``transformers/trips_per_day.sql`` (or ``data_loaders/trips_per_day.py``) is two blocks the
project cannot tell apart. Nothing is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jupyter_blocks.core.body import analyze, resolve_type
from jupyter_blocks.core.errors import ConfigError, SharedFilesError
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.project.metadata import EXTENSIONS, FOLDERS, block_file, read_metadata
from jupyter_blocks.project.writer import plan_export


@dataclass(frozen=True)
class PlannedFile:
    """A file the export writes: its path in the project and what writing it does."""

    path: str
    #: ``new``, ``changed`` or ``unchanged``.
    state: str
    #: The pipeline's own copy of a block file other pipelines share (``detach``).
    detached: bool = False


@dataclass(frozen=True)
class SameName:
    """A block whose name other block files of the project have too."""

    block: str
    path: str
    #: Each other file with that name, and the pipelines that use it.
    others: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class ExportReview:
    """What exporting a notebook into a project would do."""

    pipeline: str
    files: list[PlannedFile] = field(default_factory=list)
    #: Shared block files an export without ``detach``/``force`` refuses: (path, pipelines).
    conflicts: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    same_name: list[SameName] = field(default_factory=list)


def review_export(notebook: Path, project: Path, *, detach: bool = False,
                  force: bool = False) -> ExportReview:
    """Plan exporting ``notebook`` into ``project`` and describe it; write nothing.

    With conflicting shared files and neither ``detach`` nor ``force``, the files listed are
    those an overwrite would write, and the conflicts say which of them other pipelines use.

    Raises:
        BlocksError: The notebook cannot be exported (a bad block, an outside name).
    """
    source = load_pipeline(notebook)
    name = source.name
    review = ExportReview(name)
    try:
        planned = plan_export(source, project, name, detach=detach, force=force)
    except SharedFilesError as refusal:
        review.conflicts = [(path, tuple(users)) for path, users in refusal.conflicts]
        planned = plan_export(source, project, name, force=True)
    for relative, text in planned.items():
        target = project / relative
        if not target.is_file():
            state = "new"
        else:
            state = "unchanged" if target.read_text(encoding="utf-8") == text else "changed"
        review.files.append(PlannedFile(relative, state, _is_copy(relative, name)))
    users = _users(project, exclude=name)
    written = set(planned)
    for spec in source.dag:
        info = analyze(spec)
        block_type = resolve_type(spec, info)
        own = block_file(block_type, spec.name, spec.lang)
        path = next((p for p in written if p in (own, block_file(block_type, spec.name,
                                                                    spec.lang, name))), own)
        others = [(other, tuple(users.get(other, ()))) for other in _named(project, spec.name)
                  if other not in (own, path)]
        if others:
            review.same_name.append(SameName(spec.name, path, tuple(others)))
    return review


def _is_copy(relative: str, pipeline: str) -> bool:
    parts = relative.split("/")
    return len(parts) == 3 and parts[0] in FOLDERS.values() and parts[1] == pipeline


def _named(project: Path, name: str) -> list[str]:
    """Block files of the project's folders named ``name``, whatever their type or language."""
    found = []
    for folder in sorted(set(FOLDERS.values())):
        for extension in EXTENSIONS.values():
            if (project / folder / f"{name}{extension}").is_file():
                found.append(f"{folder}/{name}{extension}")
    return found


def _users(project: Path, exclude: str) -> dict[str, list[str]]:
    """Block file -> the pipelines of the project (but ``exclude``) that use it."""
    users: dict[str, list[str]] = {}
    for metadata in sorted(project.glob("pipelines/*/metadata.yaml")):
        if metadata.parent.name == exclude:
            continue
        try:
            meta = read_metadata(metadata)
        except ConfigError:
            continue
        for block in meta.blocks:
            source = block.configuration.get("file_source")
            path = source.get("path") if isinstance(source, dict) else None
            relative = path or block_file(block.type, block.uuid, block.language)
            users.setdefault(str(relative), []).append(metadata.parent.name)
    return users
