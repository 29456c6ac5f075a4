/**
 * What a badge and a graph node show: the kernel's states (`LiveStates`) projected onto the
 * current graph by `deriveStates`:
 *
 * - a block whose source differs from the source its last run used is stale ("code") right
 *   away, failed blocks included, and everything downstream of a stale block is stale
 *   ("upstream"), without waiting for the kernel;
 * - everything downstream of a failed block is skipped ("not run because X failed") until X
 *   succeeds or changes;
 * - a block waiting to run (its cell is queued, or its run has not reached it yet) is queued;
 *   a running block knows when it started.
 *
 * Pure: no JupyterLab imports.
 */

import { BlockGraph } from './graph';
import { BlockStateName, StaleReason } from './protocol';
import { ChildTally, DONE, FROM_CODE, LiveStates } from './state';

/** What a badge and a graph node show. `invalid` is local: the cell does not define a usable block. */
export interface DerivedState {
  state: BlockStateName | 'invalid';
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  /** Error message (failed, invalid) or why the block did not run (skipped). */
  detail: string | null;
  /** When a running block started (ms since the epoch, this browser's clock). */
  startedAt: number | null;
  /** When the run that made the output ended (epoch seconds). */
  finished: number | null;
  /** The failed block a skipped block waits on. */
  cause: string | null;
  /** A waiting sensor's poke count and next poke (epoch ms); a retry's next attempt. */
  poke?: number;
  next?: number;
  attempt?: number;
  /** A block that fans out: how many children, and how many ran, failed, were skipped. */
  children?: ChildTally;
}

/** States of a block that is no longer failed: what was skipped because of it is not any more. */
const MOVED_ON = new Set<BlockStateName>(['fresh', 'cached', 'stale', 'running', 'queued']);
/** Edits that cannot change what a block computes do not make it stale. */
export function normalizeSource(source: string): string {
  return source
    .split(/\r?\n/)
    .map(line => line.replace(/\s+$/, ''))
    .join('\n')
    .trim();
}

/** The state of a block the kernel has never run. */
export const NEVER_RUN: DerivedState = {
  state: 'never_run',
  reason: null,
  seconds: null,
  rows: null,
  cols: null,
  detail: null,
  startedAt: null,
  finished: null,
  cause: null
};

/** The state of every block cell of `graph`, keyed by cell id. */
export function deriveStates(graph: BlockGraph, live: LiveStates): Map<string, DerivedState> {
  const byName = new Map<string, DerivedState>();
  for (const name of graph.names) {
    const found = live.get(name);
    const state: DerivedState = found
      ? {
          state: found.state,
          reason: found.reason,
          seconds: found.seconds,
          rows: found.rows,
          cols: found.cols,
          detail: found.detail,
          startedAt: found.startedAt,
          finished: found.finished,
          cause: found.cause,
          poke: found.poke,
          next: found.next,
          attempt: found.attempt,
          children: found.children ? { ...found.children } : undefined
        }
      : { ...NEVER_RUN };
    const ranWith = live.ranWith(name);
    const node = graph.byName(name)!;
    if (
      FROM_CODE.has(found?.state ?? 'never_run') &&
      ranWith !== undefined &&
      normalizeSource(ranWith) !== normalizeSource(node.source)
    ) {
      state.state = 'stale';
      state.reason = 'code';
      state.detail = null;
    }
    if (state.state !== 'running' && live.isQueued(name)) {
      state.state = 'queued';
    }
    byName.set(name, state);
  }

  // Topological order guarantees every upstream is final before its downstreams.
  for (const name of graph.topologicalOrder()) {
    const state = byName.get(name)!;
    if (state.state === 'running' || state.state === 'queued' || state.state === 'failed') {
      continue;
    }
    const upstreams = graph.directUpstreams(name).map(up => [up, byName.get(up)] as const);
    const blocked = upstreams.find(([, up]) => up?.state === 'failed' || (up?.state === 'skipped' && up.cause));
    if (blocked) {
      const [upName, up] = blocked;
      const cause = up!.state === 'failed' ? upName : up!.cause!;
      Object.assign(state, { state: 'skipped', reason: null, cause, detail: `not run because ${cause} failed` });
      continue;
    }
    const cause = state.state === 'skipped' && state.cause ? byName.get(state.cause) : undefined;
    if (cause && MOVED_ON.has(cause.state as BlockStateName)) {
      // What it waited on ran or changed since: it no longer follows from its upstreams.
      Object.assign(state, { state: 'stale', reason: 'upstream', cause: null, detail: null });
      continue;
    }
    if (DONE.has(state.state as BlockStateName) && upstreams.some(([, up]) => up?.state === 'stale')) {
      state.state = 'stale';
      state.reason = 'upstream';
    }
  }

  const result = new Map<string, DerivedState>();
  for (const node of graph.nodes) {
    const name = node.options?.name;
    if (node.parseError || !name || graph.isDuplicate(node.cellId)) {
      const problem = graph.problemsOfCell(node.cellId)[0];
      result.set(node.cellId, { ...NEVER_RUN, state: 'invalid', detail: problem?.message ?? null });
    } else {
      result.set(node.cellId, byName.get(name)!);
    }
  }
  return result;
}
