"""``metadata.yaml`` as Mage 0.9 writes it: every key, its defaults, and the keys a file adds.

What belongs here: the documents the exporter writes (one block's entry, the whole pipeline),
with the keys and defaults of Mage's ``Block.to_dict_base`` and ``Pipeline.to_dict`` and Mage's
``yaml.dump`` (keys sorted, block style), so a project opened and saved in Mage shows no diff;
and the two halves of keeping what a Mage-written file says that our options do not: which keys
of a block's entry differ from what the exporter would write (:func:`kept_block_keys`, for
import), and putting them back where they still mean what the block says (:func:`apply_kept`).

A block's own keys fall in two groups. Keys our options decide (``configuration``,
``retry_config``, ``timeout``, ``downstream_blocks``) keep a file's spelling only while it reads
back as the same options (``delay: 1`` for ``--retry-delay 1``, ``retry_config: {}`` for no
retries, Mage's order of ``downstream_blocks``); keys our options do not have (``color``,
``status``, ``executor_type``, a display ``name``, an unknown ``configuration`` key...) are kept
as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from jupyter_blocks.core.block import DEFAULT_RETRY_DELAY, BlockSpec
from jupyter_blocks.project.configuration import configuration_of
from jupyter_blocks.project.mage_shape import MageBlock
from jupyter_blocks.project.mage_sql import sql_configuration

#: The keys of a block's entry that Mage always writes, with the values of a new block.
BLOCK_DEFAULTS: dict[str, Any] = {
    "all_upstream_blocks_executed": True,
    "color": None,
    "executor_config": None,
    "executor_type": "local_python",
    "has_callback": False,
    "status": "not_executed",
}
#: The pipeline keys Mage always writes, with the values of a new pipeline (``created_at`` and
#: ``variables_dir`` are written when a file had them: they name a moment and a machine).
PIPELINE_DEFAULTS: dict[str, Any] = {
    "cache_block_output_in_memory": False,
    "concurrency_config": {},
    "data_integration": None,
    "description": None,
    "executor_config": {},
    "executor_count": 1,
    "executor_type": None,
    "extensions": {},
    "notification_config": {},
    "remote_variables_dir": None,
    "retry_config": {},
    "run_pipeline_in_one_process": False,
    "settings": {"triggers": None},
    "spark_config": {},
    "tags": [],
    "widgets": [],
}
#: Configuration keys our block options decide (``project.configuration``, the SQL settings).
OPTION_CONFIGURATION_KEYS = frozenset({
    "data_provider", "data_provider_profile", "dynamic", "reduce_output", "no_cache",
    "poke_interval", "max_children", "over_max", "max_parallel"})
#: Block keys our options decide; a file's spelling of them is kept while it means the same.
_DERIVED = frozenset({"configuration", "retry_config", "timeout", "downstream_blocks"})
#: Block keys the exporter always writes from the block and never takes from a file.
_OURS = frozenset({"language", "type", "upstream_blocks"})


def number(value: float | None) -> int | float | None:
    """A number as Mage writes it: ``1``, not ``1.0``, for a whole number of seconds."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def retry_document(spec: BlockSpec) -> dict[str, Any] | None:
    """A block's ``retry_config`` from its options: the keys it sets, or None for no retries."""
    if not (spec.retries or spec.retry_delay != DEFAULT_RETRY_DELAY
            or spec.max_retry_delay is not None or spec.exponential_backoff is not None):
        return None
    document: dict[str, Any] = {"retries": spec.retries}
    if spec.retry_delay != DEFAULT_RETRY_DELAY:
        document["delay"] = number(spec.retry_delay)
    if spec.max_retry_delay is not None:
        document["max_delay"] = number(spec.max_retry_delay)
    if spec.exponential_backoff is not None:
        document["exponential_backoff"] = spec.exponential_backoff
    return document


