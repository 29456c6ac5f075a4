/**
 * The DAG side panel: the active notebook's blocks as an SVG graph.
 *
 * Follows whichever notebook is current and redraws when its model changes.
 * Each node says its state in words (not only as a colour) and its type with
 * the last run's time and rows. The graph fits the panel's width by default;
 * the buttons zoom in and out and fit again, Ctrl/⌘ + wheel zooms at the
 * cursor, the wheel and a drag pan. Structural problems (cycles, unknown
 * upstreams, duplicate names, parse errors) are drawn on the graph and listed
 * above it. Clicking a node selects its cell and scrolls to it; the header
 * runs the pipeline, or the selected block with its upstreams.
 */

import { Widget } from '@lumino/widgets';

import { describeState, formatAgo, formatRows, formatSeconds } from './describe';
import { Direction, GraphLayout, LaidOutNode, layoutGraph, nodeLines } from './layout';
import { NotebookBlocksModel } from './model';
import { PanZoom } from './panzoom';
import { cellLabel } from './sync';
import { View, fitToWidth, reveal, viewBox, zoomAt } from './viewport';

const SVG = 'http://www.w3.org/2000/svg';
const ZOOM_STEP = 1.25;

export interface DagPanelOptions {
  /** Select a block cell in its notebook and scroll to it. */
  revealCell: (model: NotebookBlocksModel, cellId: string) => void;
  /** Run the whole pipeline (`cellId` null) or a block with its upstreams. */
  run: (model: NotebookBlocksModel, cellId: string | null) => void;
}

export class DagPanel extends Widget {
  constructor(private readonly _options: DagPanelOptions) {
    super();
    this.addClass('jp-BlocksDag');
    this._header = document.createElement('div');
    this._header.className = 'jp-BlocksDag-header';
    this._title = document.createElement('span');
    this._title.className = 'jp-BlocksDag-title';
    this._status = document.createElement('span');
    this._status.className = 'jp-BlocksDag-connection';
    this._header.append(this._title, this._status);

    this._tools = document.createElement('div');
    this._tools.className = 'jp-BlocksDag-tools';
    this._runPipeline = button('jp-BlocksDag-runPipeline', '▶ Pipeline', 'Run every block as one pipeline run', () =>
      this._run(null)
    );
    this._runBlock = button('jp-BlocksDag-runBlock', '▶ Block', 'Run the selected block with its upstreams', () =>
      this._run(this._model?.selectedCell ?? null)
    );
    const spacer = document.createElement('span');
    spacer.className = 'jp-BlocksDag-spacer';
    this._tools.append(
      this._runPipeline,
      this._runBlock,
      spacer,
      button('jp-BlocksDag-zoomOut', '−', 'Zoom out', () => this._zoom(1 / ZOOM_STEP)),
      button('jp-BlocksDag-fit', 'Fit', 'Fit the graph to the panel', () => this.fit()),
      button('jp-BlocksDag-zoomIn', '+', 'Zoom in', () => this._zoom(ZOOM_STEP))
    );

    this._problems = document.createElement('ul');
    this._problems.className = 'jp-BlocksDag-problems';
    this._canvas = document.createElement('div');
    this._canvas.className = 'jp-BlocksDag-canvas';
    this._panZoom = new PanZoom(this._canvas, {
      view: () => (this._svg ? this._view : null),
      show: view => {
        this._view = view;
        this._fitted = false;
        this._applyView();
      }
    });
    this.node.append(this._header, this._tools, this._problems, this._canvas);
    this._render();
  }

  get model(): NotebookBlocksModel | null {
    return this._model;
  }

  /** Show another notebook's graph (or none). */
  set model(model: NotebookBlocksModel | null) {
    if (model === this._model) {
      return;
    }
    this._model?.changed.disconnect(this._schedule, this);
    this._model = model && !model.isDisposed ? model : null;
    this._model?.changed.connect(this._schedule, this);
    this._graphLayoutKey = '';
    this._fitted = true;
    this._schedule();
  }

  set direction(direction: Direction) {
    this._direction = direction;
    this._graphLayoutKey = '';
    this._schedule();
  }

  /** The current view (scale and offset) of the graph. */
  get view(): View {
    return { ...this._view };
  }

  /** Fit the graph to the panel's width again (the default view). */
  fit(): void {
    this._fitted = true;
    this._applyView();
  }

  /** Highlight a block's node and bring it into view. */
  highlight(cellId: string): void {
    if (!this._model) {
      return;
    }
    this._model.selectedCell = cellId;
    this._render();
    const node = this._graphLayout?.nodes.find(n => n.cellId === cellId);
    if (node) {
      const box = { x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width, height: node.height };
      const next = reveal(this._view, box, this._panelSize());
      if (next !== this._view) {
        this._fitted = false;
        this._view = next;
        this._applyView();
      }
    }
  }

