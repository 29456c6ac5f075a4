/**
 * Graph layout for the DAG panel, computed by dagre.
 *
 * Turns a `BlockGraph` into positioned boxes and edge polylines: one box per
 * block cell (duplicates and unparsable cells included, so they can be shown
 * as errors), one dashed box per unknown upstream; and the lines a box
 * shows. Pure: no DOM.
 */

import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';

import { describeState, describeStats } from './describe';
import { BlockGraph } from './graph';
import { effectiveBlockType, firstLine } from './parser';
import { DerivedState } from './derive';

export type NodeKind = 'block' | 'invalid' | 'missing';

export interface LaidOutNode {
  /** Cell id for cells; `missing:<name>` for unknown upstreams. */
  id: string;
  cellId: string | null;
  kind: NodeKind;
  name: string;
  subtitle: string;
  inCycle: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidOutEdge {
  from: string;
  to: string;
  points: Array<{ x: number; y: number }>;
  inCycle: boolean;
  toMissing: boolean;
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
}

export type Direction = 'TB' | 'LR';

/** Three lines: the name, the state in words, the last run's time and rows (else the type). */
export const NODE_HEIGHT = 58;
const NODE_MIN_WIDTH = 190;
const CHAR_WIDTH = 7.5;

export function layoutGraph(graph: BlockGraph, direction: Direction = 'TB'): GraphLayout {
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: direction, nodesep: 24, ranksep: 36, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));

  const nodes = new Map<string, Omit<LaidOutNode, 'x' | 'y'>>();
  const add = (node: Omit<LaidOutNode, 'x' | 'y' | 'width' | 'height'>) => {
    const width = Math.max(NODE_MIN_WIDTH, Math.ceil(Math.max(node.name.length, node.subtitle.length) * CHAR_WIDTH) + 28);
    const full = { ...node, width, height: NODE_HEIGHT };
    nodes.set(node.id, full);
    g.setNode(node.id, { width, height: NODE_HEIGHT });
  };

  for (const node of graph.nodes) {
    const options = node.options;
    const valid = options !== null && !graph.isDuplicate(node.cellId);
    add({
      id: node.cellId,
      cellId: node.cellId,
      kind: valid ? 'block' : 'invalid',
      name: options?.name ?? truncate(firstLine(node.source).replace(/^%%block\s*/, ''), 24) ?? '?',
      subtitle: options
        ? valid
          ? effectiveBlockType(options, node.source) ?? (options.lang === 'python' ? 'block' : options.lang)
          : 'duplicate name'
        : node.parseError?.code.replace(/_/g, ' ') ?? 'invalid',
      inCycle: options !== null && graph.inCycle(options.name)
    });
  }
  for (const missing of graph.missing) {
    add({
      id: `missing:${missing.name}`,
      cellId: null,
      kind: 'missing',
      name: missing.name,
      subtitle: 'unknown upstream',
      inCycle: false
    });
  }

  const edges: Array<Omit<LaidOutEdge, 'points'>> = [];
  for (const edge of graph.edges) {
    edges.push({
      from: graph.byName(edge.from)!.cellId,
      to: graph.byName(edge.to)!.cellId,
      inCycle: edge.inCycle,
      toMissing: false
    });
  }
  for (const missing of graph.missing) {
    for (const user of missing.referencedBy) {
      edges.push({
        from: `missing:${missing.name}`,
        to: graph.byName(user)!.cellId,
        inCycle: false,
        toMissing: true
      });
    }
  }
  for (const edge of edges) {
    g.setEdge(edge.from, edge.to);
  }

  dagreLayout(g);

  const label = g.graph();
  return {
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
    nodes: [...nodes.values()].map(node => {
      const placed = g.node(node.id);
      return { ...node, x: placed.x, y: placed.y };
    }),
    edges: edges.map(edge => ({
      ...edge,
      points: (g.edge(edge.from, edge.to)?.points ?? []).map(p => ({ x: p.x, y: p.y }))
    }))
  };
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text || '?';
}

/** What a graph node says: its name, its state in words, the last run's time and rows (else its type). */
export interface NodeLines {
  name: string;
  state: string;
  details: string;
}

/** Average width of a character of the node's smaller lines, in pixels. */
const SMALL_CHAR_WIDTH = 5.5;

export function nodeLines(node: LaidOutNode, state: DerivedState | undefined, now: number = Date.now()): NodeLines {
  if (node.kind !== 'block' || node.inCycle || !state) {
    return { name: node.name, state: node.inCycle ? 'in a cycle' : node.subtitle, details: '' };
  }
  const room = Math.floor((node.width - 20) / SMALL_CHAR_WIDTH);
  const details = describeStats(state, now) || node.subtitle;
  return {
    name: fitText(node.name, Math.floor((node.width - 20) / CHAR_WIDTH)),
    state: fitText(describeState(state), room),
    details: fitText(details, room)
  };
}

/** `text`, cut to `length` characters with an ellipsis. */
export function fitText(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, Math.max(1, length - 1))}…` : text;
}
