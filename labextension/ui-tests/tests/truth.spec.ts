/**
 * The notebook loop tells the truth, in a real JupyterLab and Debian's Chromium, with
 * `loop.ipynb`: a `--no-cache` config, a slow loader (`LoadTrips`), a transformer that
 * fails (`CleanTrips`, with a `1/0`) and a report. What the badges, the cells, the DAG, the
 * Runs panel, the toolbar and the export dialog show must be what is true.
 */
import { Page, expect, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import {
  badge,
  blocksCli,
  cellOf,
  dagNode,
  execute,
  expectBadge,
  openNotebook,
  outputsOf,
  outputsText,
  pressRunWithUpstreams,
  root,
  screenshot,
  setSettings,
  showCell,
  start,
  waitForKernelIdle
} from './helpers';

test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  // A kernel that only loads the extension when its cell runs: the first Run All must be live.
  await setSettings({ loadExtension: false });
  page = await browser.newPage();
  page.on('pageerror', error => console.log(`page error: ${error.message}`));
  await openNotebook(page, 'loop.ipynb');
});

test.afterAll(async () => {
  await setSettings({});
  await page?.close();
});

const connection = () => page.locator('#jupyter-blocks-dag .jp-BlocksDag-connection');

test('live state from the first second of the very first Run All: running with its time, queued cells', async () => {
  await execute(page, 'jupyter-blocks:open-dag');
  await expect(connection()).toHaveAttribute('data-connected', 'false');
  await start(page, 'notebook:run-all-cells');
  // The kernel opens the comm at %load_ext, while the other cells wait in its queue.
  await expect(connection()).toHaveAttribute('data-connected', 'true', { timeout: 30_000 });
  await expect(dagNode(page, 'LoadTrips')).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  await expect(dagNode(page, 'report')).toHaveAttribute('data-state', 'queued');
  await expect(dagNode(page, 'CleanTrips')).toHaveAttribute('data-state', 'queued');
  await showCell(page, 'LoadTrips');
  await expect(badge(page, 'LoadTrips').locator('.jp-BlocksBadge-stats')).toHaveText(/^\d+\.\d s$/);
  const first = await badge(page, 'LoadTrips').locator('.jp-BlocksBadge-stats').textContent();
  await page.waitForTimeout(700);
  expect(await badge(page, 'LoadTrips').locator('.jp-BlocksBadge-stats').textContent()).not.toBe(first);
  await screenshot(page, 'first-run-all-live.png');
  await waitForKernelIdle(page);
});

test('downstream of a failure is skipped, also when JupyterLab cancels the queued cells', async () => {
  await expectBadge(page, 'CleanTrips', 'data-state', 'failed');
  // JupyterLab did not run report's cell after CleanTrips failed: the kernel says why.
  await expectBadge(page, 'report', 'data-state', 'skipped');
  const text = await badge(page, 'report').locator('.jp-BlocksBadge-state').innerText();
  expect(text).toBe('skipped: not run because CleanTrips failed'); // the name keeps its case
  await expect(dagNode(page, 'report')).toHaveAttribute('data-state', 'skipped');
  await expect(dagNode(page, 'report').locator('.jp-BlocksDag-nodeState')).toContainText('not run because');
  await showCell(page, 'report');
  await screenshot(badge(page, 'report'), 'badge-skipped-cancelled.png');
});