  dispose(): void {
    this.model = null;
    cancelAnimationFrame(this._frame);
    this._panZoom.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    this._schedule();
  }

  protected onResize(): void {
    this._applyView();
  }

  private _schedule(): void {
    if (this._frame || this.isDisposed) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  private _run(cellId: string | null): void {
    if (this._model) {
      this._options.run(this._model, cellId);
    }
  }

  private _render(): void {
    const model = this._model;
    if (model?.isDisposed) {
      this.model = null;
      return;
    }
    if (!model) {
      this._title.textContent = 'Open a notebook to see its pipeline.';
      this._status.textContent = '';
      this._tools.hidden = true;
      this._problems.replaceChildren();
      this._canvas.replaceChildren();
      this._svg = null;
      this.node.dataset.blocks = '0';
      return;
    }
    const graph = model.graph;
    this._title.textContent = model.panel.context.localPath.split('/').pop() ?? '';
    this._status.dataset.connected = String(model.link.connected);
    this._status.textContent = model.link.connected ? 'live' : 'no kernel state';
    this._status.title = model.link.connected
      ? 'States come from the kernel.'
      : 'Structure from the cell sources; run `%load_ext jupyter_blocks` in the kernel for live states.';
    this._tools.hidden = graph.nodes.length === 0;
    const selected = model.selectedCell ? graph.nameOfCell(model.selectedCell) : null;
    this._runBlock.disabled = !selected;
    this._runBlock.title = selected
      ? `Run ${selected} with its upstreams`
      : 'Select a block in the graph to run it with its upstreams';
    this.node.dataset.blocks = String(graph.nodes.length);
    this.node.dataset.problems = String(graph.problems.length);

    this._problems.replaceChildren(
      ...graph.problems.map(problem => {
        const item = document.createElement('li');
        item.className = 'jp-BlocksDag-problem';
        item.dataset.kind = problem.kind;
        item.textContent = problem.message;
        const target = problem.cellIds[0];
        if (target) {
          item.addEventListener('click', () => this._options.revealCell(model, target));
        }
        return item;
      })
    );

    if (graph.nodes.length === 0) {
      const empty = document.createElement('p');
      empty.className = 'jp-BlocksDag-empty';
      empty.textContent = 'No %%block cells in this notebook.';
      this._canvas.replaceChildren(empty);
      this._svg = null;
      return;
    }

    // Layout depends on structure only; states just recolour and relabel.
    const key = JSON.stringify([
      this._direction,
      graph.nodes.map(n => [n.cellId, n.options?.name, n.options?.upstream, n.parseError?.code, n.options?.type]),
      graph.missing
    ]);
    if (key !== this._graphLayoutKey || !this._graphLayout || !this._svg) {
      this._graphLayoutKey = key;
      this._graphLayout = layoutGraph(graph, this._direction);
      this._svg = this._draw(this._graphLayout, model);
      this._canvas.replaceChildren(this._svg);
    }
    // States only change what the nodes say: repaint them in place (a click is never lost).
    const now = Date.now();
    for (const node of this._graphLayout.nodes) {
      const drawn = this._nodes.get(node.id);
      if (drawn) {
        this._paintNode(drawn, node, model, now);
      }
    }
    this._applyView();
  }

  private _panelSize(): { width: number; height: number } {
    return { width: this._canvas.clientWidth, height: this._canvas.clientHeight };
  }

  private _applyView(): void {
    const layout = this._graphLayout;
    const svg = this._svg;
    const panel = this._panelSize();
    if (!layout || !svg || panel.width <= 0 || panel.height <= 0) {
      return;
    }
    if (this._fitted) {
      this._view = fitToWidth(layout, panel);
    }
    svg.setAttribute('viewBox', viewBox(this._view, panel));
    this.node.dataset.scale = this._view.scale.toFixed(3);
    this.node.dataset.fitted = String(this._fitted);
  }

  private _zoom(factor: number, at?: { x: number; y: number }): void {
    const panel = this._panelSize();
    this._view = zoomAt(this._view, factor, at ?? { x: panel.width / 2, y: panel.height / 2 });
    this._fitted = false;
    this._applyView();
  }

  private _draw(layout: GraphLayout, model: NotebookBlocksModel): SVGSVGElement {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'jp-BlocksDag-svg');
    svg.setAttribute('width', '100%');
    svg.setAttribute('height', '100%');
    svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
    svg.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);

