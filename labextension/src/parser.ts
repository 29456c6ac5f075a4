/**
 * The `%%block NAME [options]` magic-line grammar.
 *
 * This is the TypeScript twin of `jupyter_blocks.core.grammar.parse_magic_line`: both
 * pass the vectors in `tests/data/magic_lines.json`, and the error codes there
 * are the contract. Nothing in this module touches JupyterLab.
 */

export const BLOCK_TYPES = [
  'data_loader',
  'transformer',
  'data_exporter',
  'sensor',
  'condition',
  'callback',
  'custom'
] as const;
export const LANGUAGES = ['python', 'sql', 'r'] as const;
export const CONNECTORS = ['duckdb', 'postgres', 'bigquery'] as const;
export const OVER_MAX_POLICIES = ['fail', 'limit'] as const;

export type BlockType = (typeof BLOCK_TYPES)[number];
export type Language = (typeof LANGUAGES)[number];
export type Connector = (typeof CONNECTORS)[number];

/** The options of one block, with the same keys as the Python spec. */
export interface BlockOptions {
  name: string;
  type: BlockType | null;
  upstream: string[];
  lang: Language;
  profile: string | null;
  connector: Connector | null;
  retries: number;
  retry_delay: number;
  max_retry_delay: number | null;
  exponential_backoff: boolean | null;
  timeout: number | null;
  poke_interval: number;
  dynamic: boolean;
  reduce: boolean;
  max_children: number | null;
  over_max: (typeof OVER_MAX_POLICIES)[number];
  max_parallel: number | null;
  on: string[];
  no_cache: boolean;
}

export type ParseErrorCode =
  | 'missing_name'
  | 'bad_name'
  | 'bad_value'
  | 'unknown_option'
  | 'missing_value'
  | 'unexpected_argument'
  | 'duplicate_option'
  | 'duplicate_upstream'
  | 'unexpected_value'
  | 'unclosed_quote';

export interface ParseError {
  code: ParseErrorCode;
  message: string;
}

/** What a first line is: not a block, a valid block, or a block with an error. */
export type MagicLineResult =
  | { kind: 'not_block' }
  | { kind: 'block'; options: BlockOptions }
  | { kind: 'error'; error: ParseError };

const MAGIC = /^%%block(?=\s|$)/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NON_NEGATIVE_INT = /^\d+$/;
const NON_NEGATIVE_NUMBER = /^\d+(\.\d+)?$/;
const NEGATIVE_NUMBER = /^-\d/;

/** Python's hard keywords (`keyword.kwlist`) plus the names the runtime binds. */
const RESERVED_NAMES = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break',
  'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for',
  'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or',
  'pass', 'raise', 'return', 'try', 'while', 'with', 'yield',
  'kwargs', 'args'
]);

type ValueOption =
  | 'type'
  | 'lang'
  | 'profile'
  | 'connector'
  | 'retries'
  | 'retry_delay'
  | 'max_retry_delay'
  | 'exponential_backoff'
  | 'timeout'
  | 'poke_interval'
  | 'max_children'
  | 'over_max'
  | 'max_parallel';
type FlagOption = 'dynamic' | 'reduce' | 'no_cache';
type ListOption = 'upstream' | 'on';
type OptionKey = ValueOption | FlagOption | ListOption;

/** Spelled-out option names; no abbreviations are accepted. */
const OPTIONS: Record<string, OptionKey> = {
  '--type': 'type',
  '-t': 'type',
  '--upstream': 'upstream',
  '-u': 'upstream',
  '--lang': 'lang',
  '--profile': 'profile',
  '--connector': 'connector',
  '--retries': 'retries',
  '--retry-delay': 'retry_delay',
  '--max-retry-delay': 'max_retry_delay',
  '--exponential-backoff': 'exponential_backoff',
  '--timeout': 'timeout',
  '--poke-interval': 'poke_interval',
  '--dynamic': 'dynamic',
  '--reduce': 'reduce',
  '--max-children': 'max_children',
  '--over-max': 'over_max',
  '--max-parallel': 'max_parallel',
  '--on': 'on',
  '--no-cache': 'no_cache'
};

const FLAGS = new Set<OptionKey>(['dynamic', 'reduce', 'no_cache']);

