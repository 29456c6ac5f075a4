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
  badge: { block: string; state: string; text: string } | null;
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
      new Set(['run_started', 'block_started', 'block_cached', 'block_finished', 'block_failed', 'block_skipped', 'run_finished'])
    );
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
    expect(describeState(state)).toBe(c.badge.text);
  });
});
