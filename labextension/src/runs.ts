/**
 * The Runs panel: recent pipeline runs of the active notebook, from the run store.
 *
 * Lists runs (status, pipeline, start, duration); clicking one shows its
 * per-block timings. Refreshes when the notebook changes and when the kernel
 * reports that a run finished.
 */

import { Widget } from '@lumino/widgets';

import { ApiError, BlockRun, RunDetail, RunSummary, getRun, listRuns } from './api';
import { NotebookBlocksModel } from './model';
import { RunEvent, formatRows, formatSeconds } from './state';

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
    this.node.append(header, this._message, this._list, this._detail);
  }

  limit = 50;

  set model(model: NotebookBlocksModel | null) {
    if (model === this._model) {
      return;
    }
    this._model?.runEvent.disconnect(this._onRunEvent, this);
    this._model = model;
    this._model?.runEvent.connect(this._onRunEvent, this);
    this._selected = null;
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
    this.model = null;
    super.dispose();
  }

  protected onAfterShow(): void {
    if (this._stale) {
      void this.refresh();
    }
  }

  private _onRunEvent(_: NotebookBlocksModel, event: RunEvent): void {
    if (event.event === 'run_finished') {
      void this.refresh();
    }
  }

  private _show(message: string): void {
    this._message.textContent = message;
    this._message.hidden = !message;
  }

  private _renderList(runs: RunSummary[]): void {
    const head = row('th', ['Status', 'Pipeline', 'Started', 'Duration']);
    const rows = runs.map(run => {
      const tr = row('td', [
        run.status ?? '',
        run.pipeline ?? '',
        formatTime(run.started_at),
        formatSeconds(durationOf(run)) ?? ''
      ]);
      tr.className = 'jp-BlocksRuns-run';
      tr.dataset.runId = run.run_id;
      tr.dataset.status = String(run.status ?? '');
      tr.classList.toggle('jp-mod-selected', run.run_id === this._selected);
      tr.addEventListener('click', () => void this._open(run.run_id));
      return tr;
    });
    this._list.replaceChildren(head, ...rows);
  }

  private async _open(runId: string): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    this._selected = runId;
    for (const tr of this._list.querySelectorAll<HTMLElement>('.jp-BlocksRuns-run')) {
      tr.classList.toggle('jp-mod-selected', tr.dataset.runId === runId);
    }
    try {
      const run = await getRun(model.panel.context.path, runId);
      this._renderDetail(run);
    } catch (error) {
      this._detail.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }

  private _renderDetail(run: RunDetail): void {
    const title = document.createElement('div');
    title.className = 'jp-BlocksRuns-detailTitle';
    title.textContent = `Run ${run.run_id}: ${run.status ?? ''}`;
    const table = document.createElement('table');
    table.className = 'jp-BlocksRuns-blocks';
    table.append(row('th', ['Block', 'Status', 'Time', 'Rows', 'Error']));
    for (const block of run.blocks ?? []) {
      const tr = row('td', [
        blockName(block),
        block.status ?? '',
        formatSeconds(block.seconds ?? null) ?? '',
        formatRows(block.rows ?? null, block.cols ?? null) ?? '',
        block.error ? String(block.error).split('\n')[0] : ''
      ]);
      tr.dataset.block = blockName(block);
      tr.dataset.status = String(block.status ?? '');
      table.append(tr);
    }
    this._detail.replaceChildren(title, table);
  }

  private _model: NotebookBlocksModel | null = null;
  private _selected: string | null = null;
  private _stale = false;
  private _title: HTMLSpanElement;
  private _message: HTMLDivElement;
  private _list: HTMLTableElement;
  private _detail: HTMLDivElement;
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
