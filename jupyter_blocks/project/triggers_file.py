"""Mage's files for settings: ``pipelines/<name>/triggers.yaml`` and ``metadata.yaml``'s keys.

What belongs here: reading and writing ``triggers.yaml`` byte for byte as Mage 0.9 writes it,
and the ``metadata.yaml`` keys a ``%%pipeline`` cell holds (``notification_config``,
``retry_config``, ``concurrency_config`` and Mage's other pipeline keys), as mappings in and out.

Mage writes ``triggers.yaml`` with ``yaml.safe_dump({'triggers': [...]})``: keys sorted, block
style, 80 columns, non-ASCII escaped, datetimes as ``2024-01-15 05:00:00+00:00``. A trigger
always has ``name``, ``schedule_interval``, ``schedule_type`` and ``start_time`` (Mage's
``Trigger`` cannot be built without them; null when unused); its other keys are written when
they were read or set. ``catchup`` and ``timezone`` are written only when they are not their
defaults: Mage refuses a trigger with keys it does not know, so such a trigger runs here only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.project.mage_layout import PIPELINE_DEFAULTS
from jupyter_blocks.project.notifications import NotificationConfig
from jupyter_blocks.project.settings import KEPT_KEYS, PipelineSettings
from jupyter_blocks.project.triggers import (
    MAGE_REQUIRED_KEYS,
    OUR_KEYS,
    Trigger,
    trigger_problems,
)
from jupyter_blocks.project.validation import describe_errors, load_yaml, raise_problems

TRIGGERS_FILE = "triggers.yaml"
#: ``metadata.yaml`` keys Mage writes as ``{}`` when they hold nothing.
EMPTY_AS_MAPPING = ("notification_config", "retry_config", "concurrency_config")


def dump_triggers(triggers: Sequence[Trigger]) -> str:
    """The text of a ``triggers.yaml`` holding ``triggers``, as Mage writes it."""
    text: str = yaml.safe_dump({"triggers": [trigger_document(t) for t in triggers]})
    return text


def trigger_document(trigger: Trigger) -> dict[str, Any]:
    """One trigger as Mage writes it: its set keys plus the ones Mage requires."""
    document = trigger.model_dump(exclude_unset=True)
    for key in MAGE_REQUIRED_KEYS:
        document.setdefault(key, getattr(trigger, key))
    for key in OUR_KEYS:
        if key in document and document[key] == Trigger.model_fields[key].default:
            del document[key]
    return document


def load_triggers(text: str, where: str = TRIGGERS_FILE) -> list[Trigger]:
    """Parse a ``triggers.yaml`` text; an empty file or ``triggers: null`` has no triggers.

    Raises:
        ConfigError: Every problem at once, each with its YAML path (``triggers[1].status``).
    """
    document = load_yaml(text, where)
    if document is None:
        return []
    if not isinstance(document, Mapping):
        raise ConfigError(f"{where} must be a mapping with `triggers:`, got "
                          f"{type(document).__name__}")
    unknown = sorted(str(key) for key in document if key != "triggers")
    problems = [f"{key}: unknown key (the file holds `triggers:` only)" for key in unknown]
    raw = document.get("triggers") or []
    if not isinstance(raw, list):
        raise ConfigError(f"{where} triggers: expected a list of triggers, got "
                          f"{type(raw).__name__}")
    triggers = []
    for index, item in enumerate(raw):
        try:
            triggers.append(Trigger.model_validate(item))
        except ValidationError as exc:
            problems += describe_errors(exc, Trigger, ("triggers", index))
    problems += trigger_problems(raw)
    raise_problems(where, problems)
    return triggers


def read_triggers(path: Path | str) -> list[Trigger]:
    """Read a ``triggers.yaml``; a missing file means no triggers, as in Mage."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return load_triggers(text, str(path))


def write_triggers(path: Path | str, triggers: Sequence[Trigger]) -> None:
    """Write ``triggers`` to ``path`` in Mage's format (atomically: temp file, then rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(dump_triggers(triggers), encoding="utf-8")
    temporary.replace(path)


def notification_config_to_mage(config: NotificationConfig | None) -> dict[str, Any]:
    """``notification_config`` as ``metadata.yaml`` holds it: the keys set, ``{}`` for none."""
    return config.model_dump(exclude_unset=True) if config is not None else {}


def notification_config_from_mage(value: Any, where: str = "metadata.yaml"
                                  ) -> NotificationConfig | None:
    """``metadata.yaml``'s ``notification_config`` validated; None for an empty or null one."""
    if not value:
        return None
    settings = settings_from_metadata({"notification_config": value}, [], where)
    return settings.notification_config


def metadata_part(settings: PipelineSettings) -> dict[str, Any]:
    """The ``metadata.yaml`` keys the settings hold, as Mage writes them.

    ``notification_config``, ``retry_config`` and ``concurrency_config`` are always there
    (``{}`` when unset, as Mage writes them); Mage's other kept keys when the cell has them
    (the exporter writes Mage's defaults for the others: ``project.mage_layout``).
    """
    document = settings.model_dump(exclude_unset=True, exclude={"triggers", "mage_block_keys"})
    for key in EMPTY_AS_MAPPING:
        if document.get(key) is None:
            document[key] = {}
    return {key: document[key] for key in sorted(document)}


def settings_from_metadata(metadata: Mapping[str, Any], triggers: Sequence[Trigger],
                           where: str = "metadata.yaml") -> PipelineSettings:
    """The ``%%pipeline`` settings of an imported pipeline: its triggers and metadata keys.

    A key holding what Mage writes for a new pipeline (``tags: []``, ``executor_count: 1``, an
    empty ``notification_config``...) is left out: the exporter writes those defaults back
    (``project.mage_layout.PIPELINE_DEFAULTS``). Keys that belong to blocks or the pipeline's
    name are not settings and are ignored.
    """
    values: dict[str, Any] = {}
    for key in (*EMPTY_AS_MAPPING, *KEPT_KEYS):
        if key not in metadata:
            continue
        if key in EMPTY_AS_MAPPING and metadata[key] in ({}, None):
            continue
        if key in PIPELINE_DEFAULTS and _same_yaml(metadata[key], PIPELINE_DEFAULTS[key]):
            continue
        values[key] = metadata[key]
    if triggers:
        values["triggers"] = list(triggers)
    try:
        return PipelineSettings.model_validate(values)
    except ValidationError as exc:
        raise_problems(where, describe_errors(exc, PipelineSettings))
        raise  # unreachable: raise_problems raised


def _same_yaml(left: Any, right: Any) -> bool:
    """Whether two values are written the same (``1`` and ``1.0`` are not)."""
    return bool(yaml.safe_dump(left) == yaml.safe_dump(right))
