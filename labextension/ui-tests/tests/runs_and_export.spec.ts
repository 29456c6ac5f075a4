/**
 * Run history and export through the server extension, in a real JupyterLab:
 * a headless `jupyter-blocks run` of `printing.ipynb` fills the run store, the
 * Runs panel opens each block's captured logs (text, cut, empty, secret hidden,
 * error), and exporting over block files another pipeline shares offers
 * "Detach and export" and "Overwrite shared files".
 */
import { Page, expect, test } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const REPO = path.resolve(__dirname, '..', '..', '..');
const PASSWORD = 'ui-Pa55word-42';

test.describe.configure({ mode: 'serial' });

let page: Page;
let root: string;

/** The jupyter-blocks CLI in the server's root, as a user's terminal would run it. */
function blocksCli(args: string[]): string {
  const python = process.env.JUPYTER_BLOCKS_PYTHON || 'python3';
  try {
    return execFileSync(python, ['-m', 'jupyter_blocks.cli', ...args], {
      cwd: root,
      env: { ...process.env, PYTHONPATH: [REPO, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
      encoding: 'utf-8',
      stdio: ['ignore', 'pipe', 'pipe']
    });
  } catch (error: any) {
    throw new Error(`jupyter-blocks ${args.join(' ')} failed:\n${error.stdout}\n${error.stderr}`);
  }
}

test.beforeAll(async ({ browser }) => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  root = process.env.JUPYTER_BLOCKS_ROOT!;
  blocksCli(['run', 'printing.ipynb', '--quiet']);
  // Pipeline `fan` owns data_loaders/load.py in these projects; printing.ipynb has another `load`.
  for (const project of ['shared', 'shared_force']) {
    blocksCli(['export', path.join(FIXTURES, 'fan.ipynb'), '--project', project]);
  }
  page = await browser.newPage();
  page.on('pageerror', error => console.log(`page error: ${error.message}`));
  const url = process.env.JUPYTER_BLOCKS_URL!;
  const token = process.env.JUPYTER_BLOCKS_TOKEN!;
  await page.goto(`${url}lab/tree/printing.ipynb?reset&token=${token}`);
  await page.waitForSelector('.jp-NotebookPanel .jp-Notebook', { timeout: 90_000 });
});

test.afterAll(async () => {
  await page?.close();
});

const panel = () => page.locator('#jupyter-blocks-runs');
const blockRow = (name: string) =>
  panel().locator(`.jp-BlocksRuns-blocks tr[data-block="${name}"]:not(.jp-BlocksRuns-logsRow)`);
const logsButton = (name: string) => blockRow(name).locator('.jp-BlocksRuns-logsButton');
const logs = (name: string) => panel().locator(`.jp-BlocksRuns-logsRow[data-block="${name}"] .jp-BlocksRuns-logs`);

/** Drag the splitter between the notebook and the right sidebar, as a user reading logs would. */
async function widenRightSidebar(by: number): Promise<void> {
  const handle = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)').last();
  const box = (await handle.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width / 2, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 - by, y, { steps: 5 });
  await page.mouse.up();
}

async function openLatestRun(): Promise<void> {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('jupyter-blocks:open-runs'));
  await expect(panel()).toBeVisible();
  await expect(panel().locator('.jp-BlocksRuns-title')).toContainText('printing.ipynb');
  const run = panel().locator('.jp-BlocksRuns-run').first();
  await expect(run).toHaveAttribute('data-status', 'success');
  await run.click();
  await expect(blockRow('connect')).toHaveAttribute('data-status', 'ran');
}

test('a block opens what it printed and logged in a headless run', async () => {
  await openLatestRun();
  await expect(logsButton('load')).toHaveText(/^\d+ B$/);
  await logsButton('load').click();
  await expect(logsButton('load')).toHaveAttribute('aria-expanded', 'true');
  await expect(logs('load')).toHaveAttribute('data-state', 'text');
  const text = logs('load').locator('.jp-BlocksRuns-logsText');
  await expect(text).toContainText('loading 3 rows');
  await expect(text).toContainText('WARNING etl.load: the source is small');
  await expect(logs('load').locator('.jp-BlocksRuns-logsNote')).toHaveCount(0);
  const style = await text.evaluate(node => {
    const computed = getComputedStyle(node);
    return { font: computed.fontFamily, overflow: computed.overflowY };
  });
  expect(style.font).toMatch(/mono/i);
  expect(style.overflow).toBe('auto');
  await widenRightSidebar(300);
  await panel().screenshot({ path: path.join(ARTIFACTS, 'runs-logs.png') });

  await logsButton('load').click();
  await expect(logs('load')).toHaveCount(0);
  await expect(logsButton('load')).toHaveAttribute('aria-expanded', 'false');
});

test('a block that printed nothing says so', async () => {
  await expect(logsButton('quiet')).toHaveText('none');
  await logsButton('quiet').click();
  await expect(logs('quiet')).toHaveAttribute('data-state', 'empty');
  await expect(logs('quiet').locator('.jp-BlocksRuns-logsEmpty')).toHaveText('No output captured.');
  await logsButton('quiet').click();
});

