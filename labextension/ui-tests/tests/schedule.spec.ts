/**
 * The schedule in the Runs panel, in a real JupyterLab and Debian's Chromium, with
 * `scheduled.ipynb` (a daily trigger, an api trigger, a block that fails on 2020-10-03).
 * The CLI's scheduler runs a tick and a backfill goes over the failing day; the panel
 * shows each trigger's next fire time (UTC and the browser's New York time) and last run,
 * the backfill's progress, and follows the `%%pipeline` cell when the notebook is saved.
 */
import { Locator, Page, expect, test } from '@playwright/test';

import { blocksCli, execute, openNotebook, screenshot } from './helpers';

test.describe.configure({ mode: 'serial' });

const NOTEBOOK = 'scheduled.ipynb';
const SETTINGS = `%%pipeline
triggers:
- name: daily
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2024-01-01 05:00:00
  status: active
- name: hook
  schedule_type: api
  status: active`;

let page: Page;

/** Run the scheduler once at `clock`, as cron would; returns the run it started, if any. */
function scheduleOnce(clock: string): string | null {
  const { status, output } = blocksCli(['schedule', NOTEBOOK, '--once'], { JUPYTER_BLOCKS_CLOCK: clock });
  if (status !== 0) {
    throw new Error(`jupyter-blocks schedule --once failed (${status}):\n${output}`);
  }
  return /scheduled run (\w+) started/.exec(output)?.[1] ?? null;
}

test.beforeAll(async ({ browser }) => {
  // The first call registers the trigger; the second runs the tick it missed (2024-01-16 05:00).
  expect(scheduleOnce('2024-01-15T06:00:00Z')).toBeNull();
  expect(scheduleOnce('2024-01-16T06:00:00Z')).not.toBeNull();
  const backfill = blocksCli([
    'backfill',
    NOTEBOOK,
    '--start',
    '2020-10-01',
    '--end',
    '2020-10-05',
    '--interval',
    'day'
  ]);
  expect(backfill.output).toContain('4 intervals, 3 succeeded, 1 failed');
  // A browser away from UTC, so the local time differs from the UTC one.
  page = await browser.newPage({ timezoneId: 'America/New_York', viewport: { width: 1400, height: 900 } });
  page.on('pageerror', error => console.log(`page error: ${error.message}`));
  await openNotebook(page, NOTEBOOK);
  await execute(page, 'jupyter-blocks:open-runs');
});

test.afterAll(async () => {
  await page?.close();
});

const panel = () => page.locator('#jupyter-blocks-runs');
const section = () => panel().locator('.jp-BlocksSchedule');
const trigger = (name: string) => section().locator(`.jp-BlocksSchedule-trigger[data-trigger="${name}"]`);

/** The next 05:00 UTC, as the panel writes its date. */
function nextDailyDate(): string {
  const now = new Date();
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 5));
  if (next.getTime() <= now.getTime()) {
    next.setUTCDate(next.getUTCDate() + 1);
  }
  return next.toISOString().slice(0, 10);
}

/** The colour a CSS variable of the panel resolves to, beside `node`. */
async function colourOf(node: Locator, variable: string): Promise<{ actual: string; expected: string }> {
  return node.evaluate((element, name) => {
    const probe = document.createElement('span');
    probe.style.color = `var(${name})`;
    element.parentElement!.append(probe);
    const expected = getComputedStyle(probe).color;
    probe.remove();
    return { actual: getComputedStyle(element).color, expected };
  }, variable);
}

/** Replace the `%%pipeline` cell's text, as a user pasting new settings, and save. */
async function editSettings(source: string): Promise<void> {
  const cell = page.locator('.jp-Notebook .jp-Cell').filter({ hasText: '%%pipeline' });
  await cell.locator('.cm-content').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.insertText(source);
  await page.keyboard.press('Control+s');
  await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.context.model.dirty === false);
}

