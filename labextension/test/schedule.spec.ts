import {
  API_NEXT,
  BackfillInfo,
  NO_TRIGGERS,
  TriggerInfo,
  backfillBounds,
  backfillProgress,
  formatBound,
  formatClock,
  formatIn,
  lastRun,
  nextFire,
  parseTime,
  scheduleError
} from '../src/schedule';

const NOW = Date.parse('2024-01-16T02:00:00Z');

function trigger(overrides: Partial<TriggerInfo> = {}): TriggerInfo {
  return {
    pipeline: 'nyc_taxi_etl',
    trigger: 'daily',
    type: 'time',
    schedule: '@daily at 05:00 UTC',
    status: 'active',
    next: '2024-01-16T05:00:00+00:00',
    last_run: 'c3e0a0e32163',
    last_status: 'success',
    last_started: '2024-01-15T05:00:02.120000Z',
    ...overrides
  };
}

function backfill(overrides: Partial<BackfillInfo> = {}): BackfillInfo {
  return {
    backfill_id: '94ce4d57030b',
    pipeline: 'nyc_taxi_etl',
    start_at: '2020-10-01T00:00:00+00:00',
    end_at: '2020-10-05T00:00:00+00:00',
    every: 'day',
    status: 'success',
    created_at: '2024-01-15T21:37:34.708189+00:00',
    host: 'etl-1',
    pid: 2428,
    intervals: 4,
    succeeded: 4,
    failed: 0,
    skipped: 0,
    ...overrides
  };
}

describe('times', () => {
  it('writes a date and clock in UTC and in another zone', () => {
    const date = new Date('2024-01-16T05:00:00+00:00');
    expect(formatClock(date, 'UTC')).toBe('2024-01-16 05:00 UTC');
    expect(formatClock(date, 'America/New_York')).toBe('2024-01-16 00:00 EST');
    expect(formatClock(new Date('2024-07-16T05:00:00Z'), 'America/New_York')).toBe('2024-07-16 01:00 EDT');
    // Midnight is 00, never 24.
    expect(formatClock(new Date('2024-01-16T00:05:00Z'), 'UTC')).toBe('2024-01-16 00:05 UTC');
    expect(formatClock(date, 'Asia/Kolkata')).toBe('2024-01-16 10:30 GMT+5:30');
  });

  it('reads the server\'s times: with an offset, or the run store\'s local time', () => {
    expect(parseTime('2024-01-16T05:00:00+01:00')?.toISOString()).toBe('2024-01-16T04:00:00.000Z');
    const local = parseTime('2024-01-15T21:37:33.770167');
    expect(local?.getHours()).toBe(21);
    expect(local?.getMinutes()).toBe(37);
    expect(parseTime(null)).toBeNull();
    expect(parseTime('')).toBeNull();
    expect(parseTime('soon')).toBeNull();
  });

  it.each([
    ['2024-01-16T02:00:10Z', 'due now'],
    ['2024-01-16T02:00:50Z', 'in 1 min'],
    ['2024-01-16T02:45:00Z', 'in 45 min'],
    ['2024-01-16T05:00:00Z', 'in 3 h'],
    ['2024-01-17T03:00:00Z', 'in 1 day'],
    ['2024-01-20T02:00:00Z', 'in 4 days'],
    ['2024-01-15T02:00:00Z', 'due now']
  ])('says how soon %s is', (when, text) => {
    expect(formatIn(new Date(when), NOW)).toBe(text);
  });
});

