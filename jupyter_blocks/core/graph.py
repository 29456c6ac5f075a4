"""The pipeline DAG: an immutable value of blocks with validation, ordering and selections.

What belongs here: structure only. ``Dag`` knows block names, what each block depends on and
notebook order: a block depends on its upstreams; a callback block on its parents in ``--on``
(it runs after them); a condition block with ``--on`` (Mage's add-on conditional) on the
upstreams of the blocks it gates, and those blocks on it (it runs before them, with their
inputs). It
reports every structural problem at once (duplicates, self-dependencies, unknown upstreams with
"did you mean", each cycle's members), orders blocks with ``graphlib`` (ties broken by notebook
order) and returns sub-DAGs for selections. It knows nothing of execution, caching or I/O.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import GraphError, closest, did_you_mean
from jupyter_blocks.core.problems import Problem


@dataclass(frozen=True)
class Dag:
    """Blocks in notebook (or file) order, with read-only graph methods.

    Attributes:
        blocks: The blocks, in the order they appear in the notebook.
        external: Blocks outside this selection that its blocks may name as upstreams (their
            outputs come from the cache or an earlier run, not from this DAG).
    """

    blocks: tuple[BlockSpec, ...]
    external: frozenset[str] = frozenset()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for position, block in enumerate(self.blocks):
            index.setdefault(block.name, position)
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, blocks: Iterable[BlockSpec]) -> Dag:
        """Build a DAG from blocks in notebook order."""
        return cls(tuple(blocks))

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[BlockSpec]:
        return iter(self.blocks)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> BlockSpec:
        try:
            return self.blocks[self._index[name]]
        except KeyError:
            raise GraphError([f"no block named `{name}`" + did_you_mean(name, self.names)]
                             ) from None

    @property
    def names(self) -> tuple[str, ...]:
        """Block names in notebook order."""
        return tuple(b.name for b in self.blocks)

    def position(self, name: str) -> int:
        """Notebook position of a block (its tie-break rank)."""
        return self._index[name]

    @cached_property
    def _dependencies(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for block in self.blocks:
            listed = found.setdefault(block.name, [])
            listed += [u for u in block.upstream if u not in listed]
            if block.type == "callback":
                listed += [p for p in block.on if p not in listed]
        for block in self.blocks:
            if block.type != "condition" or not block.on:
                continue
            listed = found[block.name]
            for gated in block.on:
                if gated not in self._index:
                    listed.append(gated)  # reported as unknown
                    continue
                listed += [u for u in self[gated].upstream if u not in listed]
                if block.name not in found[gated]:
                    found[gated].append(block.name)
        return {name: tuple(names) for name, names in found.items()}

    def dependencies(self, name: str) -> tuple[str, ...]:
        """The blocks ``name`` waits for (see the module's docstring)."""
        return self._dependencies.get(name, ())

    @cached_property
    def downstream(self) -> dict[str, tuple[str, ...]]:
        """Direct downstream blocks of every block, in notebook order."""
        children: dict[str, list[str]] = {b.name: [] for b in self.blocks}
        for block in self.blocks:
            for parent in self.dependencies(block.name):
                if parent in children and block.name not in children[parent]:
                    children[parent].append(block.name)
        return {name: tuple(kids) for name, kids in children.items()}

    def problems(self) -> list[Problem]:
        """Every structural problem; empty when the DAG is valid."""
        return self._problems()

    def problems_by_block(self) -> dict[str, list[Problem]]:
        """The problems each block is involved in."""
        found: dict[str, list[Problem]] = {}
        for problem in self._problems():
            for name in problem.blocks:
                found.setdefault(name, []).append(problem)
        return found

    def _problems(self) -> list[Problem]:
        found: list[Problem] = []
        seen: dict[str, BlockSpec] = {}
        for block in self.blocks:
            if block.name in seen:
                first = seen[block.name]
                found.append(Problem(
                    "duplicate_name",
                    f"duplicate block name `{block.name}`: {first.origin or 'first'} and "
                    f"{block.origin or 'another block'} both define it; rename one",
                    (block.name,), block.origin or None, block.name))
            seen.setdefault(block.name, block)
        # Suggestions come from the whole notebook, not only this selection.
        known = (*self.names, *sorted(self.external))
        for block in self.blocks:
            if block.name in block.upstream or block.name in block.on:
                found.append(Problem("self_upstream", f"{block.label} lists itself as an upstream",
                                     (block.name,), block.origin or None, block.name))
            found += self._on_problems(block)
            for parent in self.dependencies(block.name):
                if parent not in self._index and parent not in self.external:
                    what = "upstream" if parent in block.upstream else "block in --on"
                    found.append(Problem(
                        "unknown_upstream",
                        f"{block.label} has unknown {what} `{parent}`"
                        + did_you_mean(parent, known),
                        (block.name,), block.origin or None, parent, closest(parent, known)))
        for cycle in self.cycles():
            path = " -> ".join([*(self._named(name) for name in cycle), cycle[0]])
            found.append(Problem("cycle", f"cycle between blocks {path}", cycle,
                                 self[cycle[0]].origin or None))
        return found

    def _named(self, name: str) -> str:
        """``a (cell 2)``: a block and where it is, as a cycle's path shows it."""
        origin = self[name].origin
        return f"{name} ({origin})" if origin else name

    def _on_problems(self, block: BlockSpec) -> list[Problem]:
        """``--on`` is for callbacks and conditions; a callback is nobody's upstream."""
        problems: list[Problem] = []
        where = block.origin or None
        if block.on and block.type not in ("callback", "condition"):
            problems.append(Problem(
                "bad_on", f"{block.label} has --on, which is for --type callback (its parents) "
                "or --type condition (the blocks it gates)", (block.name,), where))
        if block.type == "callback" and block.upstream:
            problems.append(Problem(
                "bad_on", f"{block.label} is a callback: name the blocks it answers with --on, "
                "not --upstream", (block.name,), where))
        for upstream in block.upstream:
            if upstream in self._index and self[upstream].type == "callback":
                problems.append(Problem(
                    "bad_on", f"{block.label} has callback `{upstream}` as an upstream; a "
                    "callback has no output to pass on", (block.name,), where, upstream))
        return problems

    def validate(self) -> Dag:
        """Return self if valid, else raise ``GraphError`` listing every problem."""
        problems = self.problems()
        if problems:
            raise GraphError(problems)
        return self

    def cycles(self) -> list[tuple[str, ...]]:
        """Members of each cycle (strongly connected components of 2+ blocks), in notebook order."""
        graph = {b.name: [u for u in self.dependencies(b.name) if u in self._index and u != b.name]
                 for b in self.blocks}
        return [tuple(sorted(c, key=self.position)) for c in _components(graph) if len(c) > 1]

    def order(self) -> tuple[str, ...]:
        """Topological order, ties broken by notebook order. Raises ``GraphError`` if invalid."""
        self.validate()
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
            {b.name: [u for u in self.dependencies(b.name) if u in self._index]
             for b in self.blocks}
        )
        sorter.prepare()
        ready: list[tuple[int, str]] = []
        ordered: list[str] = []
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (self.position(name), name))
            _, name = heapq.heappop(ready)
            ordered.append(name)
            sorter.done(name)
        return tuple(ordered)

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """All blocks the given ones depend on, transitively (not including them)."""
        found: set[str] = set()
        stack = [u for n in names for u in self.dependencies(n)]
        while stack:
            name = stack.pop()
            if name not in found and name in self._index:
                found.add(name)
                stack.extend(self.dependencies(name))
        return found

    def descendants(self, names: Iterable[str]) -> set[str]:
        """All blocks that depend on the given ones, transitively (not including them)."""
        found: set[str] = set()
        stack = [d for n in names for d in self.downstream.get(n, ())]
        while stack:
            name = stack.pop()
            if name not in found:
                found.add(name)
                stack.extend(self.downstream.get(name, ()))
        return found

    def subset(self, names: Iterable[str]) -> Dag:
        """The sub-DAG of the given blocks, in notebook order."""
        wanted = set(names)
        for name in wanted:
            self[name]
        outside = (set(self._index) - wanted) | self.external
        return Dag(tuple(b for b in self.blocks if b.name in wanted), frozenset(outside))

    def upstream_of(self, names: str | Sequence[str]) -> Dag:
        """The given blocks and everything they depend on."""
        names = [names] if isinstance(names, str) else list(names)
        return self.subset({*names, *self.ancestors(names)})

    def downstream_of(self, names: str | Sequence[str]) -> Dag:
        """The given blocks and everything that depends on them."""
        names = [names] if isinstance(names, str) else list(names)
        return self.subset({*names, *self.descendants(names)})

    def replace_block(self, block: BlockSpec) -> Dag:
        """A DAG with ``block`` replacing the block of the same name, or appended."""
        if block.name in self._index:
            position = self._index[block.name]
            blocks = (*self.blocks[:position], block, *self.blocks[position + 1:])
            return Dag(blocks, self.external)
        return Dag((*self.blocks, block), self.external - {block.name})

    def to_mermaid(self, states: dict[str, str] | None = None,
                   types: dict[str, str | None] | None = None) -> str:
        """The DAG as a Mermaid flowchart; ``states`` (block -> state) colours the nodes."""
        lines = ["flowchart TD"]
        for block in self.blocks:
            kind = (types or {}).get(block.name) or block.type or "block"
            lines.append(f'    {block.name}["{block.name}<br/><small>{kind}</small>"]')
        for block in self.blocks:
            for parent in self.dependencies(block.name):
                if parent in self._index:
                    lines.append(f"    {parent} --> {block.name}")
                else:
                    lines.append(f'    missing_{parent}["{parent} (missing)"]:::failed')
                    lines.append(f"    missing_{parent} -.-> {block.name}")
        colours = {
            "fresh": "fill:#d4edda,stroke:#28a745",
            "cached": "fill:#d4edda,stroke:#28a745",
            "stale": "fill:#fff3cd,stroke:#ffc107",
            "failed": "fill:#f8d7da,stroke:#dc3545",
            "skipped": "fill:#e2e3e5,stroke:#6c757d",
            "never_run": "fill:#ffffff,stroke:#6c757d",
        }
        for state, style in colours.items():
            lines.append(f"    classDef {state} {style}")
        for name, state in (states or {}).items():
            if name in self._index and state in colours:
                lines.append(f"    class {name} {state}")
        return "\n".join(lines)


def _components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components
