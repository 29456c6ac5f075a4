"""What a kernel remembers of its runs: each block's last run, ``--no-cache`` outputs, history.

What belongs here: :class:`RunMemory`, which turns each finished run's outcomes into
:class:`~jupyter_blocks.kernel.freshness.BlockRecord` values (a block served from the cache
keeps the time of the run that made its output, not "0 s"; a skipped block keeps its last run,
since the skip follows from its failed upstream), keeps the outputs of ``--no-cache`` blocks so a
later cell can take them as upstreams while their key holds, and asks the run store what made a
cached output this kernel did not make. No run logic: the session runs, this remembers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_blocks.cache import Cache
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.kernel.freshness import BlockRecord, LastRun
from jupyter_blocks.runner.events import RunResult
from jupyter_blocks.runner.plan import Planned
from jupyter_blocks.runner.selection import Selection

logger = logging.getLogger(__name__)


class RunMemory:
    """The runs of one kernel, as far as block states need them.

    Args:
        store: Gives the run store (or None when runs are not recorded); called when needed.
    """

    def __init__(self, store: Callable[[], Any]) -> None:
        self.records: dict[str, BlockRecord] = {}
        self._store = store
        #: Outputs of ``--no-cache`` blocks from their last run here: name -> (key, value).
        self._kept: dict[str, tuple[str, Any]] = {}
        self._last_runs: dict[str, LastRun] = {}
        #: Keys the store had no successful run of, until the next run is remembered.
        self._unknown: set[str] = set()

    def remember(self, result: RunResult, dag: Dag) -> None:
        """Take the outcomes of a finished run of ``dag``."""
        now = time.time()
        self._unknown.clear()
        for name, outcome in result.outcomes.items():
            if outcome.key is None or outcome.status == "skipped":
                continue
            digest = outcome.key.digest
            previous = self.records.get(name)
            if outcome.status == "cached":
                if previous is not None and previous.key.digest == digest \
                        and previous.status != "failed":
                    continue  # the output this kernel already had: its run stands
                found = self.last_run(digest)
                record = BlockRecord(outcome.key, "cached",
                                     found.seconds if found else None, outcome.rows,
                                     outcome.cols, None, found.finished if found else None)
            elif outcome.status == "failed":
                record = BlockRecord(outcome.key, "failed", outcome.seconds, None, None,
                                     outcome.error, now)
            else:
                record = BlockRecord(outcome.key, "ran", outcome.seconds, outcome.rows,
                                     outcome.cols, None, now)
                if name in dag and dag[name].no_cache and name in result.outputs:
                    self._kept[name] = (digest, result.outputs[name])
            self.records[name] = record

    def forget(self) -> None:
        """Forget every run (the cache was emptied)."""
        self.records.clear()
        self._kept.clear()

    def with_kept_outputs(self, dag: Dag, selection: Selection, cache: Cache,
                          planned: Callable[[Dag], Mapping[str, Planned]]) -> Dag:
        """``dag`` where ``--no-cache`` upstreams whose key holds give their kept output.

        A block asked for (a target, forced, or every block of a whole-pipeline run) runs;
        one that is only an upstream of the targets is served its last output in this kernel
        through the cache's memory layer (never the disk) when its key is still that run's.

        Args:
            dag: The notebook's blocks.
            selection: What the run asks for.
            cache: The session's cache.
            planned: Plans a DAG (keys with the run's variables).
        """
        if not self._kept or selection.targets is None:
            return dag
        asked = {*selection.targets, *selection.force}
        closure = dag.upstream_of(list(selection.targets))
        reusable = [s.name for s in closure
                    if s.no_cache and s.name not in asked and s.name in self._kept]
        if not reusable:
            return dag
        try:
            keys = planned(closure)
        except Exception:
            logger.debug("cannot plan the run; --no-cache upstreams run again", exc_info=True)
            return dag
        memory = Cache(None, cache.memory)
        for name in reusable:
            key, value = self._kept[name]
            if keys[name].key.digest == key:
                memory.put(key, value)
                # Its key has no place for --no-cache: the flag only decides whether it runs.
                dag = dag.replace_block(dag[name].replace(no_cache=False))
        return dag

    def last_run(self, key: str) -> LastRun | None:
        """What the run store remembers of the run that made the output of ``key``."""
        found = self._last_runs.get(key)
        if found is not None or key in self._unknown:
            return found
        store = self._store()
        if store is None:
            return None
        try:
            row = store.last_block_runs([key]).get(key)
        except Exception:
            logger.debug("cannot read the run store", exc_info=True)
            return None
        if row is None:
            self._unknown.add(key)
            return None
        finished = row.get("finished_at")
        self._last_runs[key] = found = LastRun(
            row.get("seconds"), row.get("rows"), row.get("cols"),
            dt.datetime.fromisoformat(finished).timestamp() if finished else None)
        return found
