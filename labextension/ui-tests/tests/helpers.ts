/**
 * Shared steps of the UI tests: open a notebook, find badges, cells and graph
 * nodes (with windowing, off-screen cells have no DOM), run commands, type in
 * a cell, change a setting, run the CLI, and keep a screenshot.
 */
import { Locator, Page, expect } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const REPO = path.resolve(__dirname, '..', '..', '..');

export function serverUrl(): string {
  return process.env.JUPYTER_BLOCKS_URL!;
}

export function token(): string {
  return process.env.JUPYTER_BLOCKS_TOKEN!;
}

export function root(): string {
  return process.env.JUPYTER_BLOCKS_ROOT!;
}

/** Open a notebook in a fresh workspace and wait for its kernel. */
export async function openNotebook(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.goto(`${serverUrl()}lab/tree/${name}?reset&token=${token()}`);
  await page.waitForSelector('.jp-NotebookPanel .jp-Notebook', { timeout: 90_000 });
  await waitForKernelIdle(page);
}

export async function waitForKernelIdle(page: Page, timeout = 90_000): Promise<void> {
  await page.waitForFunction(
    () => (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle',
    undefined,
    { timeout }
  );
}

/** Change one of the extension's settings through the server (as the Settings Editor does). */
export async function setSettings(values: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${serverUrl()}lab/api/settings/jupyter-blocks:plugin`, {
    method: 'PUT',
    headers: { Authorization: `token ${token()}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ raw: JSON.stringify(values) })
  });
  if (!response.ok) {
    throw new Error(`cannot save the settings: ${response.status} ${await response.text()}`);
  }
}

export async function execute(page: Page, id: string, args: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(([command, commandArgs]) => (window as any).jupyterapp.commands.execute(command, commandArgs), [
    id,
    args
  ] as const);
}

/** Start a command without waiting for it (it opens a dialog, or runs for a while). */
export async function start(page: Page, id: string): Promise<void> {
  await page.evaluate(command => void (window as any).jupyterapp.commands.execute(command), id);
}

export function badge(page: Page, name: string): Locator {
  return page.locator(`.jp-BlocksBadge[data-block="${name}"]`);
}

export function cellOf(page: Page, name: string): Locator {
  return page.locator('.jp-Notebook .jp-Cell', { has: badge(page, name) });
}

export function dagNode(page: Page, name: string): Locator {
  return page.locator(`#jupyter-blocks-dag .jp-BlocksDag-node[data-block="${name}"]`);
}

/** Scroll a block's cell into view. */
export async function showCell(page: Page, name: string): Promise<void> {
  await page.evaluate(async blockName => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    const index = notebook.widgets.findIndex((cell: any) =>
      new RegExp(`^%%block\\s+${blockName}(\\s|$)`).test(cell.model.sharedModel.getSource())
    );
    await notebook.scrollToItem(index, 'center');
  }, name);
  await page.waitForTimeout(150);
}

/** Wait until a block's badge (brought on screen) has an attribute value. */
export async function expectBadge(
  page: Page,
  name: string,
  attribute: string,
  value: string | RegExp,
  timeout = 30_000
): Promise<void> {
  await expect(async () => {
    await showCell(page, name);
    await expect(badge(page, name)).toHaveAttribute(attribute, value, { timeout: 500 });
  }).toPass({ timeout });
}

/** Select a block cell and press Alt-Shift-Enter (Run Block with Upstreams). */
export async function pressRunWithUpstreams(page: Page, name: string): Promise<void> {
  await showCell(page, name);
  await cellOf(page, name).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Alt+Shift+Enter');
}

/** The text of every output of every cell, from the notebook's model (windowing cannot hide it). */
export async function outputsText(page: Page, blockName?: string): Promise<string> {
  return page.evaluate(name => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    const parts: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type !== 'code') {
        continue;
      }
      if (name && !new RegExp(`^%%block\\s+${name}(\\s|$)`).test(cell.sharedModel.getSource())) {
        continue;
      }
      for (const output of cell.outputs.toJSON()) {
        if (output.output_type === 'stream') {
          parts.push(String(output.text));
        } else if (output.output_type === 'error') {
          parts.push(`${output.ename}: ${output.evalue}\n${(output.traceback as string[]).join('\n')}`);
        } else {
          parts.push(String((output.data as any)?.['text/plain'] ?? ''));
        }
      }
    }
    return parts.join('\n');
  }, blockName);
}

/** The outputs of a block's cell, as JSON. */
export async function outputsOf(page: Page, blockName: string): Promise<any[]> {
  return page.evaluate(name => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (new RegExp(`^%%block\\s+${name}(\\s|$)`).test(cell.sharedModel.getSource())) {
        return cell.outputs.toJSON();
      }
    }
    return [];
  }, blockName);
}

/** The jupyter-blocks CLI in the server's root (`env` on top of ours); returns its exit code and output. */
export function blocksCli(args: string[], env: Record<string, string> = {}): { status: number; output: string } {
  const python = process.env.JUPYTER_BLOCKS_PYTHON || 'python3';
  try {
    const output = execFileSync(python, ['-m', 'jupyter_blocks.cli', ...args], {
      cwd: root(),
      env: {
        ...process.env,
        ...env,
        PYTHONPATH: [REPO, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter)
      },
      encoding: 'utf-8',
      stdio: ['ignore', 'pipe', 'pipe']
    });
    return { status: 0, output };
  } catch (error: any) {
    return { status: error.status ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

export async function screenshot(target: Page | Locator, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await target.screenshot({ path: path.join(ARTIFACTS, name) });
}
