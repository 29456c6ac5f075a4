/**
 * The block graph of one notebook, built from cell sources alone.
 *
 * A value: built once from the `%%block` cells in notebook order, then only
 * read. It answers ordering and selection questions (topological order,
 * upstream_of, downstream_of) and reports every structural problem at once:
 * parse errors, duplicate names, unknown upstreams and cycles.
 */

import { BlockOptions, ParseError, isBlockSource, parseCellSource } from './parser';

export interface CellSource {
  cellId: string;
  source: string;
  /** Position among all the notebook's cells (markdown included), 0-based. */
  index?: number;
}

/** One `%%block` cell. `options` is null when its magic line does not parse. */
export interface BlockNode {
  cellId: string;
  /** Position among the block cells, in notebook order. */
  order: number;
  /** Position among all the notebook's cells, 0-based (`cell N` is `index + 1`). */
  index: number;
  source: string;
  options: BlockOptions | null;
  parseError: ParseError | null;
}

export type ProblemKind = 'parse_error' | 'duplicate_name' | 'unknown_upstream' | 'cycle';

export interface Problem {
  kind: ProblemKind;
  /** The cells the problem is about. */
  cellIds: string[];
  /** Block names involved (for a cycle, its members in order). */
  names: string[];
  message: string;
}

export interface Edge {
  /** Upstream block name. */
  from: string;
  /** Downstream block name. */
  to: string;
  /** The edge is part of a cycle. */
  inCycle: boolean;
}

export interface MissingUpstream {
  name: string;
  referencedBy: string[];
}

export class BlockGraph {
  readonly nodes: readonly BlockNode[];
  readonly edges: readonly Edge[];
  readonly missing: readonly MissingUpstream[];
  readonly problems: readonly Problem[];

  static fromCells(cells: readonly CellSource[]): BlockGraph {
    const nodes: BlockNode[] = [];
    for (const cell of cells) {
      if (!isBlockSource(cell.source)) {
        continue;
      }
      const parsed = parseCellSource(cell.source);
      nodes.push({
        cellId: cell.cellId,
        order: nodes.length,
        index: cell.index ?? nodes.length,
        source: cell.source,
        options: parsed.kind === 'block' ? parsed.options : null,
        parseError: parsed.kind === 'error' ? parsed.error : null
      });
    }
    return new BlockGraph(nodes);
  }

  private constructor(nodes: BlockNode[]) {
    this.nodes = nodes;
    const problems: Problem[] = [];

    for (const node of nodes) {
      if (node.parseError) {
        problems.push({
          kind: 'parse_error',
          cellIds: [node.cellId],
          names: [],
          message: node.parseError.message
        });
      } else if (node.options) {
        const name = node.options.name;
        const first = this._byName.get(name);
        if (first) {
          this._duplicates.set(name, [...(this._duplicates.get(name) ?? [first]), node]);
        } else {
          this._byName.set(name, node);
        }
      }
    }
    for (const [name, dupes] of this._duplicates) {
      problems.push({
        kind: 'duplicate_name',
        cellIds: dupes.map(n => n.cellId),
        names: [name],
        message: `block name '${name}' is used by ${dupes.length} cells; names must be unique`
      });
    }

    const edges: Edge[] = [];
    const missing = new Map<string, string[]>();
    for (const [name, node] of this._byName) {
      const upstreams = node.options!.upstream;
      this._upstreams.set(name, upstreams.filter(u => this._byName.has(u)));
      for (const upstream of upstreams) {
        if (this._byName.has(upstream)) {
          edges.push({ from: upstream, to: name, inCycle: false });
          const down = this._downstreams.get(upstream) ?? [];
          down.push(name);
          this._downstreams.set(upstream, down);
        } else {
          missing.set(upstream, [...(missing.get(upstream) ?? []), name]);
        }
      }
    }
    for (const [upstream, referencedBy] of missing) {
      const near = nearestName(upstream, [...this._byName.keys()]);
      const hint = near ? `; did you mean '${near}'?` : '';
      problems.push({
        kind: 'unknown_upstream',
        cellIds: referencedBy.map(n => this._byName.get(n)!.cellId),
        names: [upstream, ...referencedBy],
        message: `'${referencedBy.join("', '")}' ${referencedBy.length > 1 ? 'name' : 'names'} upstream '${upstream}', which is not a block in this notebook${hint}`
      });
    }

    for (const cycle of this._findCycles()) {
      for (const member of cycle) {
        this._inCycle.add(member);
      }
      const shown = [...cycle, cycle[0]].join(' → ');
      problems.push({
        kind: 'cycle',
        cellIds: cycle.map(n => this._byName.get(n)!.cellId),
        names: cycle,
        message: `cycle: ${shown}`
      });
    }
    for (const edge of edges) {
      edge.inCycle = this._sameCycle(edge.from, edge.to);
    }
    this.edges = edges;
    this.missing = [...missing].map(([name, referencedBy]) => ({ name, referencedBy }));
    this.problems = problems;
    this._order = this._topologicalOrder();
  }

