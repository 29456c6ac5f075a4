import * as fs from 'fs';
import * as path from 'path';

import { describeState, describeStats } from '../src/describe';
import { BlockGraph } from '../src/graph';
import { deriveStates } from '../src/derive';
import { KernelBlockState, KernelMessage, LiveStates, RunEvent } from '../src/state';
import { NotebookCell, syncMessage } from '../src/sync';

// The protocol vectors shared with the kernel's tests, read from the repository (never a copy).
const VECTORS = path.resolve(__dirname, '..', '../tests/data/comm_messages.json');

interface EventCase {
  name: string;
  event: RunEvent & { traceback?: string };
  message_without?: string[];
  badge: { block: string; state: string; text: string; now?: number } | null;
}

const vectors = JSON.parse(fs.readFileSync(VECTORS, 'utf8'));
const cases: EventCase[] = vectors.events;

interface FrontendCase {
  name: string;
  notebook?: NotebookCell[];
  path?: string;
  message: { content: { data: unknown } };
}

interface KernelCase {
  name: string;
  message: { type: 'state'; blocks: KernelBlockState[] };
  badges: { block: string; state: string; text: string; stats: string }[];
}

const SOURCES: Record<string, string> = {
  load: '%%block load\n[1, 2, 3]',
  clean: '%%block clean -u load\nload',
  report: '%%block report -u clean\nclean'
};

function graph(): BlockGraph {
  return BlockGraph.fromCells(Object.entries(SOURCES).map(([name, source]) => ({ cellId: `cell-${name}`, source })));
}

/** The comm message the kernel sends for an event: the event without the fields it leaves out. */
function message(c: EventCase): KernelMessage {
  const event = { ...c.event } as Record<string, unknown>;
  for (const key of c.message_without ?? []) {
    delete event[key];
  }
  return { type: 'event', event: event as unknown as RunEvent };
}

describe('comm protocol, shared vectors', () => {
  it('has a vector for every kind of event', () => {
    const kinds = new Set(cases.map(c => c.event.event));
    expect(kinds).toEqual(
      new Set([
        'run_started',
        'block_started',
        'block_cached',
        'block_finished',
        'block_failed',
        'block_skipped',
        'block_waiting',
        'block_retrying',
        'children_started',
        'run_finished'
      ])
    );
  });

  it('counts the children of a block that fans out on its badge', () => {
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    live.applyEvent({ event: 'children_started', run_id: 'r', block: 'report', children: ['report:0', 'report:1', 'report:2'] }, sourceOf);
    live.applyEvent({ event: 'block_finished', run_id: 'r', block: 'report:0' }, sourceOf);
    live.applyEvent({ event: 'block_failed', run_id: 'r', block: 'report:1', error: 'x' }, sourceOf);
    expect(describeState(deriveStates(graph(), live).get('cell-report')!)).toBe('×3 · 1 ran · 1 failed');
    live.applyEvent({ event: 'block_cached', run_id: 'r', block: 'report:2' }, sourceOf);
    const state = deriveStates(graph(), live).get('cell-report')!;
    expect(state.state).toBe('failed');
    expect(describeState(state)).toBe('×3 · 2 ran · 1 failed');
  });

  it.each(cases.map(c => [c.name, c] as const))('applies "%s"', (_, c) => {
    const live = new LiveStates();
    const sourceOf = (name: string) => SOURCES[name];
    const sent = message(c);
    expect(sent.type).toBe('event');
    if (sent.type !== 'event') {
      return;
    }
    expect(Object.keys(sent.event)).not.toContain('traceback');
    const changed = live.applyEvent(sent.event, sourceOf);
    if (c.badge === null) {
      // A run's own events change no badge by themselves (run_started queues its blocks).
      for (const state of deriveStates(graph(), live).values()) {
        expect(['never_run', 'queued']).toContain(state.state);
      }
      return;
    }
    expect(changed).toBe(true);
    const state = deriveStates(graph(), live).get(`cell-${c.badge.block}`)!;
    expect(state.state).toBe(c.badge.state);
    const now = c.badge.now === undefined ? Date.now() : c.badge.now * 1000;
    expect(describeState(state, now)).toBe(c.badge.text);
  });
});

describe('comm protocol, the sync the page sends', () => {
  const withNotebook = (vectors.frontend as FrontendCase[]).filter(c => c.notebook);

  it('has a vector with a notebook', () => {
    expect(withNotebook.length).toBeGreaterThan(0);
  });

  it.each(withNotebook.map(c => [c.name, c] as const))('sends "%s"', (_, c) => {
    expect(syncMessage(c.notebook!, c.path)).toEqual(c.message.content.data);
  });
});

describe('comm protocol, the states the kernel sends', () => {
  const kernelCases: KernelCase[] = vectors.kernel;

  it.each(kernelCases.map(c => [c.name, c] as const))('shows "%s"', (_, c) => {
    const sources: Record<string, string> = {};
    for (const block of c.message.blocks) {
      sources[block.name] = `%%block ${block.name}${block.upstream?.length ? ` -u ${block.upstream.join(' ')}` : ''}\n1`;
    }
    const graph = BlockGraph.fromCells(
      c.message.blocks.map(block => ({ cellId: block.cell_id!, source: sources[block.name] }))
    );
    const live = new LiveStates();
    live.applySnapshot(c.message.blocks, name => sources[name]);
    const derived = deriveStates(graph, live);
    for (const badge of c.badges) {
      const state = derived.get(`cell-${badge.block}`)!;
      expect([state.state, describeState(state), describeStats(state)]).toEqual([badge.state, badge.text, badge.stats]);
    }
  });
});
