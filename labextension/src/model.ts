/**
 * Per-notebook block model: structure from cell sources, live state from the kernel.
 *
 * Owns the graph of one notebook (rebuilt when cells are edited, moved, added
 * or deleted), the kernel's states (`LiveStates`), and the comm. Everything is
 * keyed by cell id or block name, never by DOM nodes, so windowed (detached)
 * cells and re-rendered cells read the same truth. Views (badges, graph
 * panel) listen to `changed` and re-project.
 */

import { CellModel } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { BlockGraph, CellSource } from './graph';
import { Execution, KernelLink } from './kernel';
import { isBlockSource, parseCellSource } from './parser';
import { DerivedState, KernelMessage, LiveStates, RunEvent, deriveStates } from './state';

export interface ModelOptions {
  syncDelay: number;
}

export class NotebookBlocksModel implements IDisposable {
  constructor(
    readonly panel: NotebookPanel,
    options: ModelOptions
  ) {
    this._syncDelay = options.syncDelay;
    this.link = new KernelLink(panel.sessionContext);
    this.link.openPayload = () => this._syncMessage();
    this.link.received.connect(this._onKernelMessage, this);
    this.link.reset.connect(this._onKernelReset, this);
    this.link.connectionChanged.connect(() => this._changed.emit(), this);
    this.link.executions.connect(this._onExecution, this);

    const model = panel.context.model;
    model.contentChanged.connect(this._onContentChanged, this);
    model.cells.changed.connect(this._onContentChanged, this);
    this._rebuild();
  }

  readonly link: KernelLink;

  get graph(): BlockGraph {
    return this._graph;
  }

  /** Structure or state changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A run event arrived (the runs panel refreshes on `run_finished`). */
  get runEvent(): ISignal<this, RunEvent> {
    return this._runEvent;
  }

  /** The block selected in the graph panel (a cell id). */
  get selectedCell(): string | null {
    return this._selectedCell;
  }

  set selectedCell(cellId: string | null) {
    if (cellId !== this._selectedCell) {
      this._selectedCell = cellId;
      this._changed.emit();
    }
  }

  stateOf(cellId: string): DerivedState | undefined {
    return this._states.get(cellId);
  }

  /** Ids of every cell of the notebook, in order. */
  cellIds(): string[] {
    const cells = this.panel.context.model.cells;
    const ids: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      ids.push(cells.get(i).id);
    }
    return ids;
  }

  /** Make a block cell the active cell and scroll it into view (windowed notebooks included). */
  async revealCell(cellId: string): Promise<void> {
    const notebook = this.panel.content;
    const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
    if (index < 0) {
      return;
    }
    this.selectedCell = cellId;
    notebook.mode = 'command';
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    await notebook.scrollToItem(index, 'center');
    notebook.activeCell?.node.focus();
  }

  /** Ask the kernel for a fresh snapshot now. */
  sync(): void {
    window.clearTimeout(this._syncTimer);
    this.link.send(this._syncMessage());
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    window.clearTimeout(this._syncTimer);
    const model = this.panel.context.model;
    model.contentChanged.disconnect(this._onContentChanged, this);
    model.cells.changed.disconnect(this._onContentChanged, this);
    this.link.dispose();
    Signal.clearData(this);
  }

  private _onContentChanged(): void {
    if (this._rebuild()) {
      window.clearTimeout(this._syncTimer);
      this._syncTimer = window.setTimeout(() => this.sync(), this._syncDelay);
    }
  }

  /** Rebuild the graph when a block cell's source or the block cells' order changed. */
  private _rebuild(): boolean {
    const cells = this._blockCells();
    const key = JSON.stringify(cells);
    if (key === this._cellsKey) {
      return false;
    }
    this._cellsKey = key;
    this._graph = BlockGraph.fromCells(cells);
    this._derive();
    return true;
  }

  private _blockCells(): CellSource[] {
    const cells = this.panel.context.model.cells;
    const blocks: CellSource[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i) as CellModel;
      if (cell.type !== 'code') {
        continue;
      }
      const source = cell.sharedModel.getSource();
      if (isBlockSource(source)) {
        blocks.push({ cellId: cell.id, source });
      }
    }
    return blocks;
  }

  private _syncMessage(): { type: 'sync'; cells: { cell_id: string; source: string }[] } {
    return {
      type: 'sync',
      cells: this._blockCells().map(c => ({ cell_id: c.cellId, source: c.source }))
    };
  }

  private _sourceOf = (name: string): string | undefined => this._graph.byName(name)?.source;

  private _onKernelMessage(_: KernelLink, message: KernelMessage): void {
    if (message.type === 'state' && Array.isArray(message.blocks)) {
      this._live.applySnapshot(message.blocks, this._sourceOf);
      this._derive();
    } else if (message.type === 'event' && message.event) {
      if (this._live.applyEvent(message.event, this._sourceOf)) {
        this._derive();
      }
      this._runEvent.emit(message.event);
    }
  }

  /** Remember the source a block cell is executed with: that is what its run events are about. */
  private _onExecution(_: KernelLink, execution: Execution): void {
    if (execution.done) {
      const name = this._executing.get(execution.id);
      this._executing.delete(execution.id);
      if (name) {
        this._live.executionEnded(name);
      }
      return;
    }
    const parsed = parseCellSource(execution.code);
    if (parsed.kind === 'block') {
      this._executing.set(execution.id, parsed.options.name);
      this._live.executionStarted(parsed.options.name, execution.code);
    }
  }

  private _onKernelReset(): void {
    this._executing.clear();
    if (!this._live.isEmpty) {
      this._live.clear();
      this._derive();
    }
  }

  private _derive(): void {
    this._states = deriveStates(this._graph, this._live);
    this._changed.emit();
  }

  private _graph: BlockGraph = BlockGraph.fromCells([]);
  private _states = new Map<string, DerivedState>();
  private _live = new LiveStates();
  private _executing = new Map<string, string>();
  private _cellsKey = '';
  private _selectedCell: string | null = null;
  private _syncDelay: number;
  private _syncTimer = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _runEvent = new Signal<this, RunEvent>(this);
}
