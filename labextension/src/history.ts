/**
 * What the Runs panel says about a run (pure, unit tested): what started it and what its blocks did.
 *
 * A notebook run is recorded with the cell or the `%blocks` line that started
 * it (`notebook · cell 5 · %%block clean`, `notebook · %blocks run --all`, the
 * Run Pipeline command's run); a headless run with how it was started
 * (`manual` is `jupyter-blocks run`).
 */

import { formatSeconds } from './describe';

/** A block run as the run list carries it. */
export interface BlockRunSummary {
  block: string;
  status?: string | null;
  seconds?: number | null;
  attempt?: number | null;
}

const HEADLESS: Record<string, string> = {
  manual: 'jupyter-blocks run',
  notebook: 'notebook'
};

/** `schedule:daily`, `api:hook`, `backfill:3f2a61c0b9d4`: what the orchestration started. */
const STARTED_BY: Record<string, string> = {
  schedule: 'trigger',
  api: 'API trigger',
  backfill: 'backfill'
};

/** The trigger as the panel shows it: the cell or command that started the run. */
export function describeTrigger(trigger: string | null | undefined): string {
  if (!trigger) {
    return '';
  }
  const parts = trigger.split(' · ');
  if (parts[0] === 'notebook' && parts.length > 1) {
    return parts.slice(1).join(' · ');
  }
  const [kind, name] = trigger.split(':', 2);
  if (name && STARTED_BY[kind]) {
    return `${STARTED_BY[kind]} ${name}`;
  }
  return HEADLESS[trigger] ?? trigger;
}

/**
 * A block's name in a run's detail: with its attempt when it was retried
 * (`clean · attempt 2`), so every attempt's error shows beside its number.
 */
export function attemptLabel(block: BlockRunSummary, attempts: number): string {
  return attempts > 1 ? `${block.block} · attempt ${block.attempt ?? 1}` : block.block;
}

/** Each block once, with its last attempt, in the order the blocks first started. */
export function lastAttempts<T extends BlockRunSummary>(blocks: readonly T[]): T[] {
  const last = new Map<string, T>();
  for (const block of blocks) {
    last.delete(block.block);
    last.set(block.block, block);
  }
  const order = [...new Set(blocks.map(b => b.block))];
  return order.map(name => last.get(name)!);
}

/** `2 ran · 1 cached · 1 failed · 1 skipped`. */
export function summarizeBlocks(blocks: readonly BlockRunSummary[]): string {
  const counts = new Map<string, number>();
  for (const block of lastAttempts(blocks)) {
    const status = block.status ?? 'unknown';
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  const order = ['ran', 'cached', 'failed', 'skipped', 'running', 'interrupted'];
  const known = order.filter(s => counts.has(s)).map(s => `${counts.get(s)} ${s}`);
  const other = [...counts].filter(([s]) => !order.includes(s)).map(([s, n]) => `${n} ${s}`);
  return [...known, ...other].join(' · ');
}

/** One block's line under its run: `load · ran · 120 ms`; a cached block took no time of its own. */
export function blockLine(block: BlockRunSummary): string {
  return [block.block, block.status ?? '', blockTime(block)].filter(Boolean).join(' · ');
}

/** How long a block ran in a run (`''` for one served from the cache). */
export function blockTime(block: BlockRunSummary): string {
  return block.status === 'cached' ? '' : formatSeconds(block.seconds ?? null) ?? '';
}
