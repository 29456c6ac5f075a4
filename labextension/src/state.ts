/**
 * Block states as the kernel reports them: its snapshots and run events, kept by block name in
 * `LiveStates`, with the source each block last ran with. What a badge shows is derived from
 * them and the current sources in `derive.ts`.
 *
 * A block served from the cache keeps what was known of the output it was served (its state,
 * time and rows) when the key is the same, so a cached upstream never flickers through
 * "cached · 0 ms".
 *
 * Pure: no JupyterLab imports.
 */

import { BlockStateName, KernelBlockState, RunEvent, StaleReason } from './protocol';

export type {
  BlockStateName,
  KernelBlockState,
  KernelMessage,
  RunEvent,
  RunEventName,
  StaleReason
} from './protocol';

/** A block that fans out: how many children, and how many ran, failed, were skipped. */
export interface ChildTally {
  total: number;
  ran: number;
  failed: number;
  skipped: number;
}

/** The block a run node belongs to: `per_zone:3` and `notify@load` are nodes of blocks. */
export function blockOfNode(name: string): string {
  return name.split(':', 1)[0].split('@', 1)[0];
}

interface Known {
  state: BlockStateName;
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  detail: string | null;
  key: string | null;
  finished: number | null;
  cause: string | null;
  startedAt: number | null;
  poke?: number;
  next?: number;
  attempt?: number;
  children?: ChildTally;
}

export const DONE = new Set<BlockStateName>(['fresh', 'cached']);
/** States that follow from the code that last ran: an edit makes them stale. */
export const FROM_CODE = new Set<BlockStateName>(['fresh', 'cached', 'failed']);

function known(partial: Partial<Known> & { state: BlockStateName }): Known {
  return {
    reason: null,
    seconds: null,
    rows: null,
    cols: null,
    detail: null,
    key: null,
    finished: null,
    cause: null,
    startedAt: null,
    ...partial
  };
}

