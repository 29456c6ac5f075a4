/**
 * Per-notebook block model: structure from cell sources, live state from the kernel.
 *
 * Owns the graph of one notebook (rebuilt when cells are edited, moved, added
 * or deleted), the kernel's states (`LiveStates`), and the comm. Everything is
 * keyed by cell id or block name, never by DOM nodes, so windowed (detached)
 * cells and re-rendered cells read the same truth. Views (badges, graph
 * panel) listen to `changed` and re-project.
 *
 * The kernel runs the code it was last sent, so every code cell is synced a
 * moment after an edit and at once before any execution (a cell, a command,
 * Run All): a block's upstreams always run with the code on screen. The
 * sources of every block are noted when an execution is sent; its run events
 * say the blocks ran with those.
 */

import { CellModel } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { BlockGraph } from './graph';
import { Execution, KernelLink, LinkMessage } from './kernel';
import { isBlockSource, parseCellSource } from './parser';
import { DerivedState, deriveStates } from './derive';
import { LiveStates, RunEvent } from './state';
import { NotebookCell, SyncMessage, syncMessage } from './sync';

export interface ModelOptions {
  syncDelay: number;
  /** Load the extension quietly in a kernel that has not, when the notebook loads it in a cell. */
  loadExtension: boolean;
}

const LOADS_EXTENSION = /^\s*%(load_ext|reload_ext)\s+jupyter_blocks\b/m;
/** How often a running block's elapsed time is redrawn. */
const TICK_MS = 500;

export class NotebookBlocksModel implements IDisposable {
  constructor(
    readonly panel: NotebookPanel,
    options: ModelOptions
  ) {
    this._syncDelay = options.syncDelay;
    this.loadExtension = options.loadExtension;
    this.link = new KernelLink(panel.sessionContext);
    this.link.openPayload = () => this._markSent(this._sync());
    this.link.shouldLoad = () => this.loadExtension && this.loadsExtension();
    this.link.received.connect(this._onKernelMessage, this);
    this.link.reset.connect(this._onKernelReset, this);
    this.link.connectionChanged.connect(() => this._changed.emit(), this);
    this.link.executions.connect(this._onExecution, this);
    NotebookActions.executionScheduled.connect(this._onExecutionScheduled, this);

    const model = panel.context.model;
    model.contentChanged.connect(this._onContentChanged, this);
    model.cells.changed.connect(this._onContentChanged, this);
    this._rebuild();
  }

  readonly link: KernelLink;

  /** Whether to load the extension in a kernel that has not loaded it (a setting). */
  loadExtension: boolean;

  get graph(): BlockGraph {
    return this._graph;
  }

