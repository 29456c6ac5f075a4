"""The nodes of one run: created as dynamic blocks fan out, wired to their inputs.

What belongs here: :class:`Wiring`, the bookkeeping the runner core's loop drives. It creates a
node per block at the start (a node per item for dynamic children, once their dynamic upstream
has returned its items; a callback node when its parent has run or failed), knows what each node
waits for and releases it when that is done, decides skips (an upstream failed, a condition
answered false, nothing to fan out), and builds each attempt's task and cache key. When a node
runs is the loop's business; how its steps are recorded and announced is ``announce``'s; what
the nodes add up to is ``outcomes``'.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jupyter_blocks.cache.keys import KeyParts, block_key, canonical
from jupyter_blocks.core.block import GATE_TYPES
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.core.graph import Dag
from jupyter_blocks.project.configuration import configuration_of
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.capture import output_key
from jupyter_blocks.runner.events import Event
from jupyter_blocks.runner.execute import BlockTask
from jupyter_blocks.runner.fanout import (
    child_id,
    child_name,
    gathered,
)
from jupyter_blocks.runner.nodes import DONE, FAILED, RAN, SKIPPED, Node, Source
from jupyter_blocks.runner.plan import Planned, block_variables


class Wiring:
    """Every node of one run, what each waits for, and how each ended."""

    def __init__(self, closure: Dag, planned: dict[str, Planned], dims: dict[str, tuple[str, ...]],
                 variables: dict[str, Any], run_id: str, namespace: Mapping[str, Any] | None,
                 directory: Path | None, emit: Callable[[Event], None]) -> None:
        self.closure, self.planned, self.dims = closure, planned, dims
        self.variables, self.run_id = variables, run_id
        self.namespace, self.directory, self.emit = namespace, directory, emit
        self.nodes: dict[str, Node] = {}
        self.by_path: dict[tuple[str, tuple[int, ...]], str] = {}
        self.instances: dict[str, list[str]] = {name: [] for name in planned}
        self.unsettled: dict[str, int] = {name: 0 for name in planned}
        self.waiting: dict[str, set[str]] = {}
        self.dependents: dict[str, list[str]] = {}
        self.complete: set[str] = set()
        self.gathered: set[str] = set()
        self.items: dict[str, tuple[list[Any], list[dict[str, Any]]]] = {}
        self.children_of: dict[str, list[str]] = {name: [] for name in planned}
        self.callbacks_of: dict[str, list[str]] = {name: [] for name in planned}
        self.gates_of: dict[str, list[str]] = {name: [] for name in planned}
        self.attached: set[str] = set()
        for name in planned:
            spec = closure[name]
            kind = planned[name].type
            if kind in ("callback", "condition") and spec.on:
                self.attached.add(name)
                table = self.callbacks_of if kind == "callback" else self.gates_of
                for parent in spec.on:
                    if parent in table:
                        table[parent].append(name)
            elif dims[name]:
                self.children_of[dims[name][-1]].append(name)

    # -- creating nodes -----------------------------------------------------------------------

    def start(self, skip: Mapping[str, str] | None = None) -> list[str]:
        """Create the nodes of blocks that do not fan out; return those ready to begin.

        Blocks in ``skip`` are skipped at once, with the reason given (why: ``done``).
        """
        ready: list[str] = []
        skip = skip or {}
        for name in self.planned:
            if not self.dims[name] and name not in self.attached:
                self.complete.add(name)
                reason = skip.get(name)
                ready += self._create(name, (), (), reason=reason,
                                      why="done" if reason is not None else None)
        return ready

    def _create(self, block: str, path: tuple[int, ...], ids: tuple[str, ...],
                metadata: dict[str, Any] | None = None, *, reason: str | None = None,
                cause: str | None = None, why: str | None = None) -> list[str]:
        spec = self.planned[block].spec
        sources: list[Source] = []
        if reason is None:
            for upstream in spec.upstream:
                sources.append(self._source(upstream, path))
        elif cause is not None and cause in self.nodes:
            sources.append(Source(self.nodes[cause].block, "value", node=cause))
        name = child_name(block, ids)
        ready: list[str] = []
        if reason is None:
            # Mage's add-on conditions run first, with the inputs of the block they gate.
            for condition in self.gates_of[block]:
                gate = Node(f"{condition}@{name}", condition, path, ids,
                            [s for s in sources if not s.gate], dict(metadata or {}))
                self.nodes[gate.name] = gate
                self.instances[condition].append(gate.name)
                self.unsettled[condition] += 1
                ready += self._wait_for(gate)
                sources.append(Source(condition, "value", node=gate.name, gate=True))
        node = Node(name, block, path, ids, sources, dict(metadata or {}),
                    reason=reason, cause=cause, why=why)
        self.nodes[name] = node
        self.by_path[(block, path)] = name
        self.instances[block].append(name)
        self.unsettled[block] += 1
        return ready + self._wait_for(node)

    def _source(self, upstream: str, path: tuple[int, ...]) -> Source:
        spec = self.closure[upstream]
        gate = self.planned[upstream].type in GATE_TYPES
        if spec.reduce:
            return Source(upstream, "gather", gate=gate)
        shape = self.dims[upstream]
        if spec.dynamic and len(path) > len(shape):
            parent = self.by_path[(upstream, path[: len(shape)])]
            return Source(upstream, "item", node=parent, index=path[len(shape)], gate=gate)
        return Source(upstream, "value", node=self.by_path[(upstream, path[: len(shape)])],
                      gate=gate)

    def _wait_for(self, node: Node) -> list[str]:
        missing = {s.waits_for for s in node.sources if not self._settled(s.waits_for)}
        if not missing:
            return [node.name]
        self.waiting[node.name] = missing
        for dependency in missing:
            self.dependents.setdefault(dependency, []).append(node.name)
        return []

    def _settled(self, dependency: str) -> bool:
        if dependency.endswith(":*"):
            return dependency[:-2] in self.gathered
        return self.nodes[dependency].state == DONE

    # -- after a node is done -----------------------------------------------------------------

    def after(self, node: Node) -> list[str]:
        """Bookkeeping once ``node`` is done; return the nodes that became ready."""
        ready = self._release(node.name)
        self.unsettled[node.block] -= 1
        if node.mode == "run":
            for child in self.children_of[node.block]:
                ready += self._fan_out(node, child)
            if node.outcome in (RAN, FAILED):
                for callback in self.callbacks_of[node.block]:
                    ready += self.callback(node, callback,
                                            "success" if node.outcome == RAN else "failure")
        ready += self._refresh(node.block)
        return ready

    def _release(self, dependency: str) -> list[str]:
        ready = []
        for name in self.dependents.pop(dependency, []):
            missing = self.waiting.get(name)
            if missing is None:
                continue
            missing.discard(dependency)
            if not missing:
                del self.waiting[name]
                ready.append(name)
        return ready

    def _fan_out(self, parent: Node, child: str) -> list[str]:
        """Create ``child``'s nodes for the items of ``parent`` (a dynamic block's node)."""
        if not parent.ok:
            return self._create(child, parent.path, parent.ids, cause=parent.name,
                                reason=parent.reason or f"not run because {parent.name} failed",
                                why=parent.why or "upstream_failed")
        items, metadata = self.items.get(parent.name, ([], []))
        if not items:
            return self._create(child, parent.path, parent.ids, cause=parent.name,
                                reason=f"{parent.name} returned no items to fan out",
                                why="no_items")
        ready: list[str] = []
        names = []
        for index, meta in enumerate(metadata):
            ids = (*parent.ids, child_id(index, meta))
            ready += self._create(child, (*parent.path, index), ids, meta)
            names.append(child_name(child, ids))
        self.emit(ev.ChildrenStarted(run_id=self.run_id, block=child, parent=parent.name,
                                     children=tuple(names)))
        return ready

    def callback(self, parent: Node, block: str, status: str) -> list[str]:
        """Create the node of callback ``block`` for ``parent`` ended with ``status``."""
        name = f"{block}@{parent.name}"
        sources = [Source(parent.block, "value", node=parent.name)] if status == "success" else []
        node = Node(name, block, parent.path, parent.ids, sources, dict(parent.metadata),
                    mode="callback", parent=parent.name, status=status)
        if status == "failure":
            node.error_of_parent = BlockFailed(parent.error or f"{parent.name} failed",
                                               parent.traceback or "")
        self.nodes[name] = node
        self.instances[block].append(name)
        self.unsettled[block] += 1
        return [name]

    def _refresh(self, block: str) -> list[str]:
        """Mark blocks whose nodes are all created (and all done); release what gathers them."""
        ready: list[str] = []
        shape = self.dims[block]
        if block not in self.complete and shape:
            last = shape[-1]
            if last in self.complete and self.unsettled[last] == 0:
                self.complete.add(block)
        if block in self.complete and block not in self.gathered and self.unsettled[block] == 0:
            self.gathered.add(block)
            ready += self._release(f"{block}:*")
        if block in self.complete:
            for child in self.children_of[block]:
                if child not in self.gathered:
                    ready += self._refresh(child)
        return ready

    # -- deciding and recording ---------------------------------------------------------------

    def settle_if_blocked(self, node: Node) -> bool:
        """Skip ``node`` if an upstream failed or was skipped, or a condition said no."""
        reason, cause, why = node.reason, node.cause, node.why
        if reason is None:
            for source in node.sources:
                found = self._blocked_by(source)
                if found is not None:
                    reason, cause, why = found
                    break
        if reason is None:
            node.key = self.key(node)
            return False
        node.outcome, node.reason, node.cause, node.why = SKIPPED, reason, cause, why
        if node.name == node.block:
            node.key = self.planned[node.block].key
        self.emit(ev.BlockSkipped(run_id=self.run_id, block=node.name, reason=reason,
                                  cause=cause, why=why))
        return True

    def _blocked_by(self, source: Source) -> tuple[str, str | None, str | None] | None:
        if source.kind == "gather":
            # A fan-out with no items gathers into an empty list; anything else skipped or
            # failed among the children stops what gathers them.
            members = [self.nodes[n] for n in self.instances[source.block]
                       if self.nodes[n].why != "no_items"]
            for member in members:
                if member.outcome == FAILED or (member.outcome == SKIPPED
                                                and member.why != "condition"):
                    return _propagated(member)
            if members and all(m.outcome == SKIPPED for m in members):
                return _propagated(members[0])
            return None
        upstream = self.nodes[str(source.node)]
        if not upstream.ok:
            return _propagated(upstream)
        if source.gate and upstream.closed:
            return (f"condition {upstream.name} returned False", upstream.name, "condition")
        return None

    def key(self, node: Node) -> KeyParts:
        """The cache key of ``node``: its block's key, or one made from its own inputs."""
        item = self.planned[node.block]
        if node.name == node.block:
            return item.key
        keys = [self._source_key(s) for s in node.sources]
        return block_key(item.spec, item.type, keys, item.info.variables, self._variables(node))

    def _source_key(self, source: Source) -> str:
        if source.kind == "gather":
            return self.planned[source.block].key.digest
        upstream = self.nodes[str(source.node)]
        digest = (upstream.key or self.planned[upstream.block].key).digest
        if source.kind == "value":
            return digest
        items, metadata = self.items[upstream.name]
        assert source.index is not None
        content = canonical([items[source.index], metadata[source.index]])
        return hashlib.sha256(pickle.dumps((digest, source.index, content))).hexdigest()

    def _variables(self, node: Node, attempt: int = 1) -> dict[str, Any]:
        spec = self.planned[node.block].spec
        values = block_variables(self.variables, node.name, attempt, template=node.block,
                                 configuration=configuration_of(spec))
        if node.path:
            values["dynamic_block_index"] = node.path[-1]
        values.update(node.metadata)
        return values

    def task(self, node: Node) -> BlockTask:
        """The task of ``node``'s current attempt (or poke)."""
        item = self.planned[node.block]
        inputs, names = [], []
        for source in node.sources:
            if source.gate:
                continue
            inputs.append(self._input(source))
            names.append(source.block)
        variables = self._variables(node, max(node.attempt, 1))
        if node.error_of_parent is not None:
            variables["__error"] = node.error_of_parent
        if node.parent is not None:
            parent = self.nodes[node.parent]
            variables["parent_block_uuid"] = parent.block
            if node.status == "success":
                # Mage's keyword-only callbacks find the parent's output here.
                variables["__input"] = {parent.block: parent.value, "df_1": parent.value}
        mode = node.mode if node.mode == "callback" else (
            "poke" if item.type == "sensor" else "run")
        return BlockTask(item.spec, item.info, inputs, variables, self.namespace, self.directory,
                         output_key=output_key(self.run_id, node.name), names=tuple(names),
                         mode=mode,
                         status=node.status, block_type=item.type)

    def _input(self, source: Source) -> Any:
        if source.kind == "gather":
            values = [self.nodes[n].value for n in self.ordered(source.block)
                      if self.nodes[n].ok]
            return gathered(values)
        upstream = self.nodes[str(source.node)]
        if source.kind == "item":
            assert source.index is not None
            return self.items[upstream.name][0][source.index]
        return upstream.value

    def ordered(self, block: str) -> list[str]:
        """The nodes of ``block`` (its children, when it fanned out) in item order."""
        return sorted(self.instances[block], key=lambda n: self.nodes[n].path)


def _propagated(upstream: Node) -> tuple[str, str | None, str | None]:
    """Why a node downstream of ``upstream`` (failed or skipped) is skipped."""
    if upstream.outcome == SKIPPED and upstream.reason:
        return upstream.reason, upstream.cause, upstream.why
    return f"not run because {upstream.name} failed", upstream.name, "upstream_failed"


__all__ = ["Wiring"]
