/**
 * Zoom and pan with the mouse on the DAG panel's canvas: Ctrl/⌘ + wheel zooms at
 * the cursor, the wheel and a drag pan. A drag ends without a click, so
 * dragging across a node does not open its cell.
 */

import { IDisposable } from '@lumino/disposable';

import { View, panBy, zoomAt } from './viewport';

/** A drag shorter than this (pixels) is a click. */
const DRAG_THRESHOLD = 4;

export interface PanZoomHost {
  /** The view now, or null when there is nothing to move. */
  view(): View | null;
  /** Show another view (chosen by the user: the view is no longer the fitted one). */
  show(view: View): void;
}

export class PanZoom implements IDisposable {
  constructor(
    private readonly _node: HTMLElement,
    private readonly _host: PanZoomHost
  ) {
    _node.addEventListener('wheel', this._onWheel, { passive: false });
    _node.addEventListener('pointerdown', this._onPointerDown);
  }

  /** Whether the click that is ending is the end of a drag. */
  get dragged(): boolean {
    return this._dragged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._node.removeEventListener('wheel', this._onWheel);
    this._node.removeEventListener('pointerdown', this._onPointerDown);
  }

  private _onWheel = (event: WheelEvent): void => {
    const view = this._host.view();
    if (!view) {
      return;
    }
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) {
      const bounds = this._node.getBoundingClientRect();
      const at = { x: event.clientX - bounds.left, y: event.clientY - bounds.top };
      this._host.show(zoomAt(view, Math.exp(-event.deltaY / 300), at));
    } else {
      this._host.show(panBy(view, -event.deltaX, -event.deltaY));
    }
  };

  private _onPointerDown = (event: PointerEvent): void => {
    const view = this._host.view();
    if (!view || event.button !== 0) {
      return;
    }
    const start = { x: event.clientX, y: event.clientY };
    let dragging = false;
    const move = (moved: PointerEvent) => {
      const dx = moved.clientX - start.x;
      const dy = moved.clientY - start.y;
      if (!dragging && Math.hypot(dx, dy) < DRAG_THRESHOLD) {
        return;
      }
      dragging = true;
      this._node.classList.add('jp-mod-panning');
      this._host.show(panBy(view, dx, dy));
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      this._node.classList.remove('jp-mod-panning');
      if (dragging) {
        this._dragged = true;
        window.setTimeout(() => (this._dragged = false), 0);
      }
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  private _dragged = false;
  private _isDisposed = false;
}
