/**
 * What the Runs panel says about a notebook's schedule (pure, unit tested).
 *
 * The server reads the saved notebook's `%%pipeline` cell and the run store
 * (`GET /jupyter-blocks/schedule?path=<notebook>`) and answers with each
 * trigger's next fire time and last run, and each backfill's intervals counted
 * by status. These helpers turn that answer into the words and numbers the
 * panel shows: times in UTC and in the browser's zone, how long ago or how soon,
 * a backfill's bounds and progress.
 */

import { formatAgo } from './describe';

/** One trigger of the notebook's `%%pipeline` cell, with its next fire time and last run. */
export interface TriggerInfo {
  pipeline: string;
  trigger: string;
  /** `time`, `api` (or Mage's deprecated `event`). */
  type: string;
  /** The schedule in words: `@daily at 05:00 UTC`, `cron 0 5 * * 1-5`. */
  schedule: string;
  status: string;
  /** ISO time with its offset; null for api triggers and inactive ones. */
  next: string | null;
  last_run: string | null;
  last_status: string | null;
  /** When the last run started (the run store's time, local to the server). */
  last_started: string | null;
}

/** One backfill of the pipeline, its intervals counted by status. */
export interface BackfillInfo {
  backfill_id: string;
  pipeline: string;
  start_at: string;
  end_at: string;
  /** `hour`, `day`, `week`, `month` or a cron expression. */
  every: string;
  status: string;
  created_at: string | null;
  host?: string | null;
  pid?: number | null;
  intervals: number;
  succeeded: number;
  failed: number;
  skipped: number;
}

/** The server's answer for a notebook. */
export interface ScheduleListing {
  pipeline: string;
  triggers: TriggerInfo[];
  backfills: BackfillInfo[];
}

/** Shown instead of an empty list: how to give the notebook a schedule. */
export const NO_TRIGGERS = 'No triggers yet: add a %%pipeline cell with triggers: to schedule this notebook.';

/** What an api trigger says instead of a next fire time. */
export const API_NEXT = 'runs when called over HTTP';

/** How many backfills the panel lists; the CLI lists them all. */
export const BACKFILLS_SHOWN = 3;

/** A time the server sent; a time without an offset is the run store's, local time (as `Date` reads it). */
export function parseTime(value: string | null | undefined): Date | null {
  if (!value) {
    return null;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `2024-01-16 05:00 UTC`, `2024-01-16 00:00 EST`: a date and clock in a zone (the browser's by default). */
export function formatClock(date: Date, timeZone?: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short'
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find(p => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')} ${part('timeZoneName')}`;
}

/** `in 5 min`, `in 3 h`, `in 2 days`; `due now` once the time has come. */
export function formatIn(when: Date, now: number = Date.now()): string {
  const seconds = (when.getTime() - now) / 1000;
  if (seconds < 30) {
    return 'due now';
  }
  if (seconds < 3600) {
    return `in ${Math.max(1, Math.round(seconds / 60))} min`;
  }
  if (seconds < 86400) {
    return `in ${Math.floor(seconds / 3600)} h`;
  }
  const days = Math.floor(seconds / 86400);
  return `in ${days} day${days === 1 ? '' : 's'}`;
}

/** When a trigger fires next, as the panel says it. */
export interface NextFire {
  /** `2024-01-16 05:00 UTC`, or the text that stands for a time (`runs when called over HTTP`). */
  text: string;
  /**
   * The same time in the browser's zone (`00:00 EST`, with the date when it is another day);
   * null when there is no time or that zone keeps UTC's clock.
   */
  local: string | null;
  /** `in 3 h`. */
  relative: string | null;
}

export function nextFire(trigger: TriggerInfo, now: number = Date.now(), timeZone?: string): NextFire {
  if (trigger.type === 'api') {
    return { text: API_NEXT, local: null, relative: null };
  }
  if (trigger.type !== 'time') {
    return { text: trigger.schedule || 'not run on a schedule', local: null, relative: null };
  }
  const next = parseTime(trigger.next);
  if (!next) {
    const text = trigger.status === 'active' ? 'no next run' : 'none: the trigger is inactive';
    return { text, local: null, relative: null };
  }
  const utc = formatClock(next, 'UTC');
  const local = formatClock(next, timeZone);
  if (local.slice(0, 16) === utc.slice(0, 16)) {
    return { text: utc, local: null, relative: formatIn(next, now) };
  }
  // The date only when the local one differs (05:00 UTC is the day before in California).
  const sameDay = local.slice(0, 10) === utc.slice(0, 10);
  return { text: utc, local: sameDay ? local.slice(11) : local, relative: formatIn(next, now) };
}

/** A trigger's last run, as the panel says it. */
export interface LastRun {
  /** `success`, `failed`, ...; null when the trigger never ran. */
  status: string | null;
  /** `success · 2 h ago`, `never run`. */
  text: string;
  /** The run's id and start, for a tooltip. */
  title: string;
}

export function lastRun(trigger: TriggerInfo, now: number = Date.now()): LastRun {
  if (!trigger.last_status) {
    return { status: null, text: 'never run', title: '' };
  }
  const started = parseTime(trigger.last_started);
  const ago = started ? formatAgo(started.getTime() / 1000, now) : null;
  const title = [
    trigger.last_run ? `Run ${trigger.last_run}` : '',
    started ? `started ${started.toLocaleString()}` : ''
  ]
    .filter(Boolean)
    .join(', ');
  return { status: trigger.last_status, text: [trigger.last_status, ago].filter(Boolean).join(' · '), title };
}

/** A bound of a backfill in UTC: the date alone at midnight, `2020-10-01 06:00` otherwise. */
export function formatBound(value: string): string {
  const date = parseTime(value);
  if (!date) {
    return value;
  }
  const iso = date.toISOString();
  return iso.slice(11, 16) === '00:00' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

const EVERY_WORD = new Set(['hour', 'day', 'week', 'month']);

/** `2020-10-01 → 2020-10-05 · every day` (the bounds as the CLI took them, in UTC). */
export function backfillBounds(backfill: BackfillInfo): string {
  const every = EVERY_WORD.has(backfill.every) ? `every ${backfill.every}` : `cron ${backfill.every}`;
  return `${formatBound(backfill.start_at)} → ${formatBound(backfill.end_at)} UTC · ${every}`;
}

/** A backfill's intervals: done (succeeded or skipped), failed, and left (running or not run yet). */
export interface BackfillProgress {
  total: number;
  done: number;
  failed: number;
  left: number;
  /** `2 of 4 intervals done · 1 failed · 1 left`. */
  text: string;
}

export function backfillProgress(backfill: BackfillInfo): BackfillProgress {
  const total = Math.max(0, backfill.intervals ?? 0);
  const done = (backfill.succeeded ?? 0) + (backfill.skipped ?? 0);
  const failed = backfill.failed ?? 0;
  const left = Math.max(0, total - done - failed);
  const skipped = backfill.skipped ? ` (${backfill.skipped} skipped)` : '';
  const parts = [`${done} of ${total} interval${total === 1 ? '' : 's'} done${skipped}`, `${failed} failed`];
  if (left) {
    parts.push(`${left} left`);
  }
  return { total, done, failed, left, text: parts.join(' · ') };
}

/** The one line shown when the server refused: `Schedule unavailable: cell 1: %%pipeline ...`. */
export function scheduleError(message: string): string {
  const line = message.split('\n').find(l => l.trim()) ?? message;
  return `Schedule unavailable: ${line.trim()}`;
}
