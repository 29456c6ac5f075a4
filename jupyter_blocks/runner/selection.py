"""Selections: which blocks a run runs, which it runs even when cached, and whether it reuses.

What belongs here: :class:`Selection`, the value every way of starting a run builds (a cell: one
block with its upstreams; ``%blocks run NAME --downstream``; ``jupyter-blocks run --only/--from/
--incremental``; a scheduled or backfilled run: everything), and its resolution against a DAG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jupyter_blocks.core.errors import ConfigError, GraphError, did_you_mean
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.problems import Problem


@dataclass(frozen=True)
class Selection:
    """What a run covers.

    Attributes:
        targets: Blocks to run (with their upstreams, served from the cache when fresh); None
            for every block.
        force: Blocks to run even when the cache has them.
        use_cache: Whether fresh outputs may be served from the cache at all.
        skip_done_side_effects: Leave out exporters and sensors whose run history shows their
            current key already succeeded (``--incremental``).
    """

    targets: tuple[str, ...] | None = None
    force: tuple[str, ...] = ()
    use_cache: bool = True
    skip_done_side_effects: bool = False

    @classmethod
    def blocks(cls, names: Iterable[str], *, force: Iterable[str] = ()) -> Selection:
        """``names`` with their upstreams; ``force`` runs even when cached."""
        return cls(tuple(names), tuple(force))

    @classmethod
    def everything(cls, *, reuse: bool = True) -> Selection:
        """Every block: fresh ones served from the cache (``reuse``), or every one run again."""
        return cls(None, (), use_cache=reuse)

    @classmethod
    def for_command(cls, dag: Dag, *, only: str | None = None, start: str | None = None,
                    incremental: bool = False) -> Selection:
        """What ``jupyter-blocks run`` selects with ``--only``/``--from``/``--incremental``.

        Without ``--incremental`` every selected block runs; upstreams outside the selection
        come from the cache when fresh.

        Raises:
            ConfigError: Both ``--only`` and ``--from``.
            GraphError: A block name that is not in the pipeline (with the near name).
        """
        if only and start:
            raise ConfigError("--only and --from cannot be combined: pick one")
        for option, name in (("--only", only), ("--from", start)):
            if name is not None and name not in dag:
                raise GraphError([Problem(
                    "unknown_block",
                    f"{option}: no block named `{name}` in this pipeline"
                    + did_you_mean(name, dag.names), name=name)])
        if only:
            targets: tuple[str, ...] = (only,)
        elif start:
            targets = dag.downstream_of(start).names
        else:
            return cls(None, (), incremental, incremental)
        return cls(targets, () if incremental else targets, True, incremental)

    def resolve(self, dag: Dag) -> tuple[list[str] | None, list[str]]:
        """The runner's ``targets`` and ``force`` for ``dag``."""
        targets = list(self.targets) if self.targets is not None else None
        return targets, list(self.force)
