/**
 * The fan-out / fan-in scenario (load → a, b → join) in a real JupyterLab:
 * structure before any kernel runs, live states over the comm, local stale
 * propagation, failures, navigation from the graph, and windowed cells.
 */
import { Locator, Page, expect, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const DONE = /^(fresh|cached)$/;

test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  page = await browser.newPage();
  page.on('pageerror', error => console.log(`page error: ${error.message}`));
  const url = process.env.JUPYTER_BLOCKS_URL!;
  const token = process.env.JUPYTER_BLOCKS_TOKEN!;
  await page.goto(`${url}lab/tree/fan.ipynb?reset&token=${token}`);
  await page.waitForSelector('.jp-NotebookPanel .jp-Notebook', { timeout: 90_000 });
  await waitForKernelIdle(page);
});

test.afterAll(async () => {
  await page?.close();
});

/** Scroll a block's cell into view: with windowing, off-screen cells have no DOM. */
async function showCell(name: string): Promise<void> {
  await page.evaluate(async blockName => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    const index = notebook.widgets.findIndex((cell: any) =>
      new RegExp(`^%%block\\s+${blockName}(\\s|$)`).test(cell.model.sharedModel.getSource())
    );
    await notebook.scrollToItem(index, 'center');
  }, name);
  await page.waitForTimeout(200);
}

/** A block's badge, brought on screen first. */
async function expectBadge(name: string, attribute: string, value: string | RegExp, timeout?: number): Promise<void> {
  await expect(async () => {
    await showCell(name);
    await expect(badge(name)).toHaveAttribute(attribute, value, { timeout: 1000 });
  }).toPass({ timeout: timeout ?? 30_000 });
}

function badge(name: string): Locator {
  return page.locator(`.jp-BlocksBadge[data-block="${name}"]`);
}

function cellOf(name: string): Locator {
  return page.locator('.jp-Notebook .jp-Cell', { has: badge(name) });
}

function dagNode(name: string): Locator {
  return page.locator(`#jupyter-blocks-dag .jp-BlocksDag-node[data-block="${name}"]`);
}

async function execute(id: string, args: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(([command, commandArgs]) => (window as any).jupyterapp.commands.execute(command, commandArgs), [
    id,
    args
  ] as const);
}

async function waitForKernelIdle(p: Page): Promise<void> {
  await p.waitForFunction(
    () => {
      const app = (window as any).jupyterapp;
      const widget = app?.shell?.currentWidget;
      return widget?.sessionContext?.session?.kernel?.status === 'idle';
    },
    undefined,
    { timeout: 90_000 }
  );
}

async function openDag(): Promise<void> {
  await execute('jupyter-blocks:open-dag');
  await expect(page.locator('#jupyter-blocks-dag')).toBeVisible();
}

/** Type at the end of a block cell's source, then go back to command mode. */
async function appendToCell(name: string, text: string): Promise<void> {
  await showCell(name);
  await cellOf(name).locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text);
  await page.keyboard.press('Escape');
}

/** Select a block cell and press the "run block with upstreams" shortcut. */
async function runWithUpstreams(name: string): Promise<void> {
  await showCell(name);
  await cellOf(name).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Alt+Shift+Enter');
  await waitForKernelIdle(page);
}

async function scrollNotebook(where: 'top' | 'bottom'): Promise<void> {
  const scroller = page.locator('.jp-NotebookPanel .jp-WindowedPanel-outer');
  await scroller.evaluate((node, to) => {
    node.scrollTop = to === 'top' ? 0 : node.scrollHeight;
  }, where);
  // Windowing renders on scroll events; give it a couple of frames.
  await page.waitForTimeout(500);
  await scroller.evaluate((node, to) => {
    node.scrollTop = to === 'top' ? 0 : node.scrollHeight;
  }, where);
}

test('shows the structure before any kernel runs', async () => {
  for (const name of ['load', 'a', 'b', 'join']) {
    await expectBadge(name, 'data-state', 'never_run');
  }
  await showCell('load');
  await expect(badge('load')).toContainText('data_loader');
  await showCell('join');
  await expect(badge('join')).toContainText('← a, b');

  await openDag();
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-node[data-kind="block"]')).toHaveCount(4);
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-edge')).toHaveCount(4);
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-problem')).toHaveCount(0);
  for (const [from, to] of [
    ['load', 'a'],
    ['load', 'b'],
    ['a', 'join'],
    ['b', 'join']
  ]) {
    const fromBox = (await dagNode(from).boundingBox())!;
    const toBox = (await dagNode(to).boundingBox())!;
    expect(fromBox.y + fromBox.height).toBeLessThanOrEqual(toBox.y);
  }
  await page.locator('#jupyter-blocks-dag').screenshot({ path: path.join(ARTIFACTS, 'dag-before-run.png') });
});