describe('triggers', () => {
  it('gives a time trigger\'s next fire time in UTC and in the browser\'s zone', () => {
    expect(nextFire(trigger(), NOW, 'America/New_York')).toEqual({
      text: '2024-01-16 05:00 UTC',
      local: '00:00 EST',
      relative: 'in 3 h'
    });
    // Another day there: the date too.
    expect(nextFire(trigger(), NOW, 'America/Los_Angeles').local).toBe('2024-01-15 21:00 PST');
    const evening = trigger({ next: '2024-01-16T20:00:00+00:00' });
    expect(nextFire(evening, NOW, 'Asia/Tokyo').local).toBe('2024-01-17 05:00 GMT+9');
  });

  it('leaves out the local time when the browser keeps UTC\'s clock', () => {
    expect(nextFire(trigger(), NOW, 'UTC')).toEqual({ text: '2024-01-16 05:00 UTC', local: null, relative: 'in 3 h' });
    expect(nextFire(trigger(), NOW, 'Europe/London').local).toBeNull();
  });

  it('says an api trigger runs when called, and an inactive one has no next run', () => {
    const api = trigger({ trigger: 'hook', type: 'api', schedule: API_NEXT, next: null });
    expect(nextFire(api, NOW)).toEqual({ text: 'runs when called over HTTP', local: null, relative: null });
    expect(nextFire(trigger({ status: 'inactive', next: null }), NOW).text).toBe('none: the trigger is inactive');
    expect(nextFire(trigger({ next: null }), NOW).text).toBe('no next run');
    const event = trigger({ type: 'event', schedule: 'event trigger (deprecated in Mage; not run here)', next: null });
    expect(nextFire(event, NOW).text).toBe('event trigger (deprecated in Mage; not run here)');
  });

  it('gives the last run\'s status and how long ago it started', () => {
    const last = lastRun(trigger(), NOW);
    expect(last.status).toBe('success');
    expect(last.text).toBe('success · 20 h ago');
    expect(last.title).toMatch(/^Run c3e0a0e32163, started /);
    expect(lastRun(trigger({ last_status: 'failed', last_started: '2024-01-16T01:59:30Z' }), NOW).text).toBe(
      'failed · just now'
    );
  });

  it('says never run for a trigger without runs, and keeps a claim\'s status without a run', () => {
    const never = trigger({ last_run: null, last_status: null, last_started: null });
    expect(lastRun(never, NOW)).toEqual({ status: null, text: 'never run', title: '' });
    const skipped = lastRun(trigger({ last_run: null, last_status: 'skipped', last_started: null }), NOW);
    expect(skipped).toEqual({ status: 'skipped', text: 'skipped', title: '' });
  });

  it('says how to add a trigger', () => {
    expect(NO_TRIGGERS).toContain('%%pipeline');
    expect(NO_TRIGGERS).toContain('triggers:');
  });
});

describe('backfills', () => {
  it('writes the bounds in UTC with the interval', () => {
    expect(backfillBounds(backfill())).toBe('2020-10-01 → 2020-10-05 UTC · every day');
    expect(backfillBounds(backfill({ every: '0 5 * * 1-5' }))).toBe('2020-10-01 → 2020-10-05 UTC · cron 0 5 * * 1-5');
    expect(formatBound('2020-10-01T06:00:00+02:00')).toBe('2020-10-01 04:00');
    expect(formatBound('not a time')).toBe('not a time');
  });

  it('counts the intervals done, failed and left', () => {
    expect(backfillProgress(backfill())).toEqual({
      total: 4,
      done: 4,
      failed: 0,
      left: 0,
      text: '4 of 4 intervals done · 0 failed'
    });
    const running = backfillProgress(backfill({ status: 'running', intervals: 92, succeeded: 40, failed: 2 }));
    expect(running.text).toBe('40 of 92 intervals done · 2 failed · 50 left');
    expect(running.left).toBe(50);
    const resumed = backfillProgress(backfill({ succeeded: 3, skipped: 1 }));
    expect(resumed.text).toBe('4 of 4 intervals done (1 skipped) · 0 failed');
    expect(backfillProgress(backfill({ intervals: 1, succeeded: 0, failed: 1, status: 'failed' })).text).toBe(
      '0 of 1 interval done · 1 failed'
    );
  });
});

describe('errors', () => {
  it('shows the server\'s message as one line', () => {
    const message = 'cell 1: %%pipeline triggers[0].schedule_type: input should be \'time\', \'api\' or \'event\'';
    expect(scheduleError(message)).toBe(`Schedule unavailable: ${message}`);
    expect(scheduleError('\nfirst\nsecond')).toBe('Schedule unavailable: first');
  });
});