export function defaultOptions(name: string): BlockOptions {
  return {
    name,
    type: null,
    upstream: [],
    lang: 'python',
    profile: null,
    connector: null,
    retries: 0,
    retry_delay: 5.0,
    max_retry_delay: null,
    exponential_backoff: null,
    timeout: null,
    poke_interval: 60.0,
    dynamic: false,
    reduce: false,
    max_children: null,
    over_max: 'fail',
    max_parallel: null,
    on: [],
    no_cache: false
  };
}

export function isBlockName(name: string): boolean {
  return NAME.test(name) && !RESERVED_NAMES.has(name);
}

/** Whether the first line of a cell source starts a block cell. */
export function isBlockSource(source: string): boolean {
  return MAGIC.test(firstLine(source));
}

export function firstLine(source: string): string {
  const end = source.search(/\r?\n/);
  return end < 0 ? source : source.slice(0, end);
}

/** Parse the first line of a cell source. */
export function parseCellSource(source: string): MagicLineResult {
  return parseMagicLine(firstLine(source));
}

class MagicLineError extends Error {
  constructor(
    readonly code: ParseErrorCode,
    message: string
  ) {
    super(message);
  }
}

/** Parse one `%%block` line. */
export function parseMagicLine(line: string): MagicLineResult {
  const match = MAGIC.exec(line);
  if (!match) {
    return { kind: 'not_block' };
  }
  try {
    return { kind: 'block', options: parseArguments(tokenize(line.slice(match[0].length))) };
  } catch (error) {
    if (error instanceof MagicLineError) {
      return { kind: 'error', error: { code: error.code, message: error.message } };
    }
    throw error;
  }
}

