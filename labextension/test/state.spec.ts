import {
  describeState,
  describeStats,
  formatAgo,
  formatRows,
  formatSeconds
} from '../src/describe';
import { BlockGraph, CellSource } from '../src/graph';
import { deriveStates } from '../src/derive';
import { KernelBlockState, LiveStates } from '../src/state';

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
  return { name, cell_id: `cell-${name}`, state: 'fresh', reason: null, seconds: 0.5, rows: 10, cols: 2, error: null, key: `k-${name}` };
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
    live.applyEvent({ event: 'block_cached', run_id: 'r1', block: 'b', key: 'k-b', seconds: 0, rows: 3, cols: 1 }, sourceOf);
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

  it('takes an upstream that ran for a downstream cell to have run with the code its run was sent', () => {
    const live = new LiveStates();
    live.applySnapshot(['load', 'a', 'b', 'join'].map(fresh), name => SOURCES[name]);
    const edited: Record<string, string> = { ...SOURCES, a: '%%block a -u load\nload + 100' };
    // `join` is executed; the kernel runs `a` as it is on screen now (the edit was synced).
    const sent = (name: string) => edited[name];
    live.applyEvent({ event: 'block_finished', run_id: 'r2', block: 'a', seconds: 0.1, rows: 1, cols: 1 }, sent);
    live.applyEvent({ event: 'block_finished', run_id: 'r2', block: 'join', seconds: 0.1, rows: 1, cols: 1 }, sent);
    expect(statesOf(graphOf(edited), live)).toMatchObject({ a: 'fresh', join: 'fresh' });
    // An edit made while the run went on is not what ran.
    const later = { ...edited, a: '%%block a -u load\nload + 7' };
    expect(statesOf(graphOf(later), live)).toMatchObject({ a: 'stale: code changed', join: 'stale: upstream changed' });
  });

  it('turns a failed block stale when its code changes, and its downstream skipped until then', () => {
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applySnapshot(['load', 'a', 'b', 'join'].map(fresh), sourceOf);
    live.applyEvent({ event: 'block_failed', run_id: 'r1', block: 'b', seconds: 0.1, error: 'ZeroDivisionError' }, sourceOf);
    expect(statesOf(graphOf(SOURCES), live)).toMatchObject({
      b: 'failed',
      join: 'skipped: not run because b failed'
    });
    const edited = { ...SOURCES, b: '%%block b -u load\nload * 3' };
    expect(statesOf(graphOf(edited), live)).toMatchObject({ b: 'stale: code changed', join: 'stale: upstream changed' });
  });

  it('skips everything downstream of a failure, and lets go as soon as it succeeds', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applySnapshot(['a', 'b', 'join'].map(fresh), sourceOf);
    live.applyEvent({ event: 'block_failed', run_id: 'r1', block: 'load', error: 'boom' }, sourceOf);
    expect(statesOf(graph, live)).toEqual({
      load: 'failed',
      a: 'skipped: not run because load failed',
      b: 'skipped: not run because load failed',
      join: 'skipped: not run because load failed'
    });
    expect(deriveStates(graph, live).get('cell-join')!.cause).toBe('load');
    live.applyEvent({ event: 'block_finished', run_id: 'r2', block: 'load', seconds: 0.1, rows: 1, cols: 1 }, sourceOf);
    expect(statesOf(graph, live)).toMatchObject({ load: 'fresh', a: 'fresh', join: 'fresh' });
  });

  it('shows a skip the kernel reports (JupyterLab cancelled the cells) until its cause succeeds', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.cellQueued('join');
    live.applySnapshot(
      [
        fresh('load'),
        { ...fresh('a'), state: 'failed', error: 'boom' },
        fresh('b'),
        { ...fresh('join'), state: 'skipped', error: 'not run because a failed', cause: 'a' }
      ],
      sourceOf
    );
    expect(statesOf(graph, live).join).toBe('queued');
    live.cellDone('join'); // JupyterLab cancelled it after `a` failed
    expect(statesOf(graph, live).join).toBe('skipped: not run because a failed');
    live.applyEvent({ event: 'block_finished', run_id: 'r3', block: 'a', seconds: 0.1 }, sourceOf);
    expect(statesOf(graph, live).join).toBe('stale: upstream changed');
  });

  it('queues a cell sent for execution and the blocks of a run until the run reaches them', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.cellQueued('join');
    expect(statesOf(graph, live).join).toBe('queued');
    live.applyEvent({ event: 'run_started', run_id: 'r1', blocks: ['load', 'a', 'b', 'join'] }, sourceOf);
    expect(statesOf(graph, live)).toEqual({ load: 'queued', a: 'queued', b: 'queued', join: 'queued' });
    live.applyEvent({ event: 'block_started', run_id: 'r1', block: 'load' }, sourceOf, 1000);
    const running = deriveStates(graph, live).get('cell-load')!;
    expect([describeState(running), describeStats(running, 3500)]).toEqual(['running', '2.5 s']);
    expect(statesOf(graph, live).a).toBe('queued');
    live.applyEvent({ event: 'block_finished', run_id: 'r1', block: 'load', seconds: 2.5 }, sourceOf);
    live.applyEvent({ event: 'run_finished', run_id: 'r1', status: 'success' }, sourceOf);
    live.cellDone('join');
    expect(statesOf(graph, live)).toEqual({ load: 'fresh', a: 'never run', b: 'never run', join: 'never run' });
  });

  it('keeps a block served from the cache as it was, with the time of the run that made it', () => {
    const graph = graphOf(SOURCES);
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applySnapshot([{ ...fresh('load'), key: 'k1', seconds: 0.12, finished: 1700000000 }], sourceOf);
    const before = deriveStates(graph, live).get('cell-load')!;
    expect(live.applyEvent({ event: 'block_cached', run_id: 'r1', block: 'load', key: 'k1', seconds: 0, rows: 10 }, sourceOf)).toBe(false);
    const after = deriveStates(graph, live).get('cell-load')!;
    expect([after.state, after.seconds, describeStats(after)]).toEqual([before.state, 0.12, '120 ms · 10 rows × 2 cols']);
    // Another output (another key) is cached, without the "0 ms" of serving it.
    live.applyEvent({ event: 'block_cached', run_id: 'r2', block: 'load', key: 'k2', seconds: 0, rows: 4, cols: 1 }, sourceOf);
    const other = deriveStates(graph, live).get('cell-load')!;
    expect([other.state, describeStats(other)]).toEqual(['cached', '4 rows × 1 col']);
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
    expect(formatSeconds(2.345, 1)).toBe('2.3 s');
  });

  it('says how long ago an output was made', () => {
    const now = 1700000000 * 1000;
    expect(formatAgo(null, now)).toBeNull();
    expect(formatAgo(1700000000 - 5, now)).toBe('just now');
    expect(formatAgo(1700000000 - 300, now)).toBe('5 min ago');
    expect(formatAgo(1700000000 - 7300, now)).toBe('2 h ago');
    expect(formatAgo(1700000000 - 86400, now)).toBe('1 day ago');
  });
});
