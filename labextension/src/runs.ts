/**
 * The Runs panel: recent pipeline runs of the active notebook, from the run store.
 *
 * Lists runs newest first, each with what started it (the cell, the `%blocks`
 * line, Run Pipeline, `jupyter-blocks run`), its status, start and duration,
 * and its block runs grouped under it. Clicking a run opens its detail above
 * the list, in view: per-block timings, and each block's Logs button opens
 * what it printed and logged in that run (a failed block's traceback
 * included) below its row. Refreshes when the notebook changes, when the
 * kernel reports that a run finished, and after a kernel restart (a run the
 * restart cut short shows as interrupted); open logs stay open. Above the
 * runs, the notebook's schedule: its triggers and backfills (`schedulesection.ts`).
 */

import { Widget } from '@lumino/widgets';

import { ApiError, BlockRun, RunDetail, RunSummary, getBlockLogs, getRun, listRuns } from './api';
import { formatRows, formatSeconds } from './describe';
import { element } from './dom';
import { attemptLabel, blockLine, blockTime, describeTrigger, lastAttempts, summarizeBlocks } from './history';
import { logsButtonLabel, logsView } from './logs';
import { NotebookBlocksModel } from './model';
import { ScheduleSection } from './schedulesection';
import { RunEvent } from './state';

export class RunsPanel extends Widget {
  constructor() {
    super();
    this.addClass('jp-BlocksRuns');
    const header = document.createElement('div');
    header.className = 'jp-BlocksRuns-header';
    this._title = document.createElement('span');
    this._title.className = 'jp-BlocksRuns-title';
    const refresh = document.createElement('button');
    refresh.className = 'jp-BlocksRuns-refresh jp-Button jp-mod-minimal';
    refresh.textContent = 'Refresh';
    refresh.addEventListener('click', () => void this.refresh());
    header.append(this._title, refresh);
    this._message = document.createElement('div');
    this._message.className = 'jp-BlocksRuns-message';
    this._list = document.createElement('table');
    this._list.className = 'jp-BlocksRuns-list';
    this._detail = document.createElement('div');
    this._detail.className = 'jp-BlocksRuns-detail';
    this._schedule = new ScheduleSection(() => this.isVisible);
    // The detail goes above the list, so opening a run never leaves it below the fold.
    this.node.append(header, this._schedule.node, this._message, this._detail, this._list);
  }

  limit = 50;
  /** How much of a block's output the logs view fetches, in KiB (the end of it). */
  logsLimitKiB = 64;

  set model(model: NotebookBlocksModel | null) {
    if (model === this._model) {
      return;
    }
    this._model?.runEvent.disconnect(this._onRunEvent, this);
    this._model?.link.reset.disconnect(this._onKernelReset, this);
    this._model?.link.connectionChanged.disconnect(this._onKernelReset, this);
    this._model = model;
    this._model?.runEvent.connect(this._onRunEvent, this);
    this._model?.link.reset.connect(this._onKernelReset, this);
    this._model?.link.connectionChanged.connect(this._onKernelReset, this);
    this._schedule.model = model;
    this._selected = null;
    this._openLogs.clear();
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const model = this._model;
    this._detail.replaceChildren();
    if (!model) {
      this._title.textContent = 'Runs';
      this._show('Open a notebook to see its runs.');
      this._list.replaceChildren();
      return;
    }
    const path = model.panel.context.path;
    this._title.textContent = `Runs of ${path.split('/').pop()}`;
    if (!this.isVisible) {
      this._stale = true;
      return;
    }
    this._stale = false;
    void this._schedule.refresh();
    try {
      const { runs } = await listRuns(path, this.limit);
      if (model !== this._model) {
        return;
      }
      this._renderList(runs ?? []);
      this._show(runs?.length ? '' : 'No runs recorded yet.');
      if (this._selected) {
        await this._open(this._selected);
      }
    } catch (error) {
      this._list.replaceChildren();
      this._show(error instanceof ApiError ? `Run history unavailable: ${error.message}` : String(error));
    }
  }

  dispose(): void {
    window.clearTimeout(this._resetTimer);
    this.model = null;
    this._schedule.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (this._stale) {
      void this.refresh();
    } else {
      this._schedule.showed();
    }
  }

