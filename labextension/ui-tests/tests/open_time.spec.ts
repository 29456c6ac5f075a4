/**
 * How long a user waits, in Chromium, from opening a notebook to its badges: the structure
 * (parsed from the cells) and the states from the kernel (cached outputs shown as cached),
 * with a new kernel (the extension loads itself) and with the kernel already running. The
 * figures go to `ui-tests/artifacts/bench-open.json` (`bench/bench_lab_open.py` prints them).
 */
import { Page, expect, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { ARTIFACTS, blocksCli, serverUrl, token } from './helpers';

const NOTEBOOK = 'printing.ipynb';

async function shutDownKernels(): Promise<void> {
  const headers = { Authorization: `token ${token()}` };
  const sessions = (await (await fetch(`${serverUrl()}api/sessions`, { headers })).json()) as { id: string; path: string }[];
  for (const session of sessions.filter(s => s.path.endsWith(NOTEBOOK))) {
    await fetch(`${serverUrl()}api/sessions/${session.id}`, { method: 'DELETE', headers });
  }
}

/** Milliseconds from navigation to the first badge, and to a badge with the kernel's state. */
async function timeOpening(page: Page): Promise<{ badges: number; states: number }> {
  const started = Date.now();
  await page.goto(`${serverUrl()}lab/tree/${NOTEBOOK}?reset&token=${token()}`);
  await page.locator('.jp-BlocksBadge').first().waitFor({ timeout: 90_000 });
  const badges = Date.now() - started;
  await expect(page.locator('.jp-BlocksBadge[data-block="load"]')).toHaveAttribute('data-state', 'cached', {
    timeout: 90_000
  });
  return { badges, states: Date.now() - started };
}

test('time from opening a notebook to its badges', async ({ browser }) => {
  // The outputs are in the disk cache (a headless run), as after yesterday's work.
  expect(blocksCli(['run', NOTEBOOK, '--quiet']).status).toBe(0);
  await shutDownKernels();
  const page = await browser.newPage();
  const newKernel = await timeOpening(page);
  // The same notebook again, its kernel running.
  const running = await timeOpening(page);
  const figures = {
    notebook: NOTEBOOK,
    new_kernel: { badges_ms: newKernel.badges, kernel_states_ms: newKernel.states },
    running_kernel: { badges_ms: running.badges, kernel_states_ms: running.states }
  };
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'bench-open.json'), JSON.stringify(figures, null, 2));
  console.log(`bench-open: ${JSON.stringify(figures)}`);
  await page.locator('.jp-NotebookPanel').screenshot({ path: path.join(ARTIFACTS, 'open-cached-states.png') });
  await page.close();
});