/** Split on whitespace, honouring simple '…' and "…" quoting (no escapes). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: string | null = null;
  for (const char of text) {
    if (quote !== null) {
      if (char === quote) {
        quote = null;
      } else {
        current += char;
      }
    } else if (char === '"' || char === "'") {
      quote = char;
      inToken = true;
    } else if (/\s/.test(char)) {
      if (inToken) {
        tokens.push(current);
        current = '';
        inToken = false;
      }
    } else {
      current += char;
      inToken = true;
    }
  }
  if (quote !== null) {
    throw new MagicLineError('unclosed_quote', `unclosed ${quote} quote in the %%block line`);
  }
  if (inToken) {
    tokens.push(current);
  }
  return tokens;
}

function looksLikeOption(token: string): boolean {
  return token.startsWith('-') && !NEGATIVE_NUMBER.test(token);
}

function checkName(name: string, what: string): void {
  if (!isBlockName(name)) {
    const why = RESERVED_NAMES.has(name)
      ? 'is reserved'
      : 'must be a Python identifier (letters, digits, underscores; not starting with a digit)';
    throw new MagicLineError('bad_name', `${what} '${name}' ${why}`);
  }
}

function parseArguments(tokens: string[]): BlockOptions {
  if (tokens.length === 0 || looksLikeOption(tokens[0])) {
    throw new MagicLineError('missing_name', '%%block needs a block name: %%block NAME [options]');
  }
  const name = tokens[0];
  checkName(name, 'block name');
  const options = defaultOptions(name);
  const seen = new Set<OptionKey>();

  let index = 1;
  while (index < tokens.length) {
    const token = tokens[index++];
    if (!looksLikeOption(token)) {
      throw new MagicLineError('unexpected_argument', `unexpected argument '${token}'`);
    }
    const equals = token.startsWith('--') ? token.indexOf('=') : -1;
    const spelled = equals >= 0 ? token.slice(0, equals) : token;
    const inlineValue = equals >= 0 ? token.slice(equals + 1) : null;
    const key = Object.prototype.hasOwnProperty.call(OPTIONS, spelled) ? OPTIONS[spelled] : undefined;
    if (key === undefined) {
      throw new MagicLineError('unknown_option', `unknown option '${spelled}'`);
    }

    if (FLAGS.has(key)) {
      if (inlineValue !== null) {
        throw new MagicLineError('unexpected_value', `${spelled} is a flag and takes no value`);
      }
      if (seen.has(key)) {
        throw new MagicLineError('duplicate_option', `${spelled} given twice`);
      }
      seen.add(key);
      options[key as FlagOption] = true;
      continue;
    }

    if (key === 'upstream' || key === 'on') {
      const names: string[] = [];
      if (inlineValue !== null) {
        names.push(inlineValue);
      } else {
        while (index < tokens.length && !looksLikeOption(tokens[index])) {
          names.push(tokens[index++]);
        }
      }
      if (names.length === 0 || names.some(n => n === '')) {
        throw new MagicLineError('missing_value', `${spelled} needs at least one block name`);
      }
      const listed = options[key];
      for (const upstream of names) {
        checkName(upstream, key === 'upstream' ? 'upstream' : 'block');
        if (listed.includes(upstream)) {
          throw new MagicLineError('duplicate_upstream', `${key === 'upstream' ? 'upstream' : 'block'} '${upstream}' listed twice`);
        }
        listed.push(upstream);
      }
      seen.add(key);
      continue;
    }

    let value: string;
    if (inlineValue !== null) {
      value = inlineValue;
    } else if (index < tokens.length && !looksLikeOption(tokens[index])) {
      value = tokens[index++];
    } else {
      throw new MagicLineError('missing_value', `${spelled} needs a value`);
    }
    if (seen.has(key)) {
      throw new MagicLineError('duplicate_option', `${spelled} given twice`);
    }
    seen.add(key);
    setValue(options, key as ValueOption, spelled, value);
  }
  return options;
}

function choice<T extends string>(allowed: readonly T[], spelled: string, value: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new MagicLineError(
      'bad_value',
      `${spelled} must be one of ${allowed.join(', ')}; got '${value}'`
    );
  }
  return value as T;
}

function setValue(options: BlockOptions, key: ValueOption, spelled: string, value: string): void {
  switch (key) {
    case 'type':
      options.type = choice(BLOCK_TYPES, spelled, value);
      return;
    case 'lang':
      options.lang = choice(LANGUAGES, spelled, value);
      return;
    case 'connector':
      options.connector = choice(CONNECTORS, spelled, value);
      return;
    case 'profile':
      options.profile = value;
      return;
    case 'retries':
      if (!NON_NEGATIVE_INT.test(value)) {
        throw new MagicLineError('bad_value', `${spelled} must be a whole number >= 0; got '${value}'`);
      }
      options.retries = parseInt(value, 10);
      return;
    case 'retry_delay':
      if (!NON_NEGATIVE_NUMBER.test(value)) {
        throw new MagicLineError('bad_value', `${spelled} must be a number of seconds >= 0; got '${value}'`);
      }
      options.retry_delay = parseFloat(value);
      return;
    case 'max_retry_delay':
      if (!NON_NEGATIVE_NUMBER.test(value)) {
        throw new MagicLineError('bad_value', `${spelled} must be a number of seconds >= 0; got '${value}'`);
      }
      options.max_retry_delay = parseFloat(value);
      return;
    case 'exponential_backoff':
      options.exponential_backoff = choice(['true', 'false'] as const, spelled, value) === 'true';
      return;
    case 'timeout':
    case 'poke_interval':
      if (!NON_NEGATIVE_NUMBER.test(value) || parseFloat(value) <= 0) {
        throw new MagicLineError('bad_value', `${spelled} must be a number of seconds > 0; got '${value}'`);
      }
      options[key] = parseFloat(value);
      return;
    case 'max_children':
    case 'max_parallel':
      if (!NON_NEGATIVE_INT.test(value) || parseInt(value, 10) === 0) {
        throw new MagicLineError('bad_value', `${spelled} must be a whole number >= 1; got '${value}'`);
      }
      options[key] = parseInt(value, 10);
      return;
    case 'over_max':
      options.over_max = choice(OVER_MAX_POLICIES, spelled, value);
      return;
  }
}

const DECORATOR = new RegExp(`^@(${BLOCK_TYPES.join('|')})\\b`, 'm');

/** The block type a cell declares or, failing that, the one its decorator implies. */
export function effectiveBlockType(options: BlockOptions, source: string): BlockType | null {
  if (options.type) {
    return options.type;
  }
  const match = DECORATOR.exec(source);
  return match ? (match[1] as BlockType) : null;
}
