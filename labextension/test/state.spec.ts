import { BlockGraph, CellSource } from '../src/graph';
import { KernelBlockState, LiveStates, deriveStates, describeState, formatRows, formatSeconds } from '../src/state';

const SOURCES: Record<string, string> = {
  load: '%%block load\n1',
  a: '%%block a -u load\nload + 1',
  b: '%%block b -u load\nload * 2',
  join: '%%block join -u a b\na + b'
};

function graphOf(sources: Record<string, string>): BlockGraph {
  const cells: CellSource[] = Object.entries(sources).map(([name, source]) => ({ cellId: `cell-${name}`, source }));
  return BlockGraph.fromCells(cells);
}

function fresh(name: string): KernelBlockState {
  return { name, cell_id: `cell-${name}`, state: 'fresh', reason: null, seconds: 0.5, rows: 10, cols: 2, error: null };
}

function statesOf(graph: BlockGraph, live: LiveStates): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [cellId, state] of deriveStates(graph, live)) {
    out[cellId.replace('cell-', '')] = describeState(state);
  }
  return out;
}

describe('deriveStates', () => {
  it('shows never run without a kernel', () => {
    expect(statesOf(graphOf(SOURCES), new LiveStates())).toEqual({
      load: 'never run',
      a: 'never run',
      b: 'never run',
      join: 'never run'
    });
  });

  it('marks an edited block stale (code) and its downstream stale (upstream) before the kernel answers', () => {
    const live = new LiveStates();
    live.applySnapshot(['load', 'a', 'b', 'join'].map(fresh), name => SOURCES[name]);
    const edited = { ...SOURCES, a: '%%block a -u load\nload + 100' };
    expect(statesOf(graphOf(edited), live)).toEqual({
      load: 'fresh',
      a: 'stale: code changed',
      b: 'fresh',
      join: 'stale: upstream changed'
    });
    // Undoing the edit makes them fresh again.
    expect(statesOf(graphOf(SOURCES), live)).toEqual({ load: 'fresh', a: 'fresh', b: 'fresh', join: 'fresh' });
  });

  it('ignores trailing whitespace edits', () => {
    const live = new LiveStates();
    live.applySnapshot([fresh('load')], name => SOURCES[name]);
    expect(statesOf(graphOf({ load: SOURCES.load + '  \n\n' }), live).load).toBe('fresh');
  });

  it('applies live events', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applyEvent({ event: 'run_started', run_id: 'r1' }, sourceOf);
    live.applyEvent({ event: 'block_started', run_id: 'r1', block: 'load' }, sourceOf);
    expect(statesOf(graph, live).load).toBe('running');
    live.applyEvent({ event: 'block_finished', run_id: 'r1', block: 'load', seconds: 0.25, rows: 3, cols: 1 }, sourceOf);
    live.applyEvent({ event: 'block_cached', run_id: 'r1', block: 'b', seconds: 0.001, rows: 3, cols: 1 }, sourceOf);
    live.applyEvent({ event: 'block_failed', run_id: 'r1', block: 'a', seconds: 0.1, error: 'ZeroDivisionError: division by zero' }, sourceOf);
    live.applyEvent({ event: 'block_skipped', run_id: 'r1', block: 'join', reason: 'not run because a failed' }, sourceOf);
    expect(statesOf(graph, live)).toEqual({
      load: 'fresh',
      a: 'failed',
      b: 'cached',
      join: 'skipped: not run because a failed'
    });
    const derived = deriveStates(graph, live).get('cell-load')!;
    expect([derived.seconds, derived.rows, derived.cols]).toEqual([0.25, 3, 1]);
    expect(deriveStates(graph, live).get('cell-a')!.detail).toContain('ZeroDivisionError');
  });

  it('keeps an edited upstream stale when it ran only as an upstream, with its old code', () => {
    const live = new LiveStates();
    live.applySnapshot(['load', 'a', 'b', 'join'].map(fresh), name => SOURCES[name]);
    const edited: Record<string, string> = { ...SOURCES, a: '%%block a -u load\nload + 100' };
    const sourceOf = (name: string) => edited[name];
    // `join` is executed; the kernel takes `a` from the code its cell last ran.
    live.executionStarted('join', edited.join);
    live.applyEvent({ event: 'block_cached', run_id: 'r2', block: 'a', seconds: 0, rows: 1, cols: 1 }, sourceOf);
    live.applyEvent({ event: 'block_finished', run_id: 'r2', block: 'join', seconds: 0.1, rows: 1, cols: 1 }, sourceOf);
    live.executionEnded('join');
    expect(statesOf(graphOf(edited), live)).toMatchObject({ a: 'stale: code changed', join: 'stale: upstream changed' });
    // Executing `a`'s own cell moves its baseline.
    live.executionStarted('a', edited.a);
    live.applyEvent({ event: 'block_finished', run_id: 'r3', block: 'a', seconds: 0.1, rows: 1, cols: 1 }, sourceOf);
    live.executionEnded('a');
    expect(statesOf(graphOf(edited), live).a).toBe('fresh');
  });

  it('keeps "not run because" over a later stale snapshot until the block runs again', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applyEvent({ event: 'block_skipped', run_id: 'r1', block: 'join', reason: 'not run because b failed' }, sourceOf);
    live.applySnapshot([{ ...fresh('join'), state: 'stale', reason: 'upstream' }], sourceOf);
    expect(statesOf(graph, live).join).toBe('skipped: not run because b failed');
    live.applyEvent({ event: 'block_started', run_id: 'r2', block: 'join' }, sourceOf);
    live.applySnapshot([{ ...fresh('join'), state: 'stale', reason: 'upstream' }], sourceOf);
    expect(statesOf(graph, live).join).toBe('stale: upstream changed');
  });

  it('keeps the kernel reason for stale blocks', () => {
    const live = new LiveStates();
    live.applySnapshot([{ ...fresh('load'), state: 'stale', reason: 'variables' }], name => SOURCES[name]);
    expect(statesOf(graphOf({ load: SOURCES.load }), live).load).toBe('stale: variables changed');
  });

  it('marks parse errors and duplicates invalid', () => {
    const graph = BlockGraph.fromCells([
      { cellId: 'x', source: '%%block 1bad' },
      { cellId: 'y', source: '%%block d' },
      { cellId: 'z', source: '%%block d' }
    ]);
    const derived = deriveStates(graph, new LiveStates());
    expect([...derived.values()].map(s => s.state)).toEqual(['invalid', 'invalid', 'invalid']);
    expect(derived.get('y')!.detail).toContain("'d'");
  });

  it('forgets everything on clear', () => {
    const live = new LiveStates();
    live.applySnapshot([fresh('load')], name => SOURCES[name]);
    live.clear();
    expect(live.isEmpty).toBe(true);
    expect(statesOf(graphOf({ load: SOURCES.load }), live).load).toBe('never run');
  });
});

describe('formatting', () => {
  it('formats seconds and rows', () => {
    expect(formatSeconds(0.0123)).toBe('12 ms');
    expect(formatSeconds(2.5)).toBe('2.50 s');
    expect(formatSeconds(75)).toBe('1 min 15 s');
    expect(formatSeconds(null)).toBeNull();
    expect(formatRows(1234, 3)).toBe('1,234 rows × 3 cols');
    expect(formatRows(1, null)).toBe('1 row');
  });
});