test('the error appears once in its cell, with its traceback in notebook coordinates', async () => {
  const outputs = await outputsOf(page, 'CleanTrips');
  const errors = outputs.filter(o => o.output_type === 'error');
  expect(errors).toHaveLength(1);
  expect(errors[0].evalue).toBe('block `CleanTrips` (cell 6) failed: ZeroDivisionError: division by zero');
  const traceback = errors[0].traceback.join('\n').replace(/\x1b\[[0-9;]*m/g, '');
  expect(traceback).toContain('File "<block `CleanTrips` (cell 6)>", line 3');
  const statuses = outputs.filter(o => o.output_type === 'display_data').map(o => o.data['text/plain']);
  expect(statuses.at(-1)).toMatch(/^✗ CleanTrips · failed after \d+\.\d\d s$/);
  expect(statuses.join('\n')).not.toContain('ZeroDivisionError');
  // The cell is named as the notebook shows it, in the kernel, the DAG and the CLI alike.
  await expect(badge(page, 'CleanTrips')).toHaveAttribute('data-cell', 'cell 6');
  await expect(dagNode(page, 'CleanTrips')).toHaveAttribute('data-cell', 'cell 6');
  const cli = blocksCli(['run', 'loop.ipynb', '--quiet']);
  expect(cli.status).toBe(1);
  expect(cli.output).toContain('block `CleanTrips` (cell 6) failed: ZeroDivisionError');
  await showCell(page, 'CleanTrips');
  await screenshot(cellOf(page, 'CleanTrips'), 'error-once-in-its-cell.png');
});

test('a --no-cache upstream runs once per pipeline run, not once per cell, and prints once', async () => {
  const all = await outputsText(page);
  expect(all.split('reading the config').length - 1).toBe(1);
  expect(await outputsText(page, 'config')).toContain('reading the config');
  expect(await outputsText(page, 'CleanTrips')).not.toContain('reading the config');
});

test('editing the failed block turns it stale; Alt-Shift-Enter on the downstream runs the code on screen', async () => {
  // Delete the 1/0 in the editor (not saved), as a user would.
  await showCell(page, 'CleanTrips');
  await cellOf(page, 'CleanTrips').locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Escape');
  await expectBadge(page, 'CleanTrips', 'data-state', 'stale');
  await expectBadge(page, 'CleanTrips', 'data-reason', 'code');
  await expect(badge(page, 'CleanTrips')).toContainText('stale: code changed');
  await expectBadge(page, 'report', 'data-state', /^(never_run|stale)$/);
  await screenshot(cellOf(page, 'CleanTrips'), 'failed-then-edited-stale.png');

  await pressRunWithUpstreams(page, 'report');
  await waitForKernelIdle(page);
  await expectBadge(page, 'report', 'data-state', 'fresh', 60_000);
  await expectBadge(page, 'CleanTrips', 'data-state', 'fresh');
  const report = await outputsText(page, 'report');
  expect(report).toContain('✓ CleanTrips · ran in'); // the upstream ran again, with the new code
  expect(report).toContain('✓ 2 upstreams cached (config, LoadTrips)');
  expect(report).toContain('63'); // 10 + 20 + 30 + 3
  expect(report).not.toContain('ZeroDivisionError');
  expect((await outputsText(page)).split('reading the config').length - 1).toBe(1);
  await showCell(page, 'report');
  await screenshot(cellOf(page, 'report'), 'run-with-upstreams-new-code.png');
});

test('a block served from the cache during a run does not flicker through cached and 0 ms', async () => {
  await showCell(page, 'LoadTrips');
  await badge(page, 'LoadTrips').evaluate(node => {
    const seen: string[] = [];
    (window as any).__loadTripsSeen = seen;
    const record = () => seen.push(`${node.getAttribute('data-state')}|${node.textContent}`);
    record();
    new MutationObserver(record).observe(node, { attributes: true, childList: true, subtree: true, characterData: true });
  });
  await execute(page, 'jupyter-blocks:run-with-upstreams', {
    cell: await page.evaluate(() => {
      const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
      for (let i = 0; i < cells.length; i++) {
        if (cells.get(i).sharedModel.getSource().startsWith('%%block report')) {
          return cells.get(i).id;
        }
      }
      return null;
    })
  });
  await waitForKernelIdle(page);
  await page.waitForTimeout(500);
  const seen: string[] = await page.evaluate(() => (window as any).__loadTripsSeen);
  expect(seen.length).toBeGreaterThan(0);
  for (const entry of seen) {
    expect(entry.startsWith('fresh|')).toBe(true);
    expect(entry).not.toContain('0 ms');
    expect(entry).toMatch(/\d\.\d\d s · 3 rows/);
  }
});

test('the DAG fits the panel by default, zooms and pans, and says each state in words with time and rows', async () => {
  await execute(page, 'jupyter-blocks:open-dag');
  const dag = page.locator('#jupyter-blocks-dag');
  await expect(dag).toHaveAttribute('data-fitted', 'true');
  const canvas = (await dag.locator('.jp-BlocksDag-canvas').boundingBox())!;
  for (const name of ['config', 'LoadTrips', 'CleanTrips', 'report']) {
    const box = (await dagNode(page, name).boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(canvas.x - 1);
    expect(box.x + box.width).toBeLessThanOrEqual(canvas.x + canvas.width + 1);
  }
  await expect(dagNode(page, 'LoadTrips').locator('.jp-BlocksDag-nodeState')).toHaveText('fresh');
  await expect(dagNode(page, 'LoadTrips').locator('.jp-BlocksDag-nodeDetails')).toHaveText(/^\d\.\d\d s · 3 rows$/);
  await expect(dagNode(page, 'report').locator('.jp-BlocksDag-nodeDetails')).toHaveText(/ms|s$/);
  await screenshot(dag, 'dag-fit-with-states.png');

  const scale = Number(await dag.getAttribute('data-scale'));
  await dag.locator('.jp-BlocksDag-zoomIn').click();
  await expect(dag).toHaveAttribute('data-fitted', 'false');
  expect(Number(await dag.getAttribute('data-scale'))).toBeGreaterThan(scale);
  const before = (await dagNode(page, 'LoadTrips').boundingBox())!;
  await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + canvas.height / 2);
  await page.mouse.wheel(0, 60);
  await expect(async () => {
    const after = (await dagNode(page, 'LoadTrips').boundingBox())!;
    expect(after.y).toBeLessThan(before.y - 20);
  }).toPass({ timeout: 5000 });
  await screenshot(dag, 'dag-zoomed.png');
  await dag.locator('.jp-BlocksDag-fit').click();
  await expect(dag).toHaveAttribute('data-fitted', 'true');
  expect(Number(await dag.getAttribute('data-scale'))).toBeCloseTo(scale, 3);
});

test('Run Pipeline in the notebook toolbar is one run, listed with its block runs and what started it', async () => {
  const button = page.locator('.jp-NotebookPanel-toolbar .jp-BlocksRunPipelineButton');
  await expect(button).toBeVisible();
  await screenshot(page.locator('.jp-NotebookPanel-toolbar'), 'toolbar-run-pipeline.png');
  await button.click();
  await expect(page.locator('.jp-toast-container, .Toastify')).toContainText('Ran the pipeline of loop.ipynb', {
    timeout: 60_000
  });
  await execute(page, 'jupyter-blocks:open-runs');
  const panel = page.locator('#jupyter-blocks-runs');
  const latest = panel.locator('.jp-BlocksRuns-run').first();
  await expect(latest).toContainText('%blocks run --all');
  await expect(latest).toHaveAttribute('data-status', 'success');
  const runId = (await latest.getAttribute('data-run-id'))!;
  const nested = panel.locator(`.jp-BlocksRuns-runBlock[data-run-id="${runId}"]`);
  await expect(nested).toHaveCount(4); // one run of the four blocks, as headless
  expect(await nested.evaluateAll(rows => rows.map(r => r.getAttribute('data-block')))).toEqual([
    'config',
    'LoadTrips',
    'CleanTrips',
    'report'
  ]);
  // A cell run is listed with its cell.
  await expect(panel.locator('.jp-BlocksRuns-run', { hasText: 'cell 7 · %%block report' }).first()).toBeVisible();

  await latest.click();
  const detail = panel.locator('.jp-BlocksRuns-detail');
  await expect(detail.locator('.jp-BlocksRuns-detailTitle')).toContainText(runId);
  await expect(detail).toBeInViewport();
  const detailBox = (await detail.boundingBox())!;
  const listBox = (await panel.locator('.jp-BlocksRuns-list').boundingBox())!;
  expect(detailBox.y).toBeLessThan(listBox.y);
  await screenshot(panel, 'runs-grouped.png');
});

test("a failed block's log includes its traceback", async () => {
  const panel = page.locator('#jupyter-blocks-runs');
  const failed = panel.locator('.jp-BlocksRuns-run[data-status="failed"]', { hasText: 'CleanTrips' }).first();
  await failed.click();
  const row = panel.locator('.jp-BlocksRuns-blocks tr[data-block="CleanTrips"]:not(.jp-BlocksRuns-logsRow)');
  await expect(row).toHaveAttribute('data-status', 'failed');
  await row.locator('.jp-BlocksRuns-logsButton').click();
  const logs = panel.locator('.jp-BlocksRuns-logsRow[data-block="CleanTrips"] .jp-BlocksRuns-logsText');
  await expect(logs).toContainText('Traceback (most recent call last)');
  await expect(logs).toContainText('ZeroDivisionError: division by zero');
  await expect(logs).toContainText('(cell 6)');
  await screenshot(panel, 'runs-failed-logs.png');
});

test('after a kernel restart: the Runs list updates itself, blocks in the disk cache show cached with time and rows', async () => {
  // Let the extension load in a new kernel (the default), and reload onto the same kernel.
  await setSettings({ loadExtension: true });
  await execute(page, 'docmanager:save');
  await openNotebook(page, 'loop.ipynb');
  await execute(page, 'jupyter-blocks:open-dag');
  await expect(connection()).toHaveAttribute('data-connected', 'true', { timeout: 30_000 });
  await expectBadge(page, 'report', 'data-state', 'fresh');
  const setSource = (from: string, to: string) =>
    page.evaluate(
      ([a, b]) => {
        const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
          const source: string = cells.get(i).sharedModel.getSource();
          if (source.includes(a)) {
            cells.get(i).sharedModel.setSource(source.replace(a, b));
          }
        }
      },
      [from, to] as const
    );
  await setSource('time.sleep(4)', 'time.sleep(60)');
  await pressRunWithUpstreams(page, 'report');
  await expect(dagNode(page, 'LoadTrips')).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  await execute(page, 'jupyter-blocks:open-runs');
  const panel = page.locator('#jupyter-blocks-runs');
  await expect(panel.locator('.jp-BlocksRuns-run').first()).toHaveAttribute('data-status', 'running', {
    timeout: 30_000
  });
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart());
  await setSource('time.sleep(60)', 'time.sleep(4)');
  // No Refresh click: the panel follows the kernel.
  await expect(panel.locator('.jp-BlocksRuns-run').first()).toHaveAttribute('data-status', 'interrupted', {
    timeout: 30_000
  });
  await screenshot(panel, 'runs-after-restart.png');

  await waitForKernelIdle(page);
  await execute(page, 'jupyter-blocks:open-dag');
  await expect(connection()).toHaveAttribute('data-connected', 'true', { timeout: 30_000 });
  for (const name of ['LoadTrips', 'CleanTrips', 'report']) {
    await expectBadge(page, name, 'data-state', 'cached');
  }
  await showCell(page, 'LoadTrips');
  await expect(badge(page, 'LoadTrips').locator('.jp-BlocksBadge-stats')).toHaveText(/^\d\.\d\d s · 3 rows$/);
  await expect(badge(page, 'LoadTrips')).toHaveAttribute('title', /Output made (just now|\d+ min ago)/);
  await expectBadge(page, 'config', 'data-state', 'never_run'); // --no-cache: never in the cache
  await screenshot(page, 'restart-cached-states.png');
});