test('long logs show their end, scrolled to the last line, with the command for all of it', async () => {
  await logsButton('noisy').click();
  const view = logs('noisy');
  await expect(view).toHaveAttribute('data-state', 'text');
  const runId = await panel().locator('.jp-BlocksRuns-run').first().getAttribute('data-run-id');
  await expect(view.locator('.jp-BlocksRuns-logsNote')).toHaveText(
    `Showing the last 64 KiB of 80 KiB. All of it: jupyter-blocks runs logs ${runId} noisy`
  );
  const text = view.locator('.jp-BlocksRuns-logsText');
  await expect(text).toContainText(`line 1999 ${'x'.repeat(30)}`);
  await expect(text).not.toContainText('line 0000');
  const scroll = await text.evaluate(node => ({
    top: node.scrollTop,
    height: node.scrollHeight,
    client: node.clientHeight
  }));
  expect(scroll.height).toBeGreaterThan(scroll.client);
  expect(scroll.top + scroll.client).toBeGreaterThanOrEqual(scroll.height - 2);
  await logsButton('noisy').click();
});

test('secrets a block printed are hidden', async () => {
  await logsButton('connect').click();
  const text = logs('connect').locator('.jp-BlocksRuns-logsText');
  await expect(text).toContainText('connecting as etl with password ***');
  expect(await panel().innerText()).not.toContain(PASSWORD);
  await logsButton('connect').click();
});

test('open logs stay open when the panel refreshes, and a failing request shows why', async () => {
  await logsButton('load').click();
  await expect(logs('load')).toHaveAttribute('data-state', 'text');
  await panel().locator('.jp-BlocksRuns-refresh').click();
  await expect(logs('load').locator('.jp-BlocksRuns-logsText')).toContainText('loading 3 rows');
  await logsButton('load').click();

  const failing = /\/jupyter-blocks\/runs\/[^/]+\/logs\/load\?/;
  await page.route(failing, route =>
    route.fulfill({
      status: 500,
      contentType: 'application/json',
      body: JSON.stringify({ message: 'the run store is locked' })
    })
  );
  try {
    await logsButton('load').click();
    await expect(logs('load')).toHaveAttribute('data-state', 'error');
    await expect(logs('load').locator('.jp-BlocksRuns-logsError')).toHaveText(
      'Logs unavailable: the run store is locked'
    );
  } finally {
    await page.unroute(failing);
  }
  await logsButton('load').click();
});

/** Start Export Pipeline… on the active notebook and answer its folder prompt. */
async function startExport(project: string): Promise<void> {
  await page.evaluate(() => void (window as any).jupyterapp.commands.execute('jupyter-blocks:export'));
  const prompt = page.locator('.jp-Dialog');
  await expect(prompt).toBeVisible();
  await prompt.locator('input').fill(project);
  await prompt.locator('.jp-Dialog-button.jp-mod-accept').click();
}

function read(relative: string): string {
  return fs.readFileSync(path.join(root, relative), 'utf-8');
}

test('export over a shared block file names its pipeline and detaches', async () => {
  const shared = read('shared/data_loaders/load.py');
  await startExport('shared');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-Dialog-header')).toContainText('Block files shared with other pipelines');
  await expect(dialog.locator('.jp-BlocksExport-conflicts li')).toHaveText(['data_loaders/load.py: used by fan']);
  await expect(dialog).toContainText('used by pipeline fan');
  await dialog.screenshot({ path: path.join(ARTIFACTS, 'export-shared-files.png') });
  expect(fs.existsSync(path.join(root, 'shared/pipelines/printing'))).toBe(false);

  await dialog.locator('.jp-Dialog-button', { hasText: 'Detach and export' }).click();
  await expect(page.locator('.jp-toast-container, .Toastify')).toContainText(
    'Exported printing.ipynb to shared (5 written, 0 unchanged); own copies: data_loaders/printing/load.py',
    { timeout: 60_000 }
  );
  expect(read('shared/data_loaders/load.py')).toBe(shared);
  expect(read('shared/data_loaders/printing/load.py')).toContain('loading 3 rows');
  expect(read('shared/pipelines/printing/metadata.yaml')).toContain('data_loaders/printing/load.py');
});

test('cancel writes nothing; overwrite replaces the shared file', async () => {
  const shared = read('shared_force/data_loaders/load.py');
  await startExport('shared_force');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-BlocksExport-conflicts li')).toHaveText(['data_loaders/load.py: used by fan']);
  await dialog.locator('.jp-Dialog-button', { hasText: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  expect(fs.existsSync(path.join(root, 'shared_force/pipelines/printing'))).toBe(false);

  await startExport('shared_force');
  await dialog.locator('.jp-Dialog-button', { hasText: 'Overwrite shared files' }).click();
  await expect(page.locator('.jp-toast-container, .Toastify')).toContainText(
    'Exported printing.ipynb to shared_force',
    { timeout: 60_000 }
  );
  expect(read('shared_force/data_loaders/load.py')).not.toBe(shared);
  expect(read('shared_force/data_loaders/load.py')).toContain('loading 3 rows');
  expect(fs.existsSync(path.join(root, 'shared_force/data_loaders/printing'))).toBe(false);
});