test('the Runs panel shows each trigger with its next fire time and its last run', async () => {
  await expect(panel()).toBeVisible();
  await expect(section().locator('.jp-BlocksSchedule-heading')).toHaveText('Schedule · scheduled');

  const daily = trigger('daily');
  await expect(daily.locator('.jp-BlocksSchedule-active')).toHaveText('active');
  await expect(daily.locator('.jp-BlocksSchedule-schedule')).toHaveText('@daily at 05:00 UTC');
  const date = nextDailyDate();
  await expect(daily.locator('.jp-BlocksSchedule-nextUtc')).toHaveText(`${date} 05:00 UTC`);
  // 05:00 UTC is midnight in New York in winter, one o'clock in summer.
  await expect(daily.locator('.jp-BlocksSchedule-nextLocal')).toHaveText(/^(00:00 EST|01:00 EDT) local$/);
  await expect(daily.locator('.jp-BlocksSchedule-nextIn')).toHaveText(/^(in \d+ (min|h)|due now)$/);
  await expect(daily.locator('.jp-BlocksSchedule-next')).toHaveText(
    new RegExp(`^next: ${date} 05:00 UTC · (in \\d+ (min|h)|due now) · (00:00 EST|01:00 EDT) local$`)
  );
  const last = daily.locator('.jp-BlocksSchedule-last .jp-BlocksSchedule-status');
  await expect(last).toHaveAttribute('data-status', 'success');
  await expect(last).toHaveText(/^success · (just now|\d+ min ago)$/);
  const colours = await colourOf(last, '--jp-blocks-fresh');
  expect(colours.actual).toBe(colours.expected);

  const hook = trigger('hook');
  await expect(hook.locator('.jp-BlocksSchedule-active')).toHaveText('active');
  await expect(hook.locator('.jp-BlocksSchedule-next')).toHaveText('runs when called over HTTP');
  await expect(hook.locator('.jp-BlocksSchedule-nextUtc')).toHaveCount(0);
  await expect(hook.locator('.jp-BlocksSchedule-status')).toHaveText('never run');
  await screenshot(section(), 'schedule-triggers.png');
});

test('a backfill shows its bounds, status and progress, a failure in the panel\'s colour', async () => {
  const backfill = section().locator('.jp-BlocksSchedule-backfill').first();
  await expect(backfill).toHaveAttribute('data-status', 'failed');
  await expect(backfill.locator('.jp-BlocksSchedule-name')).toHaveText(/^[0-9a-f]{12}$/);
  await expect(backfill.locator('.jp-BlocksSchedule-bounds')).toHaveText('2020-10-01 → 2020-10-05 UTC · every day');
  await expect(backfill.locator('.jp-BlocksSchedule-progress')).toHaveText('3 of 4 intervals done · 1 failed');
  const bar = backfill.locator('.jp-BlocksSchedule-bar');
  await expect(bar).toHaveAttribute('aria-valuenow', '4');
  await expect(bar).toHaveAttribute('aria-valuemax', '4');
  const widths = await bar.evaluate(node => {
    const whole = node.getBoundingClientRect().width;
    const part = (name: string) => node.querySelector<HTMLElement>(name)!.getBoundingClientRect().width / whole;
    return { done: part('.jp-BlocksSchedule-barDone'), failed: part('.jp-BlocksSchedule-barFailed') };
  });
  expect(widths.done).toBeCloseTo(0.75, 2);
  expect(widths.failed).toBeCloseTo(0.25, 2);

  // The failed interval's run is in the list below, in the same colour as the backfill's status.
  const status = backfill.locator('.jp-BlocksSchedule-row .jp-BlocksSchedule-status');
  await expect(status).toHaveText('failed');
  const failedRun = panel().locator('.jp-BlocksRuns-run[data-status="failed"] td').first();
  await expect(failedRun).toHaveText('failed');
  const [ours, theirs] = await Promise.all([
    status.evaluate(node => getComputedStyle(node).color),
    failedRun.evaluate(node => getComputedStyle(node).color)
  ]);
  expect(ours).toBe(theirs);
  await screenshot(section(), 'schedule-backfill.png');
});

test('Refresh shows the run the scheduler started since', async () => {
  const runId = scheduleOnce('2024-01-17T06:00:00Z');
  expect(runId).not.toBeNull();
  await panel().locator('.jp-BlocksRuns-refresh').click();
  await expect(trigger('daily').locator('.jp-BlocksSchedule-last')).toHaveAttribute(
    'title',
    new RegExp(`^Run ${runId}, started `)
  );
});

