/**
 * The DAG panel's view of its graph: scale and offset, fit to width, zoom and pan (pure).
 *
 * A view is the scale and the graph point at the panel's top-left corner; the
 * SVG's `viewBox` follows from it and the panel's size. The default view fits
 * the graph to the panel's width (never enlarging a small graph past
 * `FIT_MAX_SCALE`), centred across, from the top; zooming keeps the point under the
 * cursor still; panning moves by screen pixels.
 */

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface View {
  scale: number;
  /** The graph point at the panel's top-left corner. */
  x: number;
  y: number;
}

export const MIN_SCALE = 0.2;
export const MAX_SCALE = 4;
export const FIT_MAX_SCALE = 1.25;

function clamp(scale: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
}

/** The graph fit to the panel's width, centred across, from the top. */
export function fitToWidth(graph: Size, panel: Size, maxScale: number = FIT_MAX_SCALE): View {
  if (graph.width <= 0 || panel.width <= 0) {
    return { scale: 1, x: 0, y: 0 };
  }
  const scale = clamp(Math.min(panel.width / graph.width, maxScale));
  return { scale, x: (graph.width - panel.width / scale) / 2, y: 0 };
}

/** Zoom by `factor` keeping the graph point under `at` (panel pixels) where it is. */
export function zoomAt(view: View, factor: number, at: Point): View {
  const scale = clamp(view.scale * factor);
  const graphX = view.x + at.x / view.scale;
  const graphY = view.y + at.y / view.scale;
  return { scale, x: graphX - at.x / scale, y: graphY - at.y / scale };
}

/** Move the graph by `dx`, `dy` panel pixels (as a drag does). */
export function panBy(view: View, dx: number, dy: number): View {
  return { ...view, x: view.x - dx / view.scale, y: view.y - dy / view.scale };
}

/** A view that shows `box` (graph coordinates): `view` itself when it already does. */
export function reveal(view: View, box: Point & Size, panel: Size, margin = 12): View {
  const width = panel.width / view.scale;
  const height = panel.height / view.scale;
  const inside =
    box.x - margin >= view.x &&
    box.y - margin >= view.y &&
    box.x + box.width + margin <= view.x + width &&
    box.y + box.height + margin <= view.y + height;
  if (inside) {
    return view;
  }
  return { ...view, x: box.x + box.width / 2 - width / 2, y: box.y + box.height / 2 - height / 2 };
}

/** The SVG `viewBox` of a view in a panel of that size. */
export function viewBox(view: View, panel: Size): string {
  const round = (n: number) => Math.round(n * 100) / 100;
  return [view.x, view.y, panel.width / view.scale, panel.height / view.scale].map(round).join(' ');
}