test('run pipeline turns every badge fresh, live from the kernel', async () => {
  await execute('jupyter-blocks:run-pipeline');
  // Graph nodes are always in the DOM; badges only for cells on screen.
  for (const name of ['load', 'a', 'b', 'join']) {
    await expect(dagNode(name)).toHaveAttribute('data-state', DONE, { timeout: 120_000 });
  }
  for (const name of ['load', 'a', 'b', 'join']) {
    await expectBadge(name, 'data-state', DONE);
  }
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-connection')).toHaveAttribute('data-connected', 'true');
  await expect(badge('join')).toContainText(/rows/);
  for (const name of ['load', 'a', 'b', 'join']) {
    await expect(dagNode(name)).toHaveAttribute('data-state', DONE);
  }
  await badge('join').screenshot({ path: path.join(ARTIFACTS, 'badge-fresh.png') });
  await page.locator('#jupyter-blocks-dag').screenshot({ path: path.join(ARTIFACTS, 'dag-fresh.png') });
});

test('editing an upstream marks it and its downstream stale, with the reason', async () => {
  await appendToCell('a', '.copy()');
  await expectBadge('a', 'data-state', 'stale');
  await expectBadge('a', 'data-reason', 'code');
  await expect(badge('a')).toContainText('stale: code changed');
  await expectBadge('join', 'data-state', 'stale');
  await expectBadge('join', 'data-reason', 'upstream');
  await expect(badge('join')).toContainText('stale: upstream changed');
  await expectBadge('load', 'data-state', DONE);
  await expectBadge('b', 'data-state', DONE);
  await expect(dagNode('join')).toHaveAttribute('data-state', 'stale');
  // Still right once the kernel has the new sources.
  await page.waitForTimeout(1500);
  await expectBadge('a', 'data-reason', 'code');
  await expectBadge('join', 'data-reason', 'upstream');
  await badge('join').screenshot({ path: path.join(ARTIFACTS, 'badge-stale.png') });
});

test('a failing block is marked failed and its downstream not run', async () => {
  // Run the edited block itself first: its new code is what the kernel knows from now on.
  await runWithUpstreams('a');
  await expectBadge('a', 'data-state', DONE, 120_000);
  await expectBadge('join', 'data-state', 'stale');
  await expectBadge('join', 'data-reason', 'upstream');

  await appendToCell('b', '\nraise ValueError("boom")');
  await expectBadge('b', 'data-state', 'stale');
  await runWithUpstreams('b');
  await expectBadge('b', 'data-state', 'failed', 120_000);
  await expect(badge('b')).toContainText('boom');
  await runWithUpstreams('join');
  await expect(dagNode('join')).toHaveAttribute('data-state', 'skipped', { timeout: 120_000 });
  await expectBadge('join', 'data-state', 'skipped');
  await expect(badge('join')).toContainText(/not run|skipped/);
  await expect(badge('join')).toContainText('b');
  await expectBadge('b', 'data-state', 'failed');
  await expectBadge('a', 'data-state', DONE);
  await expect(dagNode('b')).toHaveAttribute('data-state', 'failed');
  await showCell('b');
  await badge('b').screenshot({ path: path.join(ARTIFACTS, 'badge-failed.png') });
  await showCell('join');
  await badge('join').screenshot({ path: path.join(ARTIFACTS, 'badge-skipped.png') });
  await page.locator('#jupyter-blocks-dag').screenshot({ path: path.join(ARTIFACTS, 'dag-failed.png') });
});

test('badges survive windowing: cells leave the DOM and come back right', async () => {
  await scrollNotebook('bottom');
  // With 'full' windowing the block cells are detached while off-screen.
  await expect(badge('load')).toHaveCount(0);
  // Edit a block while its cell is not rendered.
  await page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      const source: string = cell.sharedModel.getSource();
      if (source.startsWith('%%block load')) {
        cell.sharedModel.setSource(source.replace('range(10)', 'range(12)'));
      }
    }
  });
  await scrollNotebook('top');
  await expect(badge('load')).toHaveCount(1);
  await expectBadge('load', 'data-state', 'stale');
  await expectBadge('load', 'data-reason', 'code');
  await expectBadge('a', 'data-state', 'stale');
  await expectBadge('a', 'data-reason', 'upstream');
  // `b` failed on the old `load`: with a new upstream its failure no longer says what it does.
  await expectBadge('b', 'data-state', 'stale');
  await expectBadge('b', 'data-reason', 'upstream');
  await expectBadge('join', 'data-state', 'stale');
});

test('clicking a graph node lands on its cell', async () => {
  await scrollNotebook('bottom');
  await expect(badge('load')).toHaveCount(0);
  await dagNode('load').click();
  const active = page.locator('.jp-Notebook .jp-Cell.jp-mod-active');
  await expect(active.locator('.jp-BlocksBadge')).toHaveAttribute('data-block', 'load');
  await expect(badge('load')).toBeInViewport();
  await expect(dagNode('load')).toHaveClass(/jp-mod-selected/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'notebook-and-dag.png') });
});

