import { BlockGraph, CellSource, nearestName } from '../src/graph';

function cells(...sources: string[]): CellSource[] {
  return sources.map((source, index) => ({ cellId: `c${index}`, source }));
}

const FAN = cells(
  '%load_ext jupyter_blocks',
  '%%block load --type data_loader\n1',
  '%%block a -u load\nload + 1',
  '# scratch cell\nprint(1)',
  '%%block b -u load\nload * 2',
  '%%block join -u a b\na + b'
);

describe('BlockGraph structure', () => {
  const graph = BlockGraph.fromCells(FAN);

  it('keeps only block cells, in notebook order', () => {
    expect(graph.nodes.map(n => n.cellId)).toEqual(['c1', 'c2', 'c4', 'c5']);
    expect(graph.names).toEqual(['load', 'a', 'b', 'join']);
  });

  it('has an edge per upstream', () => {
    expect(graph.edges.map(e => `${e.from}>${e.to}`)).toEqual(['load>a', 'load>b', 'a>join', 'b>join']);
    expect(graph.problems).toEqual([]);
  });

  it('orders topologically, notebook order on ties', () => {
    expect(graph.topologicalOrder()).toEqual(['load', 'a', 'b', 'join']);
  });

  it('selects upstreams and downstreams transitively', () => {
    expect(graph.upstreamOf('join')).toEqual(['load', 'a', 'b']);
    expect(graph.upstreamOf('a')).toEqual(['load']);
    expect(graph.upstreamOf('load')).toEqual([]);
    expect(graph.downstreamOf('load')).toEqual(['a', 'b', 'join']);
    expect(graph.downstreamOf('a')).toEqual(['join']);
    expect(graph.downstreamOf('join')).toEqual([]);
    expect(graph.directUpstreams('join')).toEqual(['a', 'b']);
    expect(graph.directDownstreams('load')).toEqual(['a', 'b']);
  });

  it('maps cells and names both ways', () => {
    expect(graph.nameOfCell('c5')).toBe('join');
    expect(graph.nameOfCell('c0')).toBeNull();
    expect(graph.byName('b')!.cellId).toBe('c4');
  });
});

describe('BlockGraph ordering', () => {
  it('puts a block after upstreams defined below it', () => {
    const graph = BlockGraph.fromCells(cells('%%block late_user -u early\n', '%%block early\n'));
    expect(graph.topologicalOrder()).toEqual(['early', 'late_user']);
    expect(graph.problems).toEqual([]);
  });

  const table: Array<[string, string[], string[]]> = [
    ['chain', ['%%block a', '%%block b -u a', '%%block c -u b'], ['a', 'b', 'c']],
    ['diamond declared backwards', ['%%block d -u b c', '%%block c -u a', '%%block b -u a', '%%block a'], ['a', 'c', 'b', 'd']],
    ['independent', ['%%block x', '%%block y'], ['x', 'y']]
  ];
  it.each(table)('%s', (_, sources, expected) => {
    expect(BlockGraph.fromCells(cells(...sources)).topologicalOrder()).toEqual(expected);
  });
});

describe('BlockGraph validation reports every problem at once', () => {
  const graph = BlockGraph.fromCells(
    cells(
      '%%block a -u c',
      '%%block b -u a',
      '%%block c -u b',
      '%%block d -u lod',
      '%%block load',
      '%%block load',
      '%%block bad --type loader',
      '%%block e -u a',
      '%%block self -u self'
    )
  );
  const kinds = graph.problems.map(p => p.kind);

  it('finds each kind', () => {
    expect(kinds.filter(k => k === 'parse_error')).toHaveLength(1);
    expect(kinds.filter(k => k === 'duplicate_name')).toHaveLength(1);
    expect(kinds.filter(k => k === 'unknown_upstream')).toHaveLength(1);
    expect(kinds.filter(k => k === 'cycle')).toHaveLength(2);
  });

  it('names the whole cycle', () => {
    const cycle = graph.problems.find(p => p.kind === 'cycle')!;
    expect(cycle.names).toEqual(['a', 'b', 'c']);
    expect(cycle.cellIds).toEqual(['c0', 'c1', 'c2']);
    expect(cycle.message).toBe('cycle: a → b → c → a');
    expect(graph.inCycle('b')).toBe(true);
    expect(graph.inCycle('e')).toBe(false);
  });

  it('detects a self-loop', () => {
    const self = graph.problems.filter(p => p.kind === 'cycle')[1];
    expect(self.names).toEqual(['self']);
    expect(graph.edges.find(e => e.from === 'self')!.inCycle).toBe(true);
  });

  it('marks only cycle edges', () => {
    expect(graph.edges.filter(e => e.inCycle).map(e => `${e.from}>${e.to}`).sort()).toEqual(
      ['a>b', 'b>c', 'c>a', 'self>self'].sort()
    );
  });

  it('suggests the near name for an unknown upstream', () => {
    const missing = graph.problems.find(p => p.kind === 'unknown_upstream')!;
    expect(missing.message).toContain("did you mean 'load'?");
    expect(missing.cellIds).toEqual(['c3']);
    expect(graph.missing).toEqual([{ name: 'lod', referencedBy: ['d'] }]);
  });

  it('lists both cells of a duplicate name', () => {
    const duplicate = graph.problems.find(p => p.kind === 'duplicate_name')!;
    expect(duplicate.cellIds).toEqual(['c4', 'c5']);
    expect(graph.isDuplicate('c5')).toBe(true);
  });

  it('keeps parse errors with the cell', () => {
    expect(graph.byCell('c6')!.parseError!.code).toBe('bad_value');
    expect(graph.problemsOfCell('c6')[0].kind).toBe('parse_error');
  });

  it('leaves cycle members and their downstreams out of the order', () => {
    expect(graph.topologicalOrder()).toEqual(['d', 'load']);
    expect(graph.hasCycle).toBe(true);
  });
});

describe('nearestName', () => {
  it('finds a close name and ignores far ones', () => {
    expect(nearestName('load_taxi', ['load_taxis', 'clean'])).toBe('load_taxis');
    expect(nearestName('zzz', ['load', 'clean'])).toBeNull();
  });
});