test('the export dialog lists the files it writes, flags a block of the same name, writes normal permissions', async () => {
  const other = blocksCli(['export', 'other_trips.ipynb', '--project', 'named']);
  expect(other.status).toBe(0);
  await start(page, 'jupyter-blocks:export');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill('named');
  await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
  await expect(dialog.locator('.jp-Dialog-header')).toContainText('Export pipeline loop');
  await expect(dialog.locator('.jp-BlocksExport-files li[data-path="data_loaders/LoadTrips.py"]')).toHaveAttribute(
    'data-state',
    'new'
  );
  await expect(dialog.locator('.jp-BlocksExport-files li[data-path="io_config.yaml"]')).toHaveCount(0);
  await expect(dialog.locator('.jp-BlocksExport-sameName li')).toHaveText([
    'LoadTrips: data_loaders/LoadTrips.py would sit beside data_loaders/LoadTrips.sql (used by other_trips), ' +
      'another block named LoadTrips'
  ]);
  await screenshot(dialog, 'export-review.png');
  await dialog.locator('.jp-Dialog-button', { hasText: 'Export' }).click();
  await expect(page.locator('.jp-toast-container, .Toastify')).toContainText('Exported loop.ipynb to named', {
    timeout: 60_000
  });
  const written = path.join(root(), 'named', 'data_loaders', 'LoadTrips.py');
  const mask = process.umask();
  expect(fs.statSync(written).mode & 0o777).toBe(0o666 & ~mask);
  expect(fs.statSync(path.join(root(), 'named', 'pipelines', 'loop', 'metadata.yaml')).mode & 0o777).toBe(
    0o666 & ~mask
  );

  // Again: nothing changed, and the dialog says so.
  await start(page, 'jupyter-blocks:export');
  await dialog.locator('input').fill('named');
  await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
  await expect(dialog.locator('.jp-BlocksExport-files li[data-path="data_loaders/LoadTrips.py"]')).toHaveAttribute(
    'data-state',
    'unchanged'
  );
  await dialog.locator('.jp-Dialog-button', { hasText: 'Cancel' }).click();
});

test('the Run Pipeline button shows only on notebooks with block cells', async () => {
  await page.goto(`${process.env.JUPYTER_BLOCKS_URL}lab/tree/scratch.ipynb?token=${process.env.JUPYTER_BLOCKS_TOKEN}`);
  await page.waitForSelector('.jp-NotebookPanel .jp-Notebook', { timeout: 90_000 });
  const panel = page.locator('.jp-NotebookPanel:visible');
  await expect(panel.locator('.jp-NotebookPanel-toolbar')).toBeVisible();
  await expect(panel.locator('.jp-BlocksRunPipelineButton')).toBeHidden();
  await page.evaluate(() => {
    const model = (window as any).jupyterapp.shell.currentWidget.content.model;
    model.sharedModel.insertCells(1, [{ cell_type: 'code', source: '%%block first\n1', metadata: {} }]);
  });
  await expect(panel.locator('.jp-BlocksRunPipelineButton')).toBeVisible();
  await screenshot(panel.locator('.jp-NotebookPanel-toolbar'), 'toolbar-after-first-block.png');
});
