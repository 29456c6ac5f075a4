import { attemptLabel, blockLine, describeTrigger, lastAttempts, summarizeBlocks } from '../src/history';

describe('run history', () => {
  it('says what started a run', () => {
    expect(describeTrigger('notebook · cell 5 · %%block clean')).toBe('cell 5 · %%block clean');
    expect(describeTrigger('notebook · %blocks run --all')).toBe('%blocks run --all');
    expect(describeTrigger('manual')).toBe('jupyter-blocks run');
    expect(describeTrigger('notebook')).toBe('notebook');
    expect(describeTrigger('daily')).toBe('daily');
    expect(describeTrigger(null)).toBe('');
    expect(describeTrigger('schedule:daily')).toBe('trigger daily');
    expect(describeTrigger('api:hook')).toBe('API trigger hook');
    expect(describeTrigger('backfill:3f2a61c0b9d4')).toBe('backfill 3f2a61c0b9d4');
  });

  it('names each attempt of a retried block', () => {
    expect(attemptLabel({ block: 'clean', attempt: 2 }, 3)).toBe('clean · attempt 2');
    expect(attemptLabel({ block: 'clean', attempt: 1 }, 1)).toBe('clean');
  });

  it('groups a run\'s block runs: each block once, its last attempt', () => {
    const blocks = [
      { block: 'load', status: 'ran', seconds: 0.5 },
      { block: 'clean', status: 'failed', attempt: 1 },
      { block: 'clean', status: 'ran', attempt: 2, seconds: 0.25 },
      { block: 'report', status: 'cached' }
    ];
    expect(lastAttempts(blocks).map(b => [b.block, b.status])).toEqual([
      ['load', 'ran'],
      ['clean', 'ran'],
      ['report', 'cached']
    ]);
    expect(summarizeBlocks(blocks)).toBe('2 ran · 1 cached');
    expect(blockLine(blocks[2])).toBe('clean · ran · 250 ms');
    expect(blockLine(blocks[3])).toBe('report · cached');
  });
});
