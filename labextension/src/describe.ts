/**
 * Words and numbers for block states (pure, unit tested): what badges, graph
 * nodes and the Runs panel say of a state, its time, its rows and its age.
 */

import { DerivedState } from './derive';

/** Short human text for a state, as shown on badges and graph nodes. */
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
    default:
      return state.state;
  }
}

function secondsUntil(when: number | undefined, now: number): string {
  const left = Math.max(0, Math.round(((when ?? now) - now) / 1000));
  return `${left} s`;
}

/**
 * `120 ms · 3 rows × 2 cols`: the time and shape of the run that made the output; for a running
 * block, how long it has been running (`2.3 s`, at `now`).
 */
export function describeStats(state: DerivedState, now: number = Date.now()): string {
  if (state.state === 'running' || state.state === 'waiting') {
    return state.startedAt === null ? '' : formatSeconds(Math.max(0, now - state.startedAt) / 1000, 1) ?? '';
  }
  if (state.state === 'skipped' || state.state === 'invalid' || state.state === 'queued') {
    return '';
  }
  return [formatSeconds(state.seconds), formatRows(state.rows, state.cols)].filter(Boolean).join(' · ');
}

/** `just now`, `5 min ago`, `3 h ago`, `2 days ago`: when a block's output was made. */
export function formatAgo(finished: number | null, now: number = Date.now()): string | null {
  if (finished === null || finished === undefined) {
    return null;
  }
  const seconds = Math.max(0, now / 1000 - finished);
  if (seconds < 60) {
    return 'just now';
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h ago`;
  }
  const days = Math.floor(seconds / 86400);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** `12 ms`, `2.50 s`, `1 min 15 s`; `digits` fixes the decimals under a minute (a ticking clock). */
export function formatSeconds(seconds: number | null, digits?: number): string | null {
  if (seconds === null || seconds === undefined) {
    return null;
  }
  if (digits !== undefined && seconds < 60) {
    return `${seconds.toFixed(digits)} s`;
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