  private _onRunEvent(_: NotebookBlocksModel, event: RunEvent): void {
    if (event.event === 'run_finished' || event.event === 'run_started') {
      void this.refresh();
    }
  }

  /** The kernel restarted (or came back): a run it cut short is interrupted now; show the list as it is. */
  private _onKernelReset(): void {
    window.clearTimeout(this._resetTimer);
    this._resetTimer = window.setTimeout(() => void this.refresh(), 1000);
  }

  private _show(message: string): void {
    this._message.textContent = message;
    this._message.hidden = !message;
  }

  private _renderList(runs: RunSummary[]): void {
    const head = row('th', ['Status', 'Started by', 'Started', 'Duration']);
    const rows: HTMLTableRowElement[] = [];
    for (const run of runs) {
      const blocks = lastAttempts((run.blocks ?? []) as BlockRun[]);
      const tr = row('td', [
        run.status ?? '',
        describeTrigger(run.trigger as string | null),
        formatTime(run.started_at),
        formatSeconds(durationOf(run)) ?? ''
      ]);
      tr.className = 'jp-BlocksRuns-run';
      tr.dataset.runId = run.run_id;
      tr.dataset.status = String(run.status ?? '');
      tr.title = [`Run ${run.run_id}`, summarizeBlocks(blocks), String(run.trigger ?? '')].filter(Boolean).join('\n');
      tr.classList.toggle('jp-mod-selected', run.run_id === this._selected);
      tr.addEventListener('click', () => void this._open(run.run_id));
      rows.push(tr);
      // Its block runs, under the run that contains them.
      for (const block of blocks) {
        const sub = row('td', [blockLine(block)]);
        sub.className = 'jp-BlocksRuns-runBlock';
        sub.dataset.runId = run.run_id;
        sub.dataset.block = blockName(block);
        sub.dataset.status = String(block.status ?? '');
        const cell = sub.firstElementChild as HTMLTableCellElement;
        cell.colSpan = 4;
        sub.addEventListener('click', () => void this._open(run.run_id));
        rows.push(sub);
      }
    }
    this._list.replaceChildren(head, ...rows);
  }

  private async _open(runId: string): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    if (runId !== this._selected) {
      this._openLogs.clear();
    }
    this._selected = runId;
    for (const tr of this._list.querySelectorAll<HTMLElement>('.jp-BlocksRuns-run')) {
      tr.classList.toggle('jp-mod-selected', tr.dataset.runId === runId);
    }
    try {
      const run = await getRun(model.panel.context.path, runId);
      this._renderDetail(run);
      this._detail.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      this._detail.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }

  private _renderDetail(run: RunDetail): void {
    const title = document.createElement('div');
    title.className = 'jp-BlocksRuns-detailTitle';
    const startedBy = describeTrigger(run.trigger as string | null);
    title.textContent = `Run ${run.run_id}: ${run.status ?? ''}${startedBy ? ` · ${startedBy}` : ''}`;
    const table = document.createElement('table');
    table.className = 'jp-BlocksRuns-blocks';
    table.append(row('th', ['Block', 'Status', 'Time', 'Rows', 'Error', 'Logs']));
    const blocks = run.blocks ?? [];
    // A block retried has a row per attempt; its logs (every attempt) open from the last one.
    const lastRow = new Map(blocks.map((block, index) => [blockName(block), index]));
    const outputBytes = new Map<string, number | null>();
    for (const block of blocks) {
      const bytes = typeof block.output_bytes === 'number' ? block.output_bytes : null;
      const sum = outputBytes.get(blockName(block));
      outputBytes.set(blockName(block), bytes === null || sum === null ? null : (sum ?? 0) + bytes);
    }
    const attempts = new Map<string, number>();
    for (const block of blocks) {
      attempts.set(blockName(block), (attempts.get(blockName(block)) ?? 0) + 1);
    }
    blocks.forEach((block, index) => {
      const name = blockName(block);
      const tr = row('td', [
        attemptLabel({ ...block, block: name }, attempts.get(name) ?? 1),
        block.status ?? '',
        blockTime(block),
        formatRows(block.rows ?? null, block.cols ?? null) ?? '',
        block.error ? String(block.error).split('\n')[0] : '',
        ''
      ]);
      tr.dataset.block = name;
      tr.dataset.status = String(block.status ?? '');
      table.append(tr);
      if (lastRow.get(name) === index) {
        const button = document.createElement('button');
        button.className = 'jp-BlocksRuns-logsButton jp-Button jp-mod-minimal';
        button.textContent = logsButtonLabel(outputBytes.get(name));
        button.title = `What ${name} printed and logged in this run`;
        button.setAttribute('aria-label', `Logs of ${name}: ${button.textContent}`);
        button.setAttribute('aria-expanded', 'false');
        button.addEventListener('click', event => {
          event.stopPropagation();
          this._toggleLogs(run, name, tr, button);
        });
        tr.lastElementChild!.append(button);
        if (this._openLogs.has(name)) {
          this._toggleLogs(run, name, tr, button);
        }
      }
    });
    this._detail.replaceChildren(title, table);
  }

