/**
 * Block states: what the kernel reports, layered over what the sources say.
 *
 * The kernel's snapshots and run events are kept by block name in
 * `LiveStates`; `deriveStates` projects them onto the current graph. A block
 * whose source differs from the source that last ran is stale ("code") right
 * away, and everything downstream of a stale block is stale ("upstream"),
 * without waiting for the kernel. Pure: no JupyterLab imports.
 */

import { BlockGraph } from './graph';

export type BlockStateName =
  | 'never_run'
  | 'fresh'
  | 'stale'
  | 'failed'
  | 'running'
  | 'waiting'
  | 'retrying'
  | 'cached'
  | 'skipped';

export type StaleReason = 'code' | 'upstream' | 'variables';

/** One entry of the kernel's `state` snapshot. */
export interface KernelBlockState {
  name: string;
  cell_id: string | null;
  state: BlockStateName;
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  error: string | null;
}

export type RunEventName =
  | 'run_started'
  | 'block_started'
  | 'block_cached'
  | 'block_finished'
  | 'block_failed'
  | 'block_skipped'
  | 'block_waiting'
  | 'block_retrying'
  | 'children_started'
  | 'run_finished';

/**
 * A runner event as the kernel forwards it (Python's `Event.to_dict`, without the traceback).
 * The shapes are pinned by the vectors in `tests/data/comm_messages.json`.
 */
export interface RunEvent {
  event: RunEventName;
  run_id: string;
  time?: number;
  block?: string;
  pipeline?: string;
  blocks?: string[];
  trigger?: string;
  attempt?: number;
  type?: string;
  key?: string;
  layer?: string;
  seconds?: number | null;
  rows?: number | null;
  cols?: number | null;
  tests_passed?: number;
  tests_total?: number;
  error?: string | null;
  reason?: string | null;
  cause?: string;
  output?: string;
  status?: string;
  why?: string;
  answer?: boolean;
  poke?: number;
  next_poke?: number;
  waited?: number;
  timeout?: number;
  delay?: number;
  parent?: string;
  children?: string[];
}

export type KernelMessage =
  | { type: 'state'; blocks: KernelBlockState[] }
  | { type: 'event'; event: RunEvent };

/** What a badge and a graph node show. `invalid` is local: the cell does not define a usable block. */
export interface DerivedState {
  state: BlockStateName | 'invalid';
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  /** Error message (failed, invalid) or why the block did not run (skipped). */
  detail: string | null;
  /** A waiting sensor's poke count and next poke (epoch ms); a retry's next attempt. */
  poke?: number;
  next?: number;
  attempt?: number;
  /** A block that fans out: how many children, and how many ran, failed, were skipped. */
  children?: ChildTally;
}

export interface ChildTally {
  total: number;
  ran: number;
  failed: number;
  skipped: number;
}

interface Known {
  state: BlockStateName;
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  detail: string | null;
  poke?: number;
  next?: number;
  attempt?: number;
  children?: ChildTally;
}

/** The block a run node belongs to: `per_zone:3` and `notify@load` are nodes of blocks. */
export function blockOfNode(name: string): string {
  return name.split(':', 1)[0].split('@', 1)[0];
}

const DONE = new Set<BlockStateName>(['fresh', 'cached']);

/** The kernel's view of the blocks, plus the source each block last ran with. */
export class LiveStates {
  /** Replace everything with a kernel snapshot. */
  applySnapshot(blocks: readonly KernelBlockState[], sourceOf: (name: string) => string | undefined): void {
    const next = new Map<string, Known>();
    for (const block of blocks) {
      const previous = this._known.get(block.name);
      if (previous?.state === 'skipped' && (block.state === 'stale' || block.state === 'never_run')) {
        // "Not run because X failed" says more than "stale" until the block runs again.
        next.set(block.name, previous);
        continue;
      }
      next.set(block.name, {
        state: block.state,
        reason: block.reason ?? null,
        seconds: block.seconds ?? null,
        rows: block.rows ?? null,
        cols: block.cols ?? null,
        detail: block.error ?? null
      });
      if (DONE.has(block.state) && !this._ranWith.has(block.name)) {
        // First sight of a finished block (e.g. after a page reload): assume it ran with today's source.
        const source = sourceOf(block.name);
        if (source !== undefined) {
          this._ranWith.set(block.name, source);
        }
      } else if (block.state === 'never_run') {
        this._ranWith.delete(block.name);
      }
    }
    this._known = next;
  }

