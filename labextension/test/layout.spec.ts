import { BlockGraph } from '../src/graph';
import { fitText, layoutGraph, nodeLines } from '../src/layout';
import { DerivedState } from '../src/derive';

describe('layoutGraph', () => {
  it('places upstreams above downstreams, one box per block cell and per unknown upstream', () => {
    const graph = BlockGraph.fromCells([
      { cellId: 'l', source: '%%block load --type data_loader' },
      { cellId: 'a', source: '%%block a -u load' },
      { cellId: 'b', source: '%%block b -u load ghost' },
      { cellId: 'j', source: '%%block join -u a b' },
      { cellId: 'x', source: '%%block 9bad' }
    ]);
    const layout = layoutGraph(graph);
    const byId = new Map(layout.nodes.map(n => [n.id, n]));
    expect([...byId.keys()].sort()).toEqual(['a', 'b', 'j', 'l', 'missing:ghost', 'x']);
    expect(byId.get('l')!.subtitle).toBe('data_loader');
    expect(byId.get('x')!.kind).toBe('invalid');
    expect(byId.get('missing:ghost')!.kind).toBe('missing');
    expect(byId.get('l')!.y).toBeLessThan(byId.get('a')!.y);
    expect(byId.get('a')!.y).toBeLessThan(byId.get('j')!.y);
    expect(layout.edges.filter(e => e.toMissing).map(e => [e.from, e.to])).toEqual([['missing:ghost', 'b']]);
    for (const edge of layout.edges) {
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
    }
    expect(layout.width).toBeGreaterThan(0);
  });

  it('lays out left to right on request and marks cycle members', () => {
    const graph = BlockGraph.fromCells([
      { cellId: 'p', source: '%%block p -u q' },
      { cellId: 'q', source: '%%block q -u p' }
    ]);
    const layout = layoutGraph(graph, 'LR');
    expect(layout.nodes.every(n => n.inCycle)).toBe(true);
    expect(layout.edges.every(e => e.inCycle)).toBe(true);
  });
});

describe('nodeLines', () => {
  const state = (partial: Partial<DerivedState>): DerivedState => ({
    state: 'fresh',
    reason: null,
    seconds: 0.12,
    rows: 3,
    cols: 2,
    detail: null,
    startedAt: null,
    finished: null,
    cause: null,
    ...partial
  });

  it('says the state in words and the last time and rows, else the type', () => {
    const graph = BlockGraph.fromCells([{ cellId: 'l', source: '%%block LoadTrips --type data_loader' }]);
    const node = layoutGraph(graph).nodes[0];
    expect(nodeLines(node, state({}))).toEqual({
      name: 'LoadTrips',
      state: 'fresh',
      details: '120 ms · 3 rows × 2 cols'
    });
    const skipped = nodeLines(node, state({ state: 'skipped', detail: 'not run because a_rather_long_upstream_name failed' }));
    expect(skipped.state.endsWith('…')).toBe(true);
    expect(skipped.details).toBe('data_loader');
  });

  it('cuts text with an ellipsis', () => {
    expect(fitText('abcdef', 4)).toBe('abc…');
    expect(fitText('abc', 4)).toBe('abc');
  });
});