  /** Structure or state changed (also every half second while a block runs, for its clock). */
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
    return this._cells().map(cell => cell.id);
  }

  /** Whether a code cell loads the extension (`%load_ext jupyter_blocks`). */
  loadsExtension(): boolean {
    return this._cells().some(cell => cell.type === 'code' && LOADS_EXTENSION.test(cell.source));
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

  /** Send the cells to the kernel now if they changed since they were last sent. */
  flushSync(): void {
    this._rebuild();
    window.clearTimeout(this._syncTimer);
    const message = this._sync();
    if (JSON.stringify(message) !== this._sentKey && this.link.send(message as any)) {
      this._markSent(message);
    }
  }

  /** Send the cells to the kernel now. */
  sync(): void {
    window.clearTimeout(this._syncTimer);
    const message = this._sync();
    if (this.link.send(message as any)) {
      this._markSent(message);
    }
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
    window.clearInterval(this._ticker);
    const model = this.panel.context.model;
    model.contentChanged.disconnect(this._onContentChanged, this);
    model.cells.changed.disconnect(this._onContentChanged, this);
    NotebookActions.executionScheduled.disconnect(this._onExecutionScheduled, this);
    this.link.dispose();
    Signal.clearData(this);
  }

  private _onContentChanged(): void {
    this._rebuild();
    if (JSON.stringify(this._sync()) !== this._sentKey) {
      window.clearTimeout(this._syncTimer);
      this._syncTimer = window.setTimeout(() => this.flushSync(), this._syncDelay);
    }
  }

  /** A cell of this notebook is about to be sent for execution: the kernel must see the cells first. */
  private _onExecutionScheduled(_: unknown, args: { notebook: Notebook }): void {
    if (args.notebook === this.panel.content) {
      this.flushSync();
    }
  }

  /** Rebuild the graph when a block cell's source or the block cells' positions changed. */
  private _rebuild(): void {
    const cells = this._cells();
    const blocks = cells
      .map((cell, index) => ({ cellId: cell.id, source: cell.source, index, type: cell.type }))
      .filter(cell => cell.type === 'code' && isBlockSource(cell.source))
      .map(({ cellId, source, index }) => ({ cellId, source, index }));
    const key = JSON.stringify(blocks);
    if (key === this._cellsKey) {
      return;
    }
    this._cellsKey = key;
    this._graph = BlockGraph.fromCells(blocks);
    this._derive();
  }

  private _cells(): NotebookCell[] {
    const cells = this.panel.context.model.cells;
    const found: NotebookCell[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i) as CellModel;
      const tags = cell.getMetadata('tags');
      found.push({
        id: cell.id,
        type: cell.type,
        source: cell.sharedModel.getSource(),
        tags: Array.isArray(tags) ? tags.map(String) : []
      });
    }
    return found;
  }

  private _sync(): SyncMessage {
    return syncMessage(this._cells(), this.panel.context.path);
  }

  private _markSent(message: SyncMessage): any {
    this._sentKey = JSON.stringify(message);
    return message;
  }

  private _currentSource = (name: string): string | undefined => this._graph.byName(name)?.source;

  private _onKernelMessage(_: KernelLink, { data, parent }: LinkMessage): void {
    if (data.type === 'state' && Array.isArray(data.blocks)) {
      this._live.applySnapshot(data.blocks, this._currentSource);
      this._derive();
    } else if (data.type === 'event' && data.event) {
      const sent = parent ? this._sentSources.get(parent) : undefined;
      const ranWith = (name: string) => (sent ? sent.get(name) : undefined) ?? this._currentSource(name);
      if (this._live.applyEvent(data.event, ranWith)) {
        this._derive();
      }
      this._runEvent.emit(data.event);
    }
  }

  /** Note what each execution runs with, and queue the block of a block cell sent for execution. */
  private _onExecution(_: KernelLink, execution: Execution): void {
    if (execution.done) {
      const name = this._executing.get(execution.id);
      this._executing.delete(execution.id);
      this._sentSources.delete(execution.id);
      if (name) {
        this._live.cellDone(name);
        this._derive();
      }
      return;
    }
    const sources = new Map<string, string>();
    for (const node of this._graph.nodes) {
      if (node.options && !sources.has(node.options.name)) {
        sources.set(node.options.name, node.source);
      }
    }
    this._sentSources.set(execution.id, sources);
    const parsed = parseCellSource(execution.code);
    if (parsed.kind === 'block') {
      this._executing.set(execution.id, parsed.options.name);
      this._live.cellQueued(parsed.options.name);
      this._derive();
    }
  }

  private _onKernelReset(): void {
    this._executing.clear();
    this._sentSources.clear();
    this._sentKey = '';
    if (!this._live.isEmpty) {
      this._live.clear();
      this._derive();
    }
  }

  private _derive(): void {
    this._states = deriveStates(this._graph, this._live);
    const running = [...this._states.values()].some(state => state.state === 'running');
    if (running && !this._ticker) {
      this._ticker = window.setInterval(() => this._changed.emit(), TICK_MS);
    } else if (!running && this._ticker) {
      window.clearInterval(this._ticker);
      this._ticker = 0;
    }
    this._changed.emit();
  }

  private _graph: BlockGraph = BlockGraph.fromCells([]);
  private _states = new Map<string, DerivedState>();
  private _live = new LiveStates();
  private _executing = new Map<string, string>();
  /** Execution id -> each block's source when the execution was sent. */
  private _sentSources = new Map<string, Map<string, string>>();
  private _cellsKey = '';
  private _sentKey = '';
  private _selectedCell: string | null = null;
  private _syncDelay: number;
  private _syncTimer = 0;
  private _ticker = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _runEvent = new Signal<this, RunEvent>(this);
}