  /** Apply one live run event. Returns whether anything changed. */
  applyEvent(event: RunEvent, sourceOf: (name: string) => string | undefined): boolean {
    const name = event.block;
    if (!name) {
      return false;
    }
    if (event.event === 'children_started') {
      const known = this._known.get(name);
      const tally = { total: event.children?.length ?? 0, ran: 0, failed: 0, skipped: 0 };
      this._known.set(name, {
        state: 'running',
        reason: null,
        seconds: known?.seconds ?? null,
        rows: null,
        cols: null,
        detail: null,
        children: tally
      });
      return true;
    }
    if (name.includes('@')) {
      return false; // a callback's run does not change its parent's badge
    }
    if (name.includes(':')) {
      return this._applyChildEvent(blockOfNode(name), event);
    }
    const previous = this._known.get(name);
    const timing = {
      seconds: event.seconds ?? null,
      rows: event.rows ?? null,
      cols: event.cols ?? null
    };
    switch (event.event) {
      case 'block_started':
        this._known.set(name, {
          state: 'running',
          reason: null,
          seconds: previous?.seconds ?? null,
          rows: previous?.rows ?? null,
          cols: previous?.cols ?? null,
          detail: null
        });
        return true;
      case 'block_finished':
      case 'block_cached': {
        this._known.set(name, {
          state: event.event === 'block_finished' ? 'fresh' : 'cached',
          reason: null,
          ...timing,
          detail: null
        });
        // A block run as someone's upstream runs the code its cell last executed, not
        // today's edits: only its own execution (or a first sight) moves the baseline.
        const source = this._executing.get(name) ?? (this._ranWith.has(name) ? undefined : sourceOf(name));
        if (source !== undefined) {
          this._ranWith.set(name, source);
        }
        return true;
      }
      case 'block_failed':
        this._known.set(name, { state: 'failed', reason: null, ...timing, detail: event.error ?? null });
        this._ranWith.delete(name);
        return true;
      case 'block_skipped':
        this._known.set(name, {
          state: 'skipped',
          reason: null,
          seconds: null,
          rows: null,
          cols: null,
          detail: event.reason ?? null
        });
        return true;
      case 'block_waiting':
        this._known.set(name, {
          state: 'waiting',
          reason: null,
          seconds: previous?.seconds ?? null,
          rows: previous?.rows ?? null,
          cols: previous?.cols ?? null,
          detail: null,
          poke: event.poke ?? 0,
          next: (event.next_poke ?? 0) * 1000
        });
        return true;
      case 'block_retrying':
        this._known.set(name, {
          state: 'retrying',
          reason: null,
          seconds: previous?.seconds ?? null,
          rows: previous?.rows ?? null,
          cols: previous?.cols ?? null,
          detail: event.error ?? null,
          attempt: (event.attempt ?? 1) + 1,
          next: ((event.time ?? Date.now() / 1000) + (event.delay ?? 0)) * 1000
        });
        return true;
      default:
        return false;
    }
  }

  /** A child of a block that fans out ran, failed or was skipped: count it on the block. */
  private _applyChildEvent(block: string, event: RunEvent): boolean {
    const known = this._known.get(block);
    if (!known?.children) {
      return false;
    }
    const tally = known.children;
    if (event.event === 'block_finished' || event.event === 'block_cached') {
      tally.ran += 1;
    } else if (event.event === 'block_failed') {
      tally.failed += 1;
    } else if (event.event === 'block_skipped') {
      tally.skipped += 1;
    } else {
      return false;
    }
    const settled = tally.ran + tally.failed + tally.skipped;
    if (settled >= tally.total) {
      known.state = tally.failed ? 'failed' : tally.ran ? 'fresh' : 'skipped';
    }
    return true;
  }

  /** A block's cell was sent for execution with `source`. */
  executionStarted(name: string, source: string): void {
    this._executing.set(name, source);
  }

  executionEnded(name: string): void {
    this._executing.delete(name);
  }