  /** Open a block's logs in a row below its own, or close them. */
  private _toggleLogs(run: RunDetail, block: string, tr: HTMLTableRowElement, button: HTMLButtonElement): void {
    const next = tr.nextElementSibling as HTMLElement | null;
    if (next?.classList.contains('jp-BlocksRuns-logsRow')) {
      next.remove();
      this._openLogs.delete(block);
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    this._openLogs.add(block);
    button.setAttribute('aria-expanded', 'true');
    const logsRow = document.createElement('tr');
    logsRow.className = 'jp-BlocksRuns-logsRow';
    logsRow.dataset.block = block;
    const cell = document.createElement('td');
    cell.colSpan = tr.children.length;
    const view = document.createElement('div');
    view.className = 'jp-BlocksRuns-logs';
    view.dataset.state = 'loading';
    view.textContent = 'Loading logs…';
    cell.append(view);
    logsRow.append(cell);
    tr.after(logsRow);
    void this._loadLogs(run, block, view);
  }

  private async _loadLogs(run: RunDetail, block: string, view: HTMLDivElement): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    let content: HTMLElement[];
    try {
      const logs = await getBlockLogs(model.panel.context.path, run.run_id, block, this.logsLimitKiB * 1024);
      const shown = logsView(logs);
      view.dataset.state = shown.kind;
      if (shown.kind === 'empty') {
        content = [element('div', 'jp-BlocksRuns-logsEmpty', shown.text)];
      } else {
        const text = element('pre', 'jp-BlocksRuns-logsText', shown.text);
        content = shown.note ? [element('div', 'jp-BlocksRuns-logsNote', shown.note), text] : [text];
      }
    } catch (error) {
      view.dataset.state = 'error';
      const message = error instanceof ApiError ? error.message : String(error);
      content = [element('div', 'jp-BlocksRuns-logsError', `Logs unavailable: ${message}`)];
    }
    view.replaceChildren(...content);
    // The end is what matters most (where a failure is): start there.
    const text = view.querySelector('pre');
    if (text) {
      text.scrollTop = text.scrollHeight;
    }
  }

  private _model: NotebookBlocksModel | null = null;
  private _selected: string | null = null;
  /** Blocks of the selected run whose logs are open. */
  private _openLogs = new Set<string>();
  private _stale = false;
  private _resetTimer = 0;
  private _title: HTMLSpanElement;
  private _message: HTMLDivElement;
  private _list: HTMLTableElement;
  private _detail: HTMLDivElement;
  private _schedule: ScheduleSection;
}

function row(cellTag: 'td' | 'th', cells: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const text of cells) {
    const cell = document.createElement(cellTag);
    cell.textContent = text;
    tr.append(cell);
  }
  return tr;
}

function blockName(block: BlockRun): string {
  return String(block.block ?? block['name'] ?? '');
}

function durationOf(run: RunSummary): number | null {
  if (typeof run.seconds === 'number') {
    return run.seconds;
  }
  if (run.started_at && run.finished_at) {
    const seconds = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
    return Number.isFinite(seconds) ? seconds : null;
  }
  return null;
}

function formatTime(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}
