import * as fs from 'fs';
import * as path from 'path';

import { BlockGraph } from '../src/graph';
import { KernelMessage, LiveStates, RunEvent, deriveStates, describeState } from '../src/state';

// The protocol vectors shared with the kernel's tests, read from the repository (never a copy).
const VECTORS = path.resolve(__dirname, '..', '../tests/data/comm_messages.json');

interface EventCase {
  name: string;
  event: RunEvent & { traceback?: string };
  message_without?: string[];
  badge: { block: string; state: string; text: string; now?: number } | null;
}

const cases: EventCase[] = JSON.parse(fs.readFileSync(VECTORS, 'utf8')).events;

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
      expect(changed).toBe(false);
      return;
    }
    expect(changed).toBe(true);
    const state = deriveStates(graph(), live).get(`cell-${c.badge.block}`)!;
    expect(state.state).toBe(c.badge.state);
    const now = c.badge.now === undefined ? Date.now() : c.badge.now * 1000;
    expect(describeState(state, now)).toBe(c.badge.text);
  });
});
