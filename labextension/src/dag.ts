/**
 * The DAG side panel: the active notebook's blocks as an SVG graph.
 *
 * Follows whichever notebook is current, redraws when its model changes, and
 * colours nodes by state. Structural problems (cycles, unknown upstreams,
 * duplicate names, parse errors) are drawn on the graph and listed above it.
 * Clicking a node selects its cell and scrolls to it.
 */

import { Widget } from '@lumino/widgets';

import { NotebookBlocksModel } from './model';
import { Direction, GraphLayout, LaidOutNode, layoutGraph } from './layout';
import { describeState, formatRows, formatSeconds } from './state';

const SVG = 'http://www.w3.org/2000/svg';

export interface DagPanelOptions {
  /** Select a block cell in its notebook and scroll to it. */
  revealCell: (model: NotebookBlocksModel, cellId: string) => void;
}

export class DagPanel extends Widget {
  constructor(private readonly _options: DagPanelOptions) {
    super();
    this.addClass('jp-BlocksDag');
    this._header = document.createElement('div');
    this._header.className = 'jp-BlocksDag-header';
    this._problems = document.createElement('ul');
    this._problems.className = 'jp-BlocksDag-problems';
    this._canvas = document.createElement('div');
    this._canvas.className = 'jp-BlocksDag-canvas';
    this.node.append(this._header, this._problems, this._canvas);
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
    this._schedule();
  }

  set direction(direction: Direction) {
    this._direction = direction;
    this._graphLayoutKey = '';
    this._schedule();
  }

  /** Highlight a block's node and bring it into view. */
  highlight(cellId: string): void {
    if (!this._model) {
      return;
    }
    this._model.selectedCell = cellId;
    this._render();
    const node = this._canvas.querySelector(`[data-cell-id="${CSS.escape(cellId)}"]`);
    node?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  dispose(): void {
    this.model = null;
    cancelAnimationFrame(this._frame);
    super.dispose();
  }

  protected onAfterShow(): void {
    this._schedule();
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

  private _render(): void {
    const model = this._model;
    if (model?.isDisposed) {
      this.model = null;
      return;
    }
    if (!model) {
      this._header.textContent = 'Open a notebook to see its pipeline.';
      this._problems.replaceChildren();
      this._canvas.replaceChildren();
      this.node.dataset.blocks = '0';
      return;
    }
    const graph = model.graph;
    const title = document.createElement('span');
    title.className = 'jp-BlocksDag-title';
    title.textContent = model.panel.context.localPath.split('/').pop() ?? '';
    const status = document.createElement('span');
    status.className = 'jp-BlocksDag-connection';
    status.dataset.connected = String(model.link.connected);
    status.textContent = model.link.connected ? 'live' : 'no kernel state';
    status.title = model.link.connected
      ? 'States come from the kernel.'
      : 'Structure from the cell sources; run `%load_ext jupyter_blocks` in the kernel for live states.';
    this._header.replaceChildren(title, status);
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
      return;
    }

    // Layout depends on structure only; states just recolour.
    const key = JSON.stringify([
      this._direction,
      graph.nodes.map(n => [n.cellId, n.options?.name, n.options?.upstream, n.parseError?.code]),
      graph.missing
    ]);
    if (key !== this._graphLayoutKey || !this._graphLayout) {
      this._graphLayoutKey = key;
      this._graphLayout = layoutGraph(graph, this._direction);
    }
    this._canvas.replaceChildren(this._draw(this._graphLayout, model));
  }

  private _draw(layout: GraphLayout, model: NotebookBlocksModel): SVGSVGElement {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'jp-BlocksDag-svg');
    svg.setAttribute('width', String(layout.width));
    svg.setAttribute('height', String(layout.height));
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

    for (const node of layout.nodes) {
      svg.append(this._drawNode(node, model));
    }
    return svg;
  }

  private _drawNode(node: LaidOutNode, model: NotebookBlocksModel): SVGGElement {
    const state = node.cellId ? model.stateOf(node.cellId) : undefined;
    const stateName = node.kind === 'missing' ? 'missing' : state?.state ?? 'never_run';
    const error = node.kind !== 'block' || node.inCycle;
    const group = element('g', {
      class: [
        'jp-BlocksDag-node',
        error ? 'jp-mod-error' : '',
        node.cellId && node.cellId === model.selectedCell ? 'jp-mod-selected' : ''
      ]
        .filter(Boolean)
        .join(' '),
      transform: `translate(${node.x - node.width / 2}, ${node.y - node.height / 2})`,
      'data-block': node.name,
      'data-state': stateName,
      'data-kind': node.kind,
      'data-cell-id': node.cellId ?? ''
    }) as SVGGElement;
    group.append(
      element('rect', { width: String(node.width), height: String(node.height), rx: '6', ry: '6' })
    );
    const name = element('text', { x: '10', y: '16', class: 'jp-BlocksDag-nodeName' });
    name.textContent = node.name;
    const subtitle = element('text', { x: '10', y: '31', class: 'jp-BlocksDag-nodeSubtitle' });
    subtitle.textContent = node.inCycle ? 'in a cycle' : node.subtitle;
    const tooltip = element('title');
    tooltip.textContent = [
      node.name,
      state ? describeState(state) : node.subtitle,
      formatSeconds(state?.seconds ?? null),
      formatRows(state?.rows ?? null, state?.cols ?? null),
      state?.detail
    ]
      .filter(Boolean)
      .join('\n');
    group.append(name, subtitle, tooltip);
    if (node.cellId) {
      const cellId = node.cellId;
      group.addEventListener('click', () => {
        model.selectedCell = cellId;
        this._options.revealCell(model, cellId);
      });
    }
    return group;
  }

  private _model: NotebookBlocksModel | null = null;
  private _header: HTMLDivElement;
  private _problems: HTMLUListElement;
  private _canvas: HTMLDivElement;
  private _graphLayout: GraphLayout | null = null;
  private _graphLayoutKey = '';
  private _direction: Direction = 'TB';
  private _frame = 0;
}

function element(tag: string, attributes: Record<string, string> = {}): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  return node;
}