    const defs = element('defs');
    for (const [id, cls] of [
      ['jp-BlocksDag-arrow', 'jp-BlocksDag-arrowHead'],
      ['jp-BlocksDag-arrowError', 'jp-BlocksDag-arrowHead jp-mod-error']
    ]) {
      const marker = element('marker', {
        id,
        viewBox: '0 0 10 10',
        refX: '9',
        refY: '5',
        markerWidth: '7',
        markerHeight: '7',
        orient: 'auto-start-reverse'
      });
      marker.append(element('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: cls }));
      defs.append(marker);
    }
    svg.append(defs);

    for (const edge of layout.edges) {
      const error = edge.inCycle || edge.toMissing;
      const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
      svg.append(
        element('path', {
          d,
          class: `jp-BlocksDag-edge${error ? ' jp-mod-error' : ''}${edge.toMissing ? ' jp-mod-missing' : ''}`,
          'marker-end': `url(#${error ? 'jp-BlocksDag-arrowError' : 'jp-BlocksDag-arrow'})`,
          'data-from': edge.from,
          'data-to': edge.to
        })
      );
    }

    this._nodes.clear();
    for (const node of layout.nodes) {
      svg.append(this._drawNode(node, model));
    }
    return svg;
  }

  private _drawNode(node: LaidOutNode, model: NotebookBlocksModel): SVGGElement {
    const group = element('g', {
      transform: `translate(${node.x - node.width / 2}, ${node.y - node.height / 2})`,
      'data-block': node.name,
      'data-kind': node.kind,
      'data-cell-id': node.cellId ?? ''
    }) as SVGGElement;
    group.append(element('rect', { width: String(node.width), height: String(node.height), rx: '6', ry: '6' }));
    const name = element('text', { x: '10', y: '17', class: 'jp-BlocksDag-nodeName' });
    const words = element('text', { x: '10', y: '33', class: 'jp-BlocksDag-nodeState' });
    const details = element('text', { x: '10', y: '48', class: 'jp-BlocksDag-nodeDetails' });
    const tooltip = element('title');
    group.append(name, words, details, tooltip);
    if (node.cellId) {
      const cellId = node.cellId;
      group.addEventListener('click', () => {
        if (this._panZoom.dragged) {
          return;
        }
        model.selectedCell = cellId;
        this._options.revealCell(model, cellId);
      });
    }
    this._nodes.set(node.id, { group, name, words, details, tooltip });
    return group;
  }

  /** What a node says and how it looks: its state, time and rows, whether it is selected. */
  private _paintNode(drawn: DrawnNode, node: LaidOutNode, model: NotebookBlocksModel, now: number): void {
    const state = node.cellId ? model.stateOf(node.cellId) : undefined;
    const stateName = node.kind === 'missing' ? 'missing' : state?.state ?? 'never_run';
    const error = node.kind !== 'block' || node.inCycle;
    const block = node.cellId ? model.graph.byCell(node.cellId) : undefined;
    const selected = !!node.cellId && node.cellId === model.selectedCell;
    drawn.group.setAttribute(
      'class',
      ['jp-BlocksDag-node', error ? 'jp-mod-error' : '', selected ? 'jp-mod-selected' : ''].filter(Boolean).join(' ')
    );
    drawn.group.setAttribute('data-state', stateName);
    drawn.group.setAttribute('data-cell', block ? cellLabel(block.index) : '');
    const lines = nodeLines(node, state, now);
    setText(drawn.name, lines.name);
    setText(drawn.words, lines.state);
    setText(drawn.details, lines.details);
    const made = state ? formatAgo(state.finished, now) : null;
    setText(
      drawn.tooltip,
      [
        block ? `${node.name} (${cellLabel(block.index)}) · ${node.subtitle}` : node.name,
        state ? describeState(state) : node.subtitle,
        formatSeconds(state?.seconds ?? null),
        formatRows(state?.rows ?? null, state?.cols ?? null),
        made ? `output made ${made}` : null,
        state?.detail
      ]
        .filter(Boolean)
        .join('\n')
    );
  }

  private _model: NotebookBlocksModel | null = null;
  private _header: HTMLDivElement;
  private _title: HTMLSpanElement;
  private _status: HTMLSpanElement;
  private _tools: HTMLDivElement;
  private _runPipeline: HTMLButtonElement;
  private _runBlock: HTMLButtonElement;
  private _problems: HTMLUListElement;
  private _canvas: HTMLDivElement;
  private _svg: SVGSVGElement | null = null;
  private _nodes = new Map<string, DrawnNode>();
  private _graphLayout: GraphLayout | null = null;
  private _graphLayoutKey = '';
  private _direction: Direction = 'TB';
  private _view: View = { scale: 1, x: 0, y: 0 };
  private _fitted = true;
  private _panZoom: PanZoom;
  private _frame = 0;
}

interface DrawnNode {
  group: SVGGElement;
  name: SVGElement;
  words: SVGElement;
  details: SVGElement;
  tooltip: SVGElement;
}

function setText(node: SVGElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

function element(tag: string, attributes: Record<string, string> = {}): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  return node;
}

function button(className: string, label: string, title: string, onClick: () => void): HTMLButtonElement {
  const node = document.createElement('button');
  node.className = `jp-Button jp-mod-minimal jp-BlocksDag-button ${className}`;
  node.textContent = label;
  node.title = title;
  node.setAttribute('aria-label', title);
  node.addEventListener('click', onClick);
  return node;
}