  /** The names of the valid blocks, in notebook order (first of each duplicate). */
  get names(): string[] {
    return [...this._byName.keys()];
  }

  get hasCycle(): boolean {
    return this._inCycle.size > 0;
  }

  /** The first block of that name. */
  byName(name: string): BlockNode | undefined {
    return this._byName.get(name);
  }

  byCell(cellId: string): BlockNode | undefined {
    return this.nodes.find(n => n.cellId === cellId);
  }

  /** The cell's block name, when it is a valid block. */
  nameOfCell(cellId: string): string | null {
    return this.byCell(cellId)?.options?.name ?? null;
  }

  /** Problems that concern a cell. */
  problemsOfCell(cellId: string): Problem[] {
    return this.problems.filter(p => p.cellIds.includes(cellId));
  }

  isDuplicate(cellId: string): boolean {
    return this.problems.some(p => p.kind === 'duplicate_name' && p.cellIds.includes(cellId));
  }

  inCycle(name: string): boolean {
    return this._inCycle.has(name);
  }

  directUpstreams(name: string): string[] {
    return [...(this._upstreams.get(name) ?? [])];
  }

  directDownstreams(name: string): string[] {
    return [...(this._downstreams.get(name) ?? [])];
  }

  /** Every block in a topological order; blocks in a cycle are left out. */
  topologicalOrder(): string[] {
    return [...this._order];
  }

  /** All transitive upstreams of `name`, in topological order, without `name`. */
  upstreamOf(name: string): string[] {
    return this._ordered(this._closure(name, this._upstreams));
  }

  /** All transitive downstreams of `name`, in topological order, without `name`. */
  downstreamOf(name: string): string[] {
    return this._ordered(this._closure(name, this._downstreams));
  }

  private _closure(name: string, next: Map<string, string[]>): Set<string> {
    const seen = new Set<string>();
    const stack = [...(next.get(name) ?? [])];
    while (stack.length) {
      const current = stack.pop()!;
      if (current === name || seen.has(current)) {
        continue;
      }
      seen.add(current);
      stack.push(...(next.get(current) ?? []));
    }
    return seen;
  }

  private _ordered(names: Set<string>): string[] {
    return this._order.filter(n => names.has(n));
  }

  /** Kahn's algorithm, taking the earliest cell first so the order reads like the notebook. */
  private _topologicalOrder(): string[] {
    const remaining = new Map<string, number>();
    for (const name of this._byName.keys()) {
      if (!this._inCycle.has(name)) {
        remaining.set(name, (this._upstreams.get(name) ?? []).length);
      }
    }
    // Blocks downstream of a cycle wait forever; leave them out like the cycle itself.
    const order: string[] = [];
    const ready = [...remaining].filter(([, count]) => count === 0).map(([n]) => n);
    while (ready.length) {
      ready.sort((a, b) => this._byName.get(a)!.order - this._byName.get(b)!.order);
      const name = ready.shift()!;
      order.push(name);
      for (const down of this._downstreams.get(name) ?? []) {
        const count = remaining.get(down);
        if (count === undefined) {
          continue;
        }
        remaining.set(down, count - 1);
        if (count - 1 === 0) {
          ready.push(down);
        }
      }
    }
    return order;
  }

  /** Strongly connected components with more than one member, or a self-loop (Tarjan). */
  private _findCycles(): string[][] {
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const cycles: string[][] = [];
    let counter = 0;

    const visit = (name: string): void => {
      index.set(name, counter);
      low.set(name, counter);
      counter++;
      stack.push(name);
      onStack.add(name);
      for (const down of this._downstreams.get(name) ?? []) {
        if (!index.has(down)) {
          visit(down);
          low.set(name, Math.min(low.get(name)!, low.get(down)!));
        } else if (onStack.has(down)) {
          low.set(name, Math.min(low.get(name)!, index.get(down)!));
        }
      }
      if (low.get(name) === index.get(name)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== name);
        const selfLoop = (this._upstreams.get(name) ?? []).includes(name);
        if (component.length > 1 || selfLoop) {
          component.sort((a, b) => this._byName.get(a)!.order - this._byName.get(b)!.order);
          cycles.push(component);
        }
      }
    };
    for (const name of this._byName.keys()) {
      if (!index.has(name)) {
        visit(name);
      }
    }
    return cycles.sort(
      (a, b) => this._byName.get(a[0])!.order - this._byName.get(b[0])!.order
    );
  }

  private _sameCycle(from: string, to: string): boolean {
    if (!this._inCycle.has(from) || !this._inCycle.has(to)) {
      return false;
    }
    return from === to || this._closure(to, this._downstreams).has(from);
  }

  private _byName = new Map<string, BlockNode>();
  private _duplicates = new Map<string, BlockNode[]>();
  private _upstreams = new Map<string, string[]>();
  private _downstreams = new Map<string, string[]>();
  private _inCycle = new Set<string>();
  private _order: string[];
}

/** The closest known name within a small edit distance, for "did you mean" hints. */
export function nearestName(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)
      );
    }
    previous = current;
  }
  return previous[b.length];
}