/** The kernel's view of the blocks, plus the source each block last ran with. */
export class LiveStates {
  /**
   * Replace everything with a kernel snapshot. `sourceOf` gives a block's source today: the
   * first sight of a block that has run is taken to have run with it (e.g. after a reload).
   */
  applySnapshot(blocks: readonly KernelBlockState[], sourceOf: (name: string) => string | undefined): void {
    const next = new Map<string, Known>();
    for (const block of blocks) {
      const previous = this._known.get(block.name);
      next.set(
        block.name,
        known({
          state: block.state,
          reason: block.reason ?? null,
          seconds: block.seconds ?? null,
          rows: block.rows ?? null,
          cols: block.cols ?? null,
          detail: block.error ?? null,
          key: block.key ?? null,
          finished: block.finished ?? null,
          cause: block.cause ?? null,
          startedAt: block.state === 'running' ? previous?.startedAt ?? Date.now() : null
        })
      );
      if (FROM_CODE.has(block.state) && !this._ranWith.has(block.name)) {
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

  /**
   * Apply one live run event. `ranWith` gives the source each block of the event's run has
   * (the notebook as it was when the run's execution was sent). Returns whether anything changed.
   */
  applyEvent(event: RunEvent, ranWith: (name: string) => string | undefined, now: number = Date.now()): boolean {
    if (event.event === 'run_started') {
      // A block with an output is not shown queued: it is served from the cache, or shows
      // running when it runs after all (never "fresh, queued, fresh" for a cached upstream).
      const waiting = (event.blocks ?? []).filter(name => !DONE.has(this._known.get(name)?.state ?? 'never_run'));
      for (const name of waiting) {
        this._runQueue.set(name, event.run_id);
        this._queue(name);
      }
      return waiting.length > 0;
    }
    if (event.event === 'run_finished') {
      let changed = false;
      for (const [name, runId] of [...this._runQueue]) {
        if (runId === event.run_id) {
          this._runQueue.delete(name);
          changed = true;
        }
      }
      return changed;
    }
    const name = event.block;
    if (!name) {
      return false;
    }
    if (event.event === 'children_started') {
      const previous = this._known.get(name);
      const tally = { total: event.children?.length ?? 0, ran: 0, failed: 0, skipped: 0 };
      this._known.set(
        name,
        known({
          state: 'running',
          seconds: previous?.seconds ?? null,
          key: previous?.key ?? null,
          startedAt: previous?.startedAt ?? now,
          children: tally
        })
      );
      return true;
    }
    if (name.includes('@')) {
      return false; // a callback's run does not change its parent's badge
    }
    if (name.includes(':')) {
      return this._applyChildEvent(blockOfNode(name), event);
    }
    const wasQueued = this._settle(name);
    const previous = this._known.get(name);
    const remember = () => {
      const source = ranWith(name);
      if (source !== undefined) {
        this._ranWith.set(name, source);
      }
    };
    switch (event.event) {
      case 'block_started':
        this._known.set(
          name,
          known({
            state: 'running',
            seconds: previous?.seconds ?? null,
            rows: previous?.rows ?? null,
            cols: previous?.cols ?? null,
            key: previous?.key ?? null,
            finished: previous?.finished ?? null,
            startedAt: now
          })
        );
        return true;
      case 'block_finished':
        this._known.set(
          name,
          known({
            state: 'fresh',
            seconds: event.seconds ?? null,
            rows: event.rows ?? null,
            cols: event.cols ?? null,
            key: event.key ?? null,
            finished: event.time ?? now / 1000
          })
        );
        remember();
        return true;
      case 'block_cached': {
        const same = previous && previous.key !== null && previous.key === event.key;
        if (same && DONE.has(previous.state)) {
          // The output it already had: nothing new to show.
          remember();
          return wasQueued;
        }
        this._known.set(
          name,
          known({
            state: 'cached',
            // The time of the run that made the output, when known; never the 0 s of serving it.
            seconds: same ? previous.seconds : null,
            rows: event.rows ?? null,
            cols: event.cols ?? null,
            key: event.key ?? null,
            finished: same ? previous.finished : null
          })
        );
        remember();
        return true;
      }
      case 'block_failed':
        this._known.set(
          name,
          known({
            state: 'failed',
            seconds: event.seconds ?? null,
            detail: event.error ?? null,
            key: previous?.key ?? null,
            finished: event.time ?? now / 1000
          })
        );
        remember();
        return true;
      case 'block_skipped':
        this._known.set(
          name,
          known({ state: 'skipped', detail: event.reason ?? null, cause: event.cause ?? null, key: previous?.key ?? null })
        );
        return true;
      case 'block_waiting':
        this._known.set(
          name,
          known({
            state: 'waiting',
            seconds: previous?.seconds ?? null,
            rows: previous?.rows ?? null,
            cols: previous?.cols ?? null,
            key: previous?.key ?? null,
            startedAt: previous?.startedAt ?? now,
            poke: event.poke ?? 0,
            next: (event.next_poke ?? 0) * 1000
          })
        );
        return true;
      case 'block_retrying':
        this._known.set(
          name,
          known({
            state: 'retrying',
            seconds: previous?.seconds ?? null,
            key: previous?.key ?? null,
            detail: event.error ?? null,
            attempt: (event.attempt ?? 1) + 1,
            next: ((event.time ?? now / 1000) + (event.delay ?? 0)) * 1000
          })
        );
        return true;
      default:
        return false;
    }
  }

  /** A child of a block that fans out ran, failed or was skipped: count it on the block. */
  private _applyChildEvent(block: string, event: RunEvent): boolean {
    const found = this._known.get(block);
    if (!found?.children) {
      return false;
    }
    const tally = found.children;
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
      found.state = tally.failed ? 'failed' : tally.ran ? 'fresh' : 'skipped';
      found.startedAt = null;
    }
    return true;
  }

  /** A block cell was sent for execution: it is queued until its run reaches it or the execution ends. */
  cellQueued(name: string): void {
    this._queue(name);
    this._cellQueue.set(name, (this._cellQueue.get(name) ?? 0) + 1);
  }

  /** A block cell's execution ended (ran, failed or was cancelled). */
  cellDone(name: string): void {
    const count = (this._cellQueue.get(name) ?? 1) - 1;
    if (count > 0) {
      this._cellQueue.set(name, count);
    } else {
      this._cellQueue.delete(name);
    }
  }

  /** Whether the block waits to run: its cell or its run is queued and has not reached it yet. */
  isQueued(name: string): boolean {
    const queued = this._queuedAt.get(name);
    if (queued === undefined || !(this._cellQueue.has(name) || this._runQueue.has(name))) {
      return false;
    }
    return queued > (this._settledAt.get(name) ?? -1);
  }

  /** Forget everything (kernel restarted or changed). */
  clear(): void {
    this._known.clear();
    this._ranWith.clear();
    this._cellQueue.clear();
    this._runQueue.clear();
    this._queuedAt.clear();
    this._settledAt.clear();
  }

  get(name: string): Known | undefined {
    return this._known.get(name);
  }

  ranWith(name: string): string | undefined {
    return this._ranWith.get(name);
  }

  get isEmpty(): boolean {
    return this._known.size === 0 && this._cellQueue.size === 0;
  }

  private _queue(name: string): void {
    this._queuedAt.set(name, ++this._clock);
  }

  /** The block's run reached it; returns whether it was queued. */
  private _settle(name: string): boolean {
    const wasQueued = this.isQueued(name);
    this._settledAt.set(name, ++this._clock);
    this._runQueue.delete(name);
    return wasQueued;
  }

  private _known = new Map<string, Known>();
  private _ranWith = new Map<string, string>();
  private _cellQueue = new Map<string, number>();
  private _runQueue = new Map<string, string>();
  private _queuedAt = new Map<string, number>();
  private _settledAt = new Map<string, number>();
  private _clock = 0;
}
