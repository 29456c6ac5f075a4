import * as fs from 'fs';
import * as path from 'path';

import { parseCellSource, parseMagicLine, tokenize } from '../src/parser';

// The vectors shared with the Python parser, read from the repository (never a copy).
const VECTORS = path.resolve(__dirname, '..', '../tests/data/magic_lines.json');

interface Case {
  line: string;
  expected?: Record<string, unknown>;
  error?: string;
  block?: boolean;
}

const cases: Case[] = JSON.parse(fs.readFileSync(VECTORS, 'utf8')).cases;

describe('parseMagicLine, shared vectors', () => {
  it('has vectors to check', () => {
    expect(cases.length).toBeGreaterThan(30);
  });

  const valid = cases.filter(c => c.expected !== undefined);
  const errors = cases.filter(c => c.error !== undefined);
  const notBlocks = cases.filter(c => c.block === false);

  it.each(valid.map(c => [JSON.stringify(c.line), c] as const))('parses %s', (_, c) => {
    const result = parseMagicLine(c.line);
    expect(result).toEqual({ kind: 'block', options: c.expected });
  });

  it.each(errors.map(c => [JSON.stringify(c.line), c] as const))('rejects %s', (_, c) => {
    const result = parseMagicLine(c.line);
    expect(result.kind).toBe('error');
    if (result.kind === 'error') {
      expect(result.error.code).toBe(c.error);
      expect(result.error.message.length).toBeGreaterThan(0);
    }
  });

  it.each(notBlocks.map(c => [JSON.stringify(c.line), c] as const))('ignores %s', (_, c) => {
    expect(parseMagicLine(c.line)).toEqual({ kind: 'not_block' });
  });
});

describe('parseCellSource', () => {
  it('reads only the first line', () => {
    const result = parseCellSource('%%block clean -u load\nclean = load[load.x > 0]\n%%block other');
    expect(result.kind).toBe('block');
    if (result.kind === 'block') {
      expect(result.options.name).toBe('clean');
      expect(result.options.upstream).toEqual(['load']);
    }
  });

  it('handles Windows line endings', () => {
    const result = parseCellSource('%%block clean\r\nx = 1');
    expect(result.kind === 'block' && result.options.name).toBe('clean');
  });

  it('treats a magic on a later line as no block', () => {
    expect(parseCellSource('x = 1\n%%block a').kind).toBe('not_block');
  });
});

describe('tokenize', () => {
  it('joins quoted segments into one token', () => {
    expect(tokenize(` a 'b c'd "e f" `)).toEqual(['a', 'b cd', 'e f']);
  });

  it('keeps empty quoted tokens', () => {
    expect(tokenize(`a ''`)).toEqual(['a', '']);
  });
});

describe('effectiveBlockType', () => {
  const { effectiveBlockType, defaultOptions } = require('../src/parser');
  it('prefers --type, then the decorator', () => {
    expect(effectiveBlockType({ ...defaultOptions('a'), type: 'sensor' }, '@transformer\ndef f(): pass')).toBe('sensor');
    expect(effectiveBlockType(defaultOptions('a'), '%%block a\n@transformer\ndef f(x): return x')).toBe('transformer');
    expect(effectiveBlockType(defaultOptions('a'), '%%block a\nx = 1')).toBeNull();
  });
});
