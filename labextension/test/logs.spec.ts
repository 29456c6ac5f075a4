import { BlockLogs, formatBytes, logsButtonLabel, logsView } from '../src/logs';

function logs(overrides: Partial<BlockLogs> = {}): BlockLogs {
  const text = overrides.text ?? 'loading 3 rows\n';
  return {
    run_id: 'run-1',
    block: 'load',
    text,
    truncated: false,
    bytes: text.length,
    shown_bytes: text.length,
    command: 'jupyter-blocks runs logs run-1 load',
    ...overrides
  };
}

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [65536, '64 KiB'],
    [80000, '78 KiB'],
    [5 * 1024 * 1024 + 300_000, '5.3 MiB']
  ])('%d bytes is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('logsView', () => {
  it('shows captured text as it is', () => {
    expect(logsView(logs())).toEqual({ kind: 'text', text: 'loading 3 rows\n', note: null });
  });

  it('says when nothing was captured', () => {
    const view = logsView(logs({ text: '', bytes: 0, shown_bytes: 0 }));
    expect(view.kind).toBe('empty');
    expect(view.text).toBe('No output captured.');
    expect(view.note).toBeNull();
  });

  it('treats blank output as nothing captured', () => {
    expect(logsView(logs({ text: '\n\n' })).kind).toBe('empty');
  });

  it('says when a block printed nothing', () => {
    const view = logsView(logs({ text: '', bytes: 0, shown_bytes: 0 }));
    expect(view.kind).toBe('empty');
    expect(view.text).toBe('No output captured.');
  });

  it('says how much was cut and how to see all of it', () => {
    const view = logsView(logs({ text: 'line 1999\n', truncated: true, bytes: 80000, shown_bytes: 65530 }));
    expect(view.kind).toBe('text');
    expect(view.note).toBe(
      'Showing the last 64 KiB of 78 KiB. All of it: jupyter-blocks runs logs run-1 load'
    );
  });

  it('copes with a partial answer', () => {
    const view = logsView({ text: 'x\n' } as BlockLogs);
    expect(view).toEqual({ kind: 'text', text: 'x\n', note: null });
    expect(logsView({} as BlockLogs).kind).toBe('empty');
  });
});

describe('logsButtonLabel', () => {
  it.each([
    [undefined, 'show'],
    [null, 'show'],
    [0, 'none'],
    [2048, '2 KiB']
  ])('%p bytes gives %s', (bytes, label) => {
    expect(logsButtonLabel(bytes)).toBe(label);
  });
});