test('a run the scheduler starts from a terminal shows within 30 s while the panel is open', async () => {
  const runId = scheduleOnce('2024-01-18T06:00:00Z');
  expect(runId).not.toBeNull();
  await expect(trigger('daily').locator('.jp-BlocksSchedule-last')).toHaveAttribute(
    'title',
    new RegExp(`^Run ${runId}, started `),
    { timeout: 40_000 }
  );
});

test('saving an edited %%pipeline cell updates the section', async () => {
  const edited = SETTINGS.replace(/status: active(?=\n- name: hook)/, 'status: inactive').concat(`
- name: hourly
  schedule_type: time
  schedule_interval: '@hourly'
  start_time: 2024-01-01 00:30:00
  status: active`);
  await editSettings(edited);
  await expect(trigger('daily').locator('.jp-BlocksSchedule-active')).toHaveText('inactive');
  await expect(trigger('daily').locator('.jp-BlocksSchedule-next')).toHaveText('none: the trigger is inactive');
  // Its last run stays: the trigger ran before it was switched off.
  await expect(trigger('daily').locator('.jp-BlocksSchedule-last .jp-BlocksSchedule-status')).toHaveAttribute(
    'data-status',
    'success'
  );
  const hourly = trigger('hourly');
  await expect(hourly.locator('.jp-BlocksSchedule-schedule')).toHaveText('@hourly at minute 30');
  await expect(hourly.locator('.jp-BlocksSchedule-nextUtc')).toHaveText(/^\d{4}-\d\d-\d\d \d\d:30 UTC$/);
  await expect(hourly.locator('.jp-BlocksSchedule-nextLocal')).toHaveText(/^(\d{4}-\d\d-\d\d )?\d\d:30 E[SD]T local$/);
  await expect(hourly.locator('.jp-BlocksSchedule-status')).toHaveText('never run');
  await expect(section().locator('.jp-BlocksSchedule-trigger')).toHaveCount(3);
  await screenshot(section(), 'schedule-edited.png');
});

test('invalid settings are one line of error; no triggers say how to add one', async () => {
  await editSettings(SETTINGS.replace('schedule_type: time', 'schedule_type: tim'));
  const error = section().locator('.jp-BlocksSchedule-error');
  await expect(error).toHaveText(
    "Schedule unavailable: cell 3: %%pipeline triggers[0].schedule_type: input should be 'time', 'api' or 'event'"
  );
  await expect(section().locator('.jp-BlocksSchedule-trigger')).toHaveCount(0);
  await screenshot(section(), 'schedule-error.png');

  await editSettings('%%pipeline\nnotification_config: {}');
  await expect(section().locator('.jp-BlocksSchedule-message')).toHaveText(
    'No triggers yet: add a %%pipeline cell with triggers: to schedule this notebook.'
  );
  await expect(section().locator('.jp-BlocksSchedule-error')).toHaveCount(0);
  // The backfill made before is still listed.
  await expect(section().locator('.jp-BlocksSchedule-backfill')).toHaveCount(1);
  await screenshot(section(), 'schedule-no-triggers.png');

});

test('a save while the panel is hidden shows when it opens again; hidden, it asks nothing', async () => {
  const asked: string[] = [];
  const listen = (request: { url(): string }) => {
    if (request.url().includes('/jupyter-blocks/schedule?')) {
      asked.push(request.url());
    }
  };
  await execute(page, 'jupyter-blocks:open-dag');
  await expect(panel()).toBeHidden();
  page.on('request', listen);
  try {
    await editSettings(SETTINGS);
    await page.waitForTimeout(1000);
    expect(asked).toEqual([]);
    await execute(page, 'jupyter-blocks:open-runs');
    await expect(trigger('daily').locator('.jp-BlocksSchedule-active')).toHaveText('active');
    await expect(section().locator('.jp-BlocksSchedule-trigger')).toHaveCount(2);
    expect(asked.length).toBeGreaterThan(0);
  } finally {
    page.off('request', listen);
  }
});