test('the runs panel answers through the server extension', async () => {
  await execute('jupyter-blocks:open-runs');
  const panel = page.locator('#jupyter-blocks-runs');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.jp-BlocksRuns-title')).toContainText('fan.ipynb');
  // Either runs from the store or a message saying why there are none; never a blank panel.
  const runs = panel.locator('.jp-BlocksRuns-run');
  await expect(runs.first()).toBeVisible();
  // Newest first: the run where `b` failed.
  await expect(runs.first()).toHaveAttribute('data-status', 'failed');
  await runs.first().click();
  const blocks = panel.locator('.jp-BlocksRuns-blocks tr[data-block]');
  await expect(panel.locator('.jp-BlocksRuns-blocks tr[data-block="b"]')).toHaveAttribute('data-status', 'failed');
  expect(await blocks.count()).toBeGreaterThanOrEqual(2);
  await panel.screenshot({ path: path.join(ARTIFACTS, 'runs-panel.png') });
});

test('export pipeline writes the project through the server extension', async () => {
  // Put `b` right again so the pipeline exports.
  await page.evaluate(() => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const source: string = cells.get(i).sharedModel.getSource();
      if (source.startsWith('%%block b')) {
        cells.get(i).sharedModel.setSource(source.replace('\nraise ValueError("boom")', ''));
      }
    }
  });
  // The command waits for the dialog: start it without waiting.
  await page.evaluate(() => void (window as any).jupyterapp.commands.execute('jupyter-blocks:export'));
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  await dialog.locator('input').fill('proj');
  await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
  // What it will write, before writing anything.
  await expect(dialog.locator('.jp-Dialog-header')).toContainText('Export pipeline fan');
  await expect(dialog.locator('.jp-BlocksExport-files li[data-path="data_loaders/load.py"]')).toHaveAttribute(
    'data-state',
    'new'
  );
  await dialog.locator('.jp-Dialog-button', { hasText: 'Export' }).click();
  await expect(page.locator('.jp-toast-container, .Toastify')).toContainText('Exported fan.ipynb to proj', {
    timeout: 60_000
  });
  const metadata = path.join(process.env.JUPYTER_BLOCKS_ROOT!, 'proj', 'pipelines', 'fan', 'metadata.yaml');
  expect(fs.existsSync(metadata)).toBe(true);
});

test('cycles, unknown upstreams and duplicates show as errors on the graph', async () => {
  await openDag();
  const insert = (sources: string[]) =>
    page.evaluate(cellSources => {
      const model = (window as any).jupyterapp.shell.currentWidget.content.model;
      model.sharedModel.insertCells(
        6,
        cellSources.map(source => ({ cell_type: 'code', source, metadata: {} }))
      );
    }, sources);
  await insert(['%%block c -u join d\n1', '%%block d -u c\n2', '%%block e -u lod\n3', '%%block a\n4']);
  const problems = page.locator('#jupyter-blocks-dag .jp-BlocksDag-problem');
  await expect(problems.and(page.locator('[data-kind="cycle"]'))).toHaveText('cycle: c → d → c');
  await expect(problems.and(page.locator('[data-kind="unknown_upstream"]'))).toContainText("did you mean 'load'?");
  await expect(problems.and(page.locator('[data-kind="duplicate_name"]'))).toHaveCount(1);
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-node[data-kind="missing"]')).toHaveAttribute(
    'data-block',
    'lod'
  );
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-node.jp-mod-error')).toHaveCount(5);
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-edge.jp-mod-error')).toHaveCount(3);
  await expectBadge('e', 'data-problems', '1');
  await page.locator('#jupyter-blocks-dag').screenshot({ path: path.join(ARTIFACTS, 'dag-errors.png') });

  await page.evaluate(() => {
    const model = (window as any).jupyterapp.shell.currentWidget.content.model;
    model.sharedModel.deleteCellRange(6, 10);
  });
  await expect(problems).toHaveCount(0);
  await expect(page.locator('#jupyter-blocks-dag .jp-BlocksDag-node')).toHaveCount(4);
});

test('after a kernel restart the comm is reopened and states come back', async () => {
  // Back to the `load` that ran (the windowing test edited it), so its output is in the cache.
  await page.evaluate(() => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const source: string = cells.get(i).sharedModel.getSource();
      if (source.startsWith('%%block load')) {
        cells.get(i).sharedModel.setSource(source.replace('range(12)', 'range(10)'));
      }
    }
  });
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart());
  await waitForKernelIdle(page);
  const connection = page.locator('#jupyter-blocks-dag .jp-BlocksDag-connection');
  // The notebook loads the extension, so the new kernel loads it by itself and says what the
  // disk cache holds, before any cell runs.
  await expect(connection).toHaveAttribute('data-connected', 'true', { timeout: 60_000 });
  for (const name of ['load', 'a', 'b']) {
    await expect(dagNode(name)).toHaveAttribute('data-state', 'cached', { timeout: 60_000 });
  }
  await execute('jupyter-blocks:run-pipeline');
  for (const name of ['load', 'a', 'b', 'join']) {
    await expect(dagNode(name)).toHaveAttribute('data-state', DONE, { timeout: 120_000 });
  }
});
