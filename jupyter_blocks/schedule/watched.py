"""What the scheduler watches: the pipelines its targets name, and when their settings change.

What belongs here: :class:`Watched` (a pipeline, the files its triggers come from and their
modification times), :func:`pipelines_of` (the pipelines a notebook, project or pipeline folder
names), :func:`load_watched`, and how a trigger is known across restarts: the fingerprint of the
keys that decide when it fires, and the label its runs are recorded under.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.triggers import Trigger

#: The keys of a trigger that make its schedule: editing one restarts it from its next tick.
_SCHEDULE_KEYS = ("schedule_type", "schedule_interval", "start_time", "timezone", "status")


@dataclass
class Watched:
    """A pipeline the scheduler watches, reloaded when its files change.

    Attributes:
        target: The notebook or project folder, as given.
        name: The pipeline's name inside a project (None for a notebook).
        pipeline: The pipeline as last loaded without problems.
        files: The files its settings come from, with their modification times.
        problem: Why its latest version could not be loaded (the previous one is scheduled).
    """

    target: str
    name: str | None
    pipeline: Pipeline
    files: dict[Path, float]
    problem: str | None = None

    def changed(self) -> bool:
        """Whether its files changed since last looked at (their times are then kept)."""
        stamps = {f: _mtime(f) for f in self.files}
        if stamps == self.files:
            return False
        self.files = stamps
        return True

    @property
    def triggers(self) -> list[Trigger]:
        """The pipeline's triggers (its ``%%pipeline`` cell's or ``triggers.yaml``'s)."""
        settings = self.pipeline.settings
        return list(settings.triggers) if settings is not None else []


def load_watched(target: str, name: str | None) -> Watched:
    """Load the pipeline ``name`` of ``target`` (a notebook's own when None) to watch it."""
    from jupyter_blocks.project.loading import load_pipeline

    files = _settings_files(target, name)
    pipeline = load_pipeline(target, name)
    return Watched(target, name, pipeline, {f: _mtime(f) for f in files})


def pipelines_of(targets: Sequence[str]) -> list[tuple[str, str | None]]:
    """``(target, pipeline name)`` of every pipeline the targets name.

    A notebook is one pipeline; a project folder is each of its ``pipelines/*``; a pipeline
    folder is that pipeline.

    Raises:
        ConfigError: A target is neither, or a project has no pipeline.
    """
    from jupyter_blocks.project.loading import is_notebook_target

    found: list[tuple[str, str | None]] = []
    for target in targets:
        path = Path(target)
        if is_notebook_target(path):
            if not path.is_file():
                raise ConfigError(f"{target}: no such notebook")
            found.append((target, None))
        elif (path / "metadata.yaml").is_file() and path.parent.name == "pipelines":
            found.append((target, None))
        elif path.is_dir():
            names = sorted(p.parent.name for p in path.glob("pipelines/*/metadata.yaml"))
            if not names:
                raise ConfigError(f"{target} is neither a notebook nor a project folder with "
                                  "pipelines/*/metadata.yaml")
            found.extend((target, name) for name in names)
        else:
            raise ConfigError(f"{target}: no such notebook or project folder")
    return found


def trigger_fingerprint(trigger: Trigger) -> str:
    """What identifies a trigger's schedule: the keys that decide when it fires."""
    document = trigger.model_dump(include=set(_SCHEDULE_KEYS), mode="json")
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def run_label(trigger: Trigger) -> str:
    """How the run history names what started a scheduled run: ``schedule:<name>``."""
    return f"schedule:{trigger.name}"


def _settings_files(target: str, name: str | None) -> list[Path]:
    path = Path(target)
    if path.is_file():
        return [path]
    folder = path / "pipelines" / name if name is not None else path
    return [folder / "metadata.yaml", folder / "triggers.yaml"]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return -1.0
