/**
 * Block badges: the projection of a `NotebookBlocksModel` onto cell widgets.
 *
 * A badge is a small widget inserted into a block cell's layout, between the
 * cell header and the input. The truth lives in the model (keyed by cell id);
 * a badge is only ever (re)drawn from it. With windowing, cells start as
 * placeholders and are detached when off-screen, so every cell is re-projected
 * when it becomes ready or re-enters the viewport.
 */

import { Cell } from '@jupyterlab/cells';
import { IDisposable } from '@lumino/disposable';
import { PanelLayout, Widget } from '@lumino/widgets';

import { describeState, describeStats, formatAgo } from './describe';
import { NotebookBlocksModel } from './model';
import { effectiveBlockType } from './parser';
import { NEVER_RUN } from './derive';
import { cellLabel } from './sync';

export const BADGE_CLASS = 'jp-BlocksBadge';

/** Called when a badge is clicked (shows the block in the graph panel). */
export type BadgeClickHandler = (cellId: string) => void;

export class BadgeView implements IDisposable {
  constructor(
    private readonly _model: NotebookBlocksModel,
    private readonly _onClick: BadgeClickHandler
  ) {
    const notebook = _model.panel.content;
    _model.changed.connect(this._schedule, this);
    notebook.cellInViewportChanged.connect(this._onCellInViewport, this);
    notebook.model?.cells.changed.connect(this._schedule, this);
    this._schedule();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  set enabled(value: boolean) {
    this._enabled = value;
    this._schedule();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    cancelAnimationFrame(this._frame);
    const notebook = this._model.panel.content;
    this._model.changed.disconnect(this._schedule, this);
    notebook.cellInViewportChanged.disconnect(this._onCellInViewport, this);
    notebook.model?.cells.changed.disconnect(this._schedule, this);
    for (const badge of this._badges.values()) {
      badge.dispose();
    }
    this._badges.clear();
  }

  /** Redraw every badge on the next frame (many changes collapse into one redraw). */
  private _schedule(): void {
    if (this._isDisposed || this._frame) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._renderAll();
    });
  }

  private _onCellInViewport(_: unknown, cell: Cell): void {
    this._renderCell(cell);
  }

  private _renderAll(): void {
    if (this._isDisposed) {
      return;
    }
    const live = new Set<string>();
    for (const cell of this._model.panel.content.widgets) {
      live.add(cell.model.id);
      this._renderCell(cell);
    }
    // Deleted cells take their widgets with them; drop our references too.
    for (const [cellId, badge] of this._badges) {
      if (!live.has(cellId)) {
        badge.dispose();
        this._badges.delete(cellId);
      }
    }
  }

  private _renderCell(cell: Cell): void {
    if (this._isDisposed || cell.isDisposed) {
      return;
    }
    const cellId = cell.model.id;
    const node = this._enabled ? this._model.graph.byCell(cellId) : undefined;
    let badge = this._badges.get(cellId);
    if (!node) {
      if (badge) {
        badge.dispose();
        this._badges.delete(cellId);
      }
      return;
    }
    if (cell.isPlaceholder()) {
      // Not drawn yet: project once the cell has its layout.
      if (!this._waiting.has(cell)) {
        this._waiting.add(cell);
        void cell.ready.then(() => {
          this._waiting.delete(cell);
          this._renderCell(cell);
        });
      }
      return;
    }
    const layout = cell.layout as PanelLayout;
    if (!badge || badge.isDisposed || badge.parent !== cell) {
      badge?.dispose();
      badge = new Widget();
      badge.addClass(BADGE_CLASS);
      badge.node.addEventListener('click', () => this._onClick(cellId));
      // After the header, before the input.
      layout.insertWidget(Math.min(1, layout.widgets.length), badge);
      this._badges.set(cellId, badge);
    }
    this._draw(badge, cellId);
  }

  private _draw(badge: Widget, cellId: string): void {
    const graph = this._model.graph;
    const node = graph.byCell(cellId)!;
    const state = this._model.stateOf(cellId) ?? NEVER_RUN;
    const options = node.options;
    const element = badge.node;
    const name = options?.name ?? '';
    const stateName = state.state;
    const now = Date.now();

    element.dataset.block = name;
    element.dataset.state = stateName;
    element.dataset.reason = state.reason ?? '';
    element.dataset.cell = cellLabel(node.index);
    element.classList.toggle('jp-mod-selected', this._model.selectedCell === cellId);

    const parts: HTMLElement[] = [];
    parts.push(span('jp-BlocksBadge-state', describeState(state)));
    if (options) {
      parts.push(span('jp-BlocksBadge-name', name));
      const type = effectiveBlockType(options, node.source);
      if (type) {
        parts.push(span('jp-BlocksBadge-type', type));
      }
      if (options.lang !== 'python') {
        parts.push(span('jp-BlocksBadge-type', options.lang));
      }
      if (options.upstream.length) {
        parts.push(span('jp-BlocksBadge-upstream', `← ${options.upstream.join(', ')}`));
      }
    }
    const stats = describeStats(state, now);
    if (stats) {
      parts.push(span('jp-BlocksBadge-stats', stats));
    }
    const problems = graph.problemsOfCell(cellId);
    if (problems.length) {
      parts.push(span('jp-BlocksBadge-problem', problems.map(p => p.message).join('; ')));
    } else if (state.detail && (stateName === 'failed' || stateName === 'invalid')) {
      parts.push(span('jp-BlocksBadge-problem', firstLineOf(state.detail)));
    }
    element.dataset.problems = String(problems.length);

    const signature = parts.map(p => `${p.className}:${p.textContent}`).join('|');
    if (signature !== element.dataset.signature) {
      element.dataset.signature = signature;
      element.replaceChildren(...parts);
    }
    const made = formatAgo(state.finished, now);
    element.title = [
      `Block ${name || '(invalid)'} (${cellLabel(node.index)}): ${describeState(state)}`,
      made && stats ? `Output made ${made} (${stats})` : '',
      state.detail ?? '',
      ...problems.map(p => p.message),
      'Click to show it in the pipeline graph.'
    ]
      .filter(Boolean)
      .join('\n');
  }

  private _badges = new Map<string, Widget>();
  private _waiting = new WeakSet<Cell>();
  private _enabled = true;
  private _frame = 0;
  private _isDisposed = false;
}

function span(className: string, text: string): HTMLElement {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function firstLineOf(text: string): string {
  const line = text.split('\n').find(l => l.trim()) ?? text;
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}
