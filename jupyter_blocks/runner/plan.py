"""Planning a run: each block's body analysis, resolved type and cache key, in topological order.

What belongs here: :class:`Analyses`, the memo that makes sure a block body is analysed once
however many times it is planned (a kernel session keeps one for its life, so a cell run and the
freshness shown after it share one analysis per body), :func:`plan`, :func:`block_variables`,
the ``kwargs`` each block receives, and :func:`check_variables_read`, the one check that every
variable a run is given (``--var``, ``-p``, a backfill's, the API's) is read by some block.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_blocks.cache.keys import KeyParts, block_key
from jupyter_blocks.core import body
from jupyter_blocks.core.block import BlockSpec, option_variable
from jupyter_blocks.core.body import BodyInfo
from jupyter_blocks.core.errors import ConfigError, did_you_mean
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline

#: What a run or a block sets besides the derived variables; given a value, it is not unread.
BUILT_IN = frozenset({"env", "repo_path", "run_id", "block", "block_uuid", "logger", "retry",
                      "configuration"})


@dataclass(frozen=True)
class Analysed:
    """What is known of a block without running it or knowing the run's variables."""

    info: BodyInfo
    type: str


class Analyses:
    """Body analyses by block spec: each spec is analysed once for as long as this memo lives.

    Analysis errors (a syntax error, a type that contradicts the decorator) are raised each
    time, not remembered. :meth:`keep_only` drops what the current blocks no longer need, so the
    memo of a long kernel session holds only the specs of its current cells.
    """

    def __init__(self) -> None:
        self._known: dict[BlockSpec, Analysed] = {}

    def __call__(self, spec: BlockSpec) -> Analysed:
        """The analysis of ``spec`` (made now, or remembered)."""
        found = self._known.get(spec)
        if found is None:
            info = body.analyze(spec)
            if spec.lang == "sql":
                # A SQL block reads the variables its template names, not all of them.
                from jupyter_blocks.io.sql import referenced_variables

                names = referenced_variables(spec.source)
                # ... and the variable that names its profile, when one does.
                chosen_by = option_variable(spec.profile)
                if names is not None and chosen_by is not None:
                    names.add(chosen_by)
                info = dataclasses.replace(
                    info, variables=frozenset(names) if names is not None else None)
            found = self._known[spec] = Analysed(info, body.resolve_type(spec, info))
        return found

    def info(self, spec: BlockSpec) -> BodyInfo:
        """The body analysis of ``spec``."""
        return self(spec).info

    def keep_only(self, specs: Iterable[BlockSpec]) -> None:
        """Forget every spec not among ``specs``."""
        wanted = set(specs)
        for spec in [s for s in self._known if s not in wanted]:
            del self._known[spec]


@dataclass(frozen=True)
class Planned:
    """A block ready to run: its spec, analysis, resolved type and key."""

    spec: BlockSpec
    info: BodyInfo
    type: str
    key: KeyParts


def plan(dag: Dag, variables: Mapping[str, Any], analyses: Analyses | None = None
         ) -> dict[str, Planned]:
    """Analyse every block of ``dag`` and compute its key, in topological order."""
    analyses = analyses if analyses is not None else Analyses()
    planned: dict[str, Planned] = {}
    for name in dag.order():
        spec = dag[name]
        analysed = analyses(spec)
        upstream_keys = [planned[u].key.digest for u in spec.upstream if u in planned]
        key = block_key(spec, analysed.type, upstream_keys, analysed.info.variables,
                        block_variables(variables, spec.name))
        planned[name] = Planned(spec, analysed.info, analysed.type, key)
    return planned


def block_variables(variables: Mapping[str, Any], block: str, attempt: int = 1, *,
                    template: str | None = None,
                    configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``kwargs`` a block receives: the run's variables and its own.

    Those are ``block`` (its name, ``block:<id>`` for a dynamic child), Mage's ``block_uuid``
    (the block it is an instance of), ``logger``, and Mage's ``retry`` (``{"attempts": n}``)
    and ``configuration`` (the block's configuration as ``metadata.yaml`` holds it).
    """
    values = dict(variables)
    values["block"] = block
    values["block_uuid"] = template or block
    values["logger"] = logging.getLogger(f"jupyter_blocks.blocks.{template or block}")
    values["retry"] = {"attempts": attempt}
    if configuration is not None:
        values["configuration"] = configuration
    return values


def read_variables(dag: Dag, analyses: Analyses | None = None) -> frozenset[str] | None:
    """The variables the blocks of ``dag`` read, or None when one reads them dynamically."""
    analyses = analyses if analyses is not None else Analyses()
    read: set[str] = set()
    for spec in dag:
        variables = analyses(spec).info.variables
        if variables is None:
            return None
        read |= variables
    return frozenset(read)


def unread_variables(dag: Dag, names: Iterable[str], defaults: Iterable[str] = (),
                     analyses: Analyses | None = None) -> list[str]:
    """The ``names`` no block of ``dag`` reads, in the order given.

    ``[]`` when a block reads its variables dynamically (which it reads cannot be known). Names
    with a default in the pipeline (``defaults``) and the built-in run variables count as read.
    """
    from jupyter_blocks.runner.variables import DERIVED

    read = read_variables(dag, analyses)
    if read is None:
        return []
    known = read | set(defaults) | DERIVED | BUILT_IN
    return [name for name in names if name not in known]


def check_variables_read(pipeline: Pipeline, given: Mapping[str, str], *, hint: str = "",
                         analyses: Analyses | None = None) -> None:
    """Raise when a variable given to a run of ``pipeline`` is read by no block.

    A variable counts as read when a block reads it, the pipeline has a default for it (its
    ``parameters`` cell, its ``variables``) or the run sets it (``execution_date``, ...).

    Args:
        pipeline: The pipeline to run.
        given: Each given variable's name -> how the message names it (``--var months``).
        hint: Added to the message: how to run anyway (``--allow-unused-vars runs anyway``).
        analyses: A memo of body analyses to reuse.

    Raises:
        ConfigError: Naming every unread variable, with the near name of each.
    """
    analyses = analyses if analyses is not None else Analyses()
    unread = unread_variables(pipeline.dag, given, pipeline.defaults, analyses)
    if not unread:
        return
    known = sorted(set(pipeline.defaults) | (read_variables(pipeline.dag, analyses) or set()))
    problems = "; ".join(f"{given[name]}: no block of `{pipeline.name}` reads it"
                         + did_you_mean(name, known)
                         for name in unread)
    raise ConfigError(problems + (f"; {hint}" if hint else ""))