  /** Forget everything (kernel restarted or changed). */
  clear(): void {
    this._known.clear();
    this._ranWith.clear();
    this._executing.clear();
  }

  get(name: string): Known | undefined {
    return this._known.get(name);
  }

  ranWith(name: string): string | undefined {
    return this._ranWith.get(name);
  }

  get isEmpty(): boolean {
    return this._known.size === 0;
  }

  private _known = new Map<string, Known>();
  private _ranWith = new Map<string, string>();
  private _executing = new Map<string, string>();
}

/** Edits that cannot change what a block computes do not make it stale. */
export function normalizeSource(source: string): string {
  return source
    .split(/\r?\n/)
    .map(line => line.replace(/\s+$/, ''))
    .join('\n')
    .trim();
}

/** The state of every block cell of `graph`, keyed by cell id. */
export function deriveStates(graph: BlockGraph, live: LiveStates): Map<string, DerivedState> {
  const byName = new Map<string, DerivedState>();
  for (const name of graph.names) {
    const known = live.get(name);
    const state: DerivedState = known
      ? { ...known }
      : { state: 'never_run', reason: null, seconds: null, rows: null, cols: null, detail: null };
    const ranWith = live.ranWith(name);
    const node = graph.byName(name)!;
    if (
      DONE.has(known?.state ?? 'never_run') &&
      ranWith !== undefined &&
      normalizeSource(ranWith) !== normalizeSource(node.source)
    ) {
      state.state = 'stale';
      state.reason = 'code';
    }
    byName.set(name, state);
  }

  // Topological order guarantees every upstream is final before its downstreams.
  for (const name of graph.topologicalOrder()) {
    const state = byName.get(name)!;
    if (!DONE.has(state.state as BlockStateName)) {
      continue;
    }
    if (graph.directUpstreams(name).some(up => byName.get(up)?.state === 'stale')) {
      state.state = 'stale';
      state.reason = 'upstream';
    }
  }

  const result = new Map<string, DerivedState>();
  for (const node of graph.nodes) {
    const name = node.options?.name;
    if (node.parseError || !name || graph.isDuplicate(node.cellId)) {
      const problem = graph.problemsOfCell(node.cellId)[0];
      result.set(node.cellId, {
        state: 'invalid',
        reason: null,
        seconds: null,
        rows: null,
        cols: null,
        detail: problem?.message ?? null
      });
    } else {
      result.set(node.cellId, byName.get(name)!);
    }
  }
  return result;
}

/** Short human text for a state, as shown on badges and in the graph's tooltips. */
export function describeState(state: DerivedState, now: number = Date.now()): string {
  if (state.children) {
    const c = state.children;
    const parts = [`×${c.total}`];
    if (c.ran) {
      parts.push(`${c.ran} ran`);
    }
    if (c.failed) {
      parts.push(`${c.failed} failed`);
    }
    if (c.skipped) {
      parts.push(`${c.skipped} skipped`);
    }
    return parts.join(' · ');
  }
  switch (state.state) {
    case 'waiting':
      return `waiting · poke ${state.poke ?? 0} · next in ${secondsUntil(state.next, now)}`;
    case 'retrying':
      return `retrying · attempt ${state.attempt ?? 2} in ${secondsUntil(state.next, now)}`;
    case 'never_run':
      return 'never run';
    case 'stale':
      return state.reason === 'code'
        ? 'stale: code changed'
        : state.reason === 'upstream'
          ? 'stale: upstream changed'
          : state.reason === 'variables'
            ? 'stale: variables changed'
            : 'stale';
    case 'skipped':
      return state.detail ? `skipped: ${state.detail}` : 'skipped';
    case 'invalid':
      return 'invalid';
    default:
      return state.state;
  }
}

function secondsUntil(when: number | undefined, now: number): string {
  const left = Math.max(0, Math.round(((when ?? now) - now) / 1000));
  return `${left} s`;
}

export function formatSeconds(seconds: number | null): string | null {
  if (seconds === null || seconds === undefined) {
    return null;
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

export function formatRows(rows: number | null, cols: number | null): string | null {
  if (rows === null || rows === undefined) {
    return null;
  }
  const shown = `${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`;
  return cols === null || cols === undefined ? shown : `${shown} × ${cols} col${cols === 1 ? '' : 's'}`;
}
