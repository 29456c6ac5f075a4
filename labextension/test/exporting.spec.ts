import {
  conflictLines,
  exportSummary,
  fileCounts,
  fileLine,
  pipelinesOf,
  readReview,
  sameNameLines,
  sharedFilesRefusal
} from '../src/exporting';

const REFUSAL = {
  message: 'block files used by other pipelines have different content: ...',
  reason: 'shared_block_files',
  conflicts: [
    { path: 'data_loaders/load.py', pipelines: ['fan'] },
    { path: 'transformers/clean.py', pipelines: ['fan', 'nightly'] }
  ]
};

describe('sharedFilesRefusal', () => {
  it('reads the conflicts of a 409 shared-file refusal', () => {
    expect(sharedFilesRefusal(409, REFUSAL)).toEqual(REFUSAL.conflicts);
  });

  it('is null for any other failure', () => {
    expect(sharedFilesRefusal(400, REFUSAL)).toBeNull();
    expect(sharedFilesRefusal(409, { message: 'conflict' })).toBeNull();
    expect(sharedFilesRefusal(409, null)).toBeNull();
    expect(sharedFilesRefusal(409, 'text')).toBeNull();
    expect(sharedFilesRefusal(409, { reason: 'shared_block_files', conflicts: [] })).toBeNull();
  });

  it('keeps only well-formed conflicts', () => {
    const body = {
      reason: 'shared_block_files',
      conflicts: [{ path: 'a.py', pipelines: ['x', 3] }, { pipelines: ['y'] }, 'junk', { path: 'b.py' }]
    };
    expect(sharedFilesRefusal(409, body)).toEqual([
      { path: 'a.py', pipelines: ['x'] },
      { path: 'b.py', pipelines: [] }
    ]);
  });
});

describe('conflict descriptions', () => {
  it('names each file with the pipelines using it', () => {
    expect(conflictLines(REFUSAL.conflicts)).toEqual([
      'data_loaders/load.py: used by fan',
      'transformers/clean.py: used by fan, nightly'
    ]);
  });

  it('lists every pipeline once', () => {
    expect(pipelinesOf(REFUSAL.conflicts)).toEqual(['fan', 'nightly']);
  });
});

describe('exportSummary', () => {
  it('counts written and unchanged files', () => {
    expect(exportSummary({ written: ['a', 'b'], unchanged: ['c'] }, 'fan.ipynb', 'proj')).toBe(
      'Exported fan.ipynb to proj (2 written, 1 unchanged)'
    );
  });

  it('names the detached copies', () => {
    const result = { written: ['d/other/load.py', 'p.yaml'], unchanged: [], detached: ['d/other/load.py'] };
    expect(exportSummary(result, 'other.ipynb', 'proj')).toBe(
      'Exported other.ipynb to proj (2 written, 0 unchanged); own copies: d/other/load.py'
    );
  });

  it('says only what it knows', () => {
    expect(exportSummary({}, 'fan.ipynb', 'proj')).toBe('Exported fan.ipynb to proj');
    expect(exportSummary(null, 'fan.ipynb', 'proj')).toBe('Exported fan.ipynb to proj');
  });
});

describe('the export review', () => {
  const answer = {
    pipeline: 'weekly',
    files: [
      { path: 'data_loaders/trips_per_day.py', state: 'new', detached: false },
      { path: 'transformers/clean.py', state: 'changed', detached: false },
      { path: 'data_loaders/weekly/load.py', state: 'new', detached: true },
      { path: 'pipelines/weekly/metadata.yaml', state: 'unchanged', detached: false },
      { path: 42, state: 'new' },
      { path: 'x.py', state: 'eaten' }
    ],
    conflicts: [{ path: 'data_loaders/load.py', pipelines: ['daily'] }],
    same_name: [
      {
        block: 'trips_per_day',
        path: 'data_loaders/trips_per_day.py',
        others: [{ path: 'data_loaders/trips_per_day.sql', pipelines: ['daily'] }]
      }
    ]
  };

  it('reads the dry run, leaving out what is malformed', () => {
    const review = readReview(answer);
    expect(review.files.map(f => f.path)).toEqual([
      'data_loaders/trips_per_day.py',
      'transformers/clean.py',
      'data_loaders/weekly/load.py',
      'pipelines/weekly/metadata.yaml'
    ]);
    expect(review.conflicts).toEqual(answer.conflicts);
    expect(readReview(null)).toEqual({ pipeline: '', files: [], conflicts: [], same_name: [] });
  });

  it('counts and names the files and flags blocks of the same name', () => {
    const review = readReview(answer);
    expect(fileCounts(review.files)).toBe('2 new, 1 changed, 1 unchanged');
    expect(fileLine(review.files[2])).toBe('data_loaders/weekly/load.py (own copy)');
    expect(sameNameLines(review)).toEqual([
      'trips_per_day: data_loaders/trips_per_day.py would sit beside data_loaders/trips_per_day.sql ' +
        '(used by daily), another block named trips_per_day'
    ]);
  });
});