def retry_options(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """The block options a ``retry_config`` holds (``BlockSpec`` field -> value)."""
    document = document or {}
    return {
        "retries": int(document.get("retries") or 0),
        "retry_delay": float(document.get("delay", DEFAULT_RETRY_DELAY)),
        "max_retry_delay": (float(document["max_delay"])
                            if document.get("max_delay") is not None else None),
        "exponential_backoff": document.get("exponential_backoff"),
    }


def block_document(*, uuid: str, name: str, mage_type: str, language: str,
                   upstream: Sequence[str], downstream: Sequence[str],
                   configuration: Mapping[str, Any], retry_config: Mapping[str, Any] | None,
                   timeout: float | None) -> dict[str, Any]:
    """One entry of ``blocks:``, ``conditionals:`` or ``callbacks:``, as Mage writes a new one."""
    return {
        **BLOCK_DEFAULTS,
        "configuration": dict(configuration),
        "downstream_blocks": list(downstream),
        "language": language,
        "name": name,
        "retry_config": dict(retry_config) if retry_config is not None else None,
        "timeout": number(timeout),
        "type": mage_type,
        "upstream_blocks": list(upstream),
        "uuid": uuid,
    }


def kept_block_keys(written: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a block's entry in a file whose value differs from what export writes."""
    kept: dict[str, Any] = {}
    for key, value in written.items():
        if key in _OURS:
            continue
        if key == "configuration" and isinstance(value, Mapping):
            mine = ours.get("configuration") or {}
            differing = {k: v for k, v in value.items() if k not in mine or _text(v)
                         != _text(mine[k])}
            if differing or set(mine) - set(value):
                kept[key] = dict(value)
            continue
        if key not in ours or _text(value) != _text(ours[key]):
            kept[key] = value
    return kept


def apply_kept(document: dict[str, Any], kept: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with the kept keys put back where they still mean what the block says."""
    result = dict(document)
    for key, value in kept.items():
        if key in _OURS or key == "uuid":
            continue
        if key not in _DERIVED:
            result[key] = value
        elif key == "configuration" and isinstance(value, Mapping):
            result[key] = _kept_configuration(document.get("configuration") or {}, value)
        elif key == "retry_config":
            if retry_options(value if isinstance(value, Mapping) else None) == retry_options(
                    document.get("retry_config")):
                result[key] = value
        elif key == "timeout":
            if _same_number(value, document.get("timeout")):
                result[key] = value
        elif key == "downstream_blocks" and isinstance(value, list) and sorted(
                map(str, value)) == sorted(document.get("downstream_blocks") or []):
            result[key] = value
    return result


def _kept_configuration(ours: Mapping[str, Any], kept: Mapping[str, Any]) -> dict[str, Any]:
    """Our configuration, in the file's spelling where equal, with the file's other keys."""
    merged: dict[str, Any] = {}
    for key, value in kept.items():
        if key not in OPTION_CONFIGURATION_KEYS or (key in ours and value == ours[key]):
            merged[key] = value
    for key, value in ours.items():
        merged.setdefault(key, value)
    return merged


def _same_number(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    try:
        return float(left) == float(right)
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    """A value as YAML writes it (so ``1`` and ``1.0`` differ, as they do in the file)."""
    text: str = yaml.safe_dump(value, allow_unicode=True)
    return text


def pipeline_document(*, name: str, variables: Mapping[str, Any],
                      blocks: Sequence[Mapping[str, Any]],
                      conditionals: Sequence[Mapping[str, Any]],
                      callbacks: Sequence[Mapping[str, Any]],
                      settings: Mapping[str, Any]) -> dict[str, Any]:
    """A whole ``metadata.yaml``: Mage's defaults, the settings' keys, then the blocks."""
    document: dict[str, Any] = {**PIPELINE_DEFAULTS, **settings}
    document.update(name=name, uuid=name, type="python", blocks=list(blocks),
                    conditionals=list(conditionals), callbacks=list(callbacks))
    if variables:
        document["variables"] = dict(variables)
    return document


def dump_mage_yaml(document: Mapping[str, Any]) -> str:
    """YAML as Mage writes it (``yaml.dump`` defaults: keys sorted, block style, 80 columns)."""
    text: str = yaml.safe_dump(dict(document), allow_unicode=True)
    return text


def uuids(placed: Sequence[MageBlock], kept: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each block's Mage uuid: its name, or the ``folder/name`` uuid a Mage file gave it."""
    found: dict[str, str] = {}
    for block in placed:
        name = block.spec.name
        given = (kept.get(name) or {}).get("uuid")
        found[name] = given if isinstance(given, str) and given.rsplit("/", 1)[-1] == name \
            else name
    return found


def configuration_for(block: MageBlock, file_path: str | None = None,
                      variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A block's ``configuration`` from its options (and its own file, for a detached copy).

    ``variables`` are the pipeline's defaults, for a SQL block whose profile a variable names.
    """
    configuration = configuration_of(block.spec)
    if block.spec.lang == "sql":
        configuration.update(sql_configuration(block.spec.connector, block.spec.profile,
                                               variables))
    for key in ("poke_interval",):
        if key in configuration:
            configuration[key] = number(configuration[key])
    if file_path:
        configuration["file_path"] = file_path
    return configuration


def documents_for(placed: Sequence[MageBlock], kept: Mapping[str, Mapping[str, Any]],
                  file_paths: Mapping[str, str] | None = None,
                  variables: Mapping[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The ``blocks:``, ``conditionals:`` and ``callbacks:`` entries, kept keys applied.

    ``variables``: the pipeline's defaults (see :func:`configuration_for`).
    """
    uuid_of = uuids(placed, kept)
    sections: dict[str, list[dict[str, Any]]] = {"blocks": [], "conditionals": [],
                                                 "callbacks": []}
    for block in placed:
        spec = block.spec
        document = block_document(
            uuid=uuid_of[spec.name], name=uuid_of[spec.name], mage_type=block.mage_type,
            language=spec.lang, upstream=[uuid_of.get(u, u) for u in block.upstream],
            downstream=[uuid_of.get(d, d) for d in block.downstream],
            configuration=configuration_for(block, (file_paths or {}).get(spec.name),
                                            variables),
            retry_config=retry_document(spec), timeout=spec.timeout)
        sections[block.section].append(apply_kept(document, kept.get(spec.name) or {}))
    return sections
