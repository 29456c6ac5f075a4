"""What Mage 0.9.80 will do differently with an exported pipeline: one line per block, at export.

What belongs here: :func:`export_notes`, the lines ``export`` prints (and returns) for what the
files cannot make Mage do as a jupyter-blocks run does: a sensor's poke interval and deadline,
timeouts Mage checks only in its scheduler, retries Mage cuts short (its ``max_delay`` bounds
the sum of the waits and stops the retries), dynamic-block limits Mage has no key for, a
DAG-style condition that Mage calls with the inputs of the block it gates, a SQL block reading
the execution date plain ``mage run`` does not pass, and settings keys of ours Mage refuses. What
the files can make work (variables, a dynamic block's bare list, upstream tables in SQL) they
do, without a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_blocks.core.block import DEFAULT_POKE_INTERVAL, BlockSpec, option_variable
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.project.mage_shape import MageBlock, inputs_of
from jupyter_blocks.project.settings import PipelineSettings

#: Mage's ``RetryConfig.max_delay`` when a block's ``retry_config`` has none.
MAGE_MAX_DELAY = 60.0
_TEMPLATE_NAME = re.compile(r"\{\{-?\s*([A-Za-z_]\w*)")
_DATE_VARIABLES = frozenset({"execution_date", "ds", "hr", "interval_start_datetime",
                             "interval_end_datetime", "interval_seconds"})


def export_notes(dag: Dag, placed: Sequence[MageBlock],
                 settings: PipelineSettings | None) -> list[str]:
    """Every difference Mage will make, one line per block, then the pipeline's own lines."""
    notes: list[str] = []
    conditions = frozenset(b.spec.name for b in placed if b.gated_from_dag)
    for block in placed:
        parts = _block_parts(dag, block, conditions)
        if parts:
            notes.append(f"{block.spec.label}: " + "; ".join(parts))
    notes += _pipeline_notes(placed, settings)
    return notes


def mage_attempts(spec: BlockSpec) -> int:
    """How many attempts Mage's ``retry`` makes with this block's retry options."""
    max_delay = spec.max_retry_delay if spec.max_retry_delay is not None else MAGE_MAX_DELAY
    attempts, waited, wait = 1, 0.0, spec.retry_delay
    while attempts <= spec.retries:
        if waited + wait >= max_delay:
            break
        waited += wait
        attempts += 1
        if spec.exponential_backoff is not False:
            wait *= 2
    return attempts


def _block_parts(dag: Dag, block: MageBlock, conditions: frozenset[str]) -> list[str]:
    spec = block.spec
    parts: list[str] = []
    if block.kind == "sensor" and spec.poke_interval != DEFAULT_POKE_INTERVAL:
        parts.append(f"Mage pokes it every 60 s, not every {spec.poke_interval:g} s")
    if spec.timeout is not None:
        parts.append(f"its {spec.timeout:g} s timeout holds only in Mage's scheduler, not "
                     "under `mage run`")
    if spec.retries:
        attempts = mage_attempts(spec)
        if attempts < spec.retries + 1:
            limit = spec.max_retry_delay if spec.max_retry_delay is not None \
                else MAGE_MAX_DELAY
            parts.append(f"Mage makes {attempts} attempt{'s' * (attempts != 1)}, not "
                         f"{spec.retries + 1}: it stops retrying once the waits would add up "
                         f"to max_delay ({limit:g} s)")
    if spec.max_children is not None:
        parts.append("Mage has no --max-children: it runs a child for every item")
    if spec.max_parallel is not None:
        parts.append("Mage has no --max-parallel: its children run as Mage's "
                     "concurrency_config allows")
    if spec.dynamic and any(u in dag and dag[u].dynamic for u in spec.upstream):
        parts.append("Mage 0.9.80 hands the children of a dynamic child the wrong items (and "
                     "fails when the parent returns metadata)")
    if block.gated_from_dag:
        parts += _condition_parts(dag, block, conditions)
    if spec.lang == "sql":
        parts += _sql_parts(spec)
    return parts


def _condition_parts(dag: Dag, block: MageBlock, conditions: frozenset[str]) -> list[str]:
    if not block.upstream:
        return ["it gates no block, so Mage never runs it"]
    own = tuple(block.spec.upstream)
    parts = []
    for gated in block.upstream:
        inputs = inputs_of(dag[gated], conditions)
        if inputs != own:
            parts.append(f"Mage runs it before `{gated}` with `{gated}`'s inputs "
                         f"({_names(inputs)}), not its own upstreams' ({_names(own)})")
    return parts


def _sql_parts(spec: BlockSpec) -> list[str]:
    parts = []
    variable = option_variable(spec.profile)
    if variable is not None:
        engine = f"`{spec.connector}`" if spec.connector else "DuckDB, not its SQL_CONNECTOR"
        parts.append(f"Mage runs it on the profile `{variable}` defaults to and on {engine}, "
                     f"whatever `{variable}` a run is given (data_provider_profile is a name)")
    dates = sorted(set(_TEMPLATE_NAME.findall(spec.source)) & _DATE_VARIABLES)
    if dates:
        shown = ", ".join(f"`{name}`" for name in dates)
        parts.append(f"it reads {shown}, which plain `mage run` does not pass "
                     "(a trigger run does)")
    return parts


def _pipeline_notes(placed: Sequence[MageBlock], settings: PipelineSettings | None
                    ) -> list[str]:
    notes: list[str] = []
    features = []
    if any(b.section == "conditionals" for b in placed):
        features.append("conditionals")
    if any(b.section == "callbacks" for b in placed):
        features.append("callbacks")
    if any(b.spec.retries for b in placed):
        features.append("retries")
    if features or any(b.spec.dynamic for b in placed):
        skipped = f"skips its {_and(features)}" if features else ""
        failing = "fails on its dynamic blocks" if any(b.spec.dynamic for b in placed) else ""
        notes.append(f"pipeline: plain `mage run` {_and([p for p in (skipped, failing) if p])}; "
                     "Mage's trigger runs (and `mage run --pipeline-run-id`) apply them")
    if settings is None:
        return notes
    for trigger in settings.triggers:
        ours = sorted(key for key in ("catchup", "timezone") if key in trigger.model_fields_set
                      and getattr(trigger, key) not in (False, None))
        if ours:
            notes.append(f"trigger `{trigger.name}`: {_and([f'`{k}`' for k in ours])} "
                         f"{'is' if len(ours) == 1 else 'are'} jupyter-blocks' own: Mage skips "
                         "a trigger with keys it does not know")
    config = settings.notification_config
    if config is not None and config.urls:
        notes.append("notification_config: `urls` (apprise URLs) is jupyter-blocks' own: "
                     "Mage cannot load this notification_config and sends no alerts")
    return notes


def unknown_kept_blocks(kept: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Notes on ``mage_block_keys`` entries naming no block of the pipeline."""
    return [f"%%pipeline mage_block_keys: `{name}` is not a block of this pipeline; its keys "
            "are not written" for name in kept if name not in names]


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
