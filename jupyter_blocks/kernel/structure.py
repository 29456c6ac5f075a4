"""The notebook as a kernel knows it: the cells on screen, the saved file, the cells that ran.

What belongs here: :class:`KernelNotebook`, which finds the notebook file a kernel runs, keeps
the cells the labextension syncs (every code cell, with its position and tags) and the blocks
registered by running their cells, and builds the DAG from them. The newest word on a block
wins: the editor's text as last synced (or, without the labextension, the saved file) unless
the block's cell ran after that sync or save, in which case the code it ran. So a run always
uses the code on screen, saved or not, never an older registration. The DAG is built once per
change of any of them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import BlocksError
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.project.notebook import NOTEBOOK_ENV, from_sources, read_notebook

logger = logging.getLogger(__name__)


class KernelNotebook:
    """The blocks of one kernel's notebook.

    Args:
        namespace: The kernel's globals (to find the notebook from front-end hints).
        directory: The notebook's folder.
        path: The notebook file, when known.
    """

    def __init__(self, namespace: Mapping[str, Any], directory: Path,
                 path: Path | None = None) -> None:
        self.namespace = namespace
        self.directory = directory
        self.path = path
        self.registered: dict[str, BlockSpec] = {}
        self.registered_at: dict[str, float] = {}
        self.synced: Pipeline | None = None
        #: When the last sync arrived (its cells are the editor's text at that time).
        self.synced_at = 0.0
        self._scanned: dict[Path, float] = {}
        self._file: tuple[float, Pipeline] | None = None
        self._dag: tuple[tuple[Any, ...], Dag] | None = None
        self._changes = 0
        self._pending: tuple[str, Dag] | None = None
        #: How many times the DAG was built (it is built once per change).
        self.builds = 0

    # -- where the notebook is ----------------------------------------------------------------

    def saved(self) -> Pipeline | None:
        """The saved notebook file as a pipeline, re-read when it changes on disk."""
        path = self.path
        if path is None:
            return None
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if self._file is None or self._file[0] != mtime:
            try:
                self._file = (mtime, read_notebook(path))
            except BlocksError as exc:
                logger.warning("cannot read %s: %s", path, exc)
                return None
        return self._file[1]

    def find(self, cell_source: str | None = None, hint: str | None = None) -> None:
        """Locate the notebook file this kernel runs, if not known yet.

        Tries ``$JUPYTER_BLOCKS_NOTEBOOK``, the ``__session__``/``__vsc_ipynb_file__`` names
        front ends set, ``hint`` (the path the labextension says), then a notebook in the
        working folder that holds ``cell_source``.
        """
        if self.path is not None:
            return
        candidates = [os.environ.get(NOTEBOOK_ENV), self.namespace.get("__session__"),
                      self.namespace.get("__vsc_ipynb_file__"), hint]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.endswith(".ipynb"):
                for path in (Path(candidate), self.directory / Path(candidate).name):
                    if path.is_file():
                        self.path = path.resolve()
                        return
        if cell_source is None:
            return
        for path in sorted(self.directory.glob("*.ipynb")):
            # Each file is read again only once it changes: this runs before every block run
            # until the notebook is found (an unsaved notebook is not on disk yet).
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._scanned.get(path) == mtime:
                continue
            self._scanned[path] = mtime
            try:
                pipeline = read_notebook(path)
            except BlocksError:
                continue
            sources = [b.source.strip() for b in pipeline.blocks]
            if cell_source.partition("\n")[2].strip() in sources:
                self.path = path.resolve()
                return

    # -- what the notebook holds --------------------------------------------------------------

    def structure(self) -> Pipeline | None:
        """The notebook's cells: the labextension's last sync, else the saved file."""
        return self.synced or self.saved()

    def dag(self) -> Dag:
        """Every block: registered ones override the notebook's, in notebook order."""
        source = self.structure()
        stamp = (self._changes, id(source), self.path)
        if self._dag is not None and self._dag[0] == stamp:
            return self._dag[1]
        dag = self._build(source, self.registered)
        self._dag = (stamp, dag)
        return dag

    def with_block(self, spec: BlockSpec) -> Dag:
        """The DAG as it would be with ``spec`` registered (nothing is registered yet)."""
        registered = {**self.registered, spec.name: spec}
        dag = self._build(self.structure(), registered, also_new=spec.name)
        if spec.name not in dag:
            dag = dag.replace_block(spec)
        self._pending = (spec.name, dag)
        return dag

    def register(self, spec: BlockSpec) -> None:
        """Register (or re-register) a block from a cell that ran."""
        structure = self.structure()
        if structure is not None and not spec.origin:
            match = next((b for b in structure.blocks if b.name == spec.name), None)
            if match is not None:
                spec = spec.replace(origin=match.origin, cell_id=match.cell_id)
        self.registered[spec.name] = spec
        self.registered_at[spec.name] = time.time()
        self._changes += 1
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == spec.name:
            # The DAG just checked for this cell is the DAG now: keep it, do not build again.
            self._dag = ((self._changes, id(structure), self.path), pending[1])

    def sync(self, cells: Iterable[Mapping[str, Any]]) -> None:
        """Take the notebook's current cell sources from the labextension."""
        self.synced = from_sources(list(cells), path=self.path, directory=self.directory)
        self.synced_at = time.time()
        self._changes += 1

    def _build(self, source: Pipeline | None, registered: MutableMapping[str, BlockSpec],
               also_new: str | None = None) -> Dag:
        self.builds += 1
        written = self._source_time()
        blocks: list[BlockSpec] = []
        used: set[str] = set()

        def newer(name: str) -> bool:
            # The cell running now, or a cell that ran after the sources were last synced/saved.
            if name == also_new:
                return True
            return written is None or self.registered_at.get(name, 0.0) > written

        if source is not None:
            for spec in source.blocks:
                if spec.name in registered and spec.name not in used and newer(spec.name):
                    spec = registered[spec.name].replace(origin=spec.origin,
                                                         cell_id=spec.cell_id)
                used.add(spec.name)
                blocks.append(spec)
        for name, spec in registered.items():
            # A registered block missing from the sources was renamed or deleted there, unless
            # it ran after they were synced or saved (they are just behind).
            if name not in used and (source is None or newer(name)):
                blocks.append(spec)
        return Dag.of(blocks)

    def _source_time(self) -> float | None:
        """When the structure's sources were current: the last sync, else the file's save."""
        if self.synced is not None:
            return self.synced_at
        if self.path is None:
            return None
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None
