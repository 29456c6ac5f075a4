import { FIT_MAX_SCALE, MAX_SCALE, fitToWidth, panBy, reveal, viewBox, zoomAt } from '../src/viewport';

describe('the DAG view', () => {
  it('fits a wide graph to the panel width, from the top', () => {
    const view = fitToWidth({ width: 800, height: 600 }, { width: 400, height: 300 });
    expect(view).toEqual({ scale: 0.5, x: 0, y: 0 });
    expect(viewBox(view, { width: 400, height: 300 })).toBe('0 0 800 600');
  });

  it('never blows a small graph up past its limit, and centres it across', () => {
    const view = fitToWidth({ width: 100, height: 50 }, { width: 400, height: 300 });
    expect(view.scale).toBe(FIT_MAX_SCALE);
    expect(view.x).toBeCloseTo((100 - 400 / FIT_MAX_SCALE) / 2);
    expect(view.y).toBe(0);
  });

  it('keeps a tall graph fit to width and scrolls it from the top', () => {
    const view = fitToWidth({ width: 200, height: 2000 }, { width: 400, height: 300 });
    expect(view.scale).toBe(FIT_MAX_SCALE);
    expect(view.y).toBe(0);
  });

  it('zooms at a point, which stays where it is', () => {
    const view = { scale: 1, x: 10, y: 20 };
    const zoomed = zoomAt(view, 2, { x: 100, y: 50 });
    expect(zoomed.scale).toBe(2);
    expect(zoomed.x + 100 / zoomed.scale).toBeCloseTo(view.x + 100 / view.scale);
    expect(zoomed.y + 50 / zoomed.scale).toBeCloseTo(view.y + 50 / view.scale);
    expect(zoomAt(view, 100, { x: 0, y: 0 }).scale).toBe(MAX_SCALE);
  });

  it('pans by screen pixels', () => {
    expect(panBy({ scale: 2, x: 10, y: 10 }, 20, -40)).toEqual({ scale: 2, x: 0, y: 30 });
  });

  it('reveals a box only when it is out of view', () => {
    const view = { scale: 1, x: 0, y: 0 };
    const panel = { width: 300, height: 200 };
    expect(reveal(view, { x: 20, y: 20, width: 50, height: 30 }, panel)).toBe(view);
    const moved = reveal(view, { x: 900, y: 700, width: 100, height: 40 }, panel);
    expect([moved.x, moved.y]).toEqual([950 - 150, 720 - 100]);
  });
});
