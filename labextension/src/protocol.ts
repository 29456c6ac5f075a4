/**
 * The comm protocol's shapes, as the kernel sends them (Python's `jupyter_blocks.kernel.protocol`).
 *
 * `state` messages carry every block's `BlockState.to_dict()`; `event` messages
 * a runner event's `Event.to_dict()` without its traceback. The page sends a
 * `sync` (see `sync.ts`). The shared vectors in `tests/data/comm_messages.json`
 * pin them for both sides.
 */

export type BlockStateName =
  | 'never_run'
  | 'fresh'
  | 'stale'
  | 'failed'
  | 'running'
  | 'queued'
  | 'waiting'
  | 'retrying'
  | 'cached'
  | 'skipped';

export type StaleReason = 'code' | 'upstream' | 'variables';

/** One entry of the kernel's `state` snapshot (Python's `BlockState.to_dict`). */
export interface KernelBlockState {
  name: string;
  cell_id: string | null;
  state: BlockStateName;
  reason: StaleReason | null;
  seconds: number | null;
  rows: number | null;
  cols: number | null;
  error: string | null;
  type?: string | null;
  upstream?: string[];
  origin?: string;
  /** The block's current cache key. */
  key?: string | null;
  /** When the run that made its output ended (epoch seconds). */
  finished?: number | null;
  /** The failed block a skipped block waits on. */
  cause?: string | null;
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
