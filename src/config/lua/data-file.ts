// A strict reader for the Lua data Prosody's internal storage writes (util/serialization
// through util/datamanager): `.dat` files hold `return <table>;`, `.list` files hold one
// `item(<table>);` per entry. Only literal data is accepted — tables, strings (with Lua's
// escapes), numbers, booleans, nil — never code. Lua strings are bytes; they come back as UTF-8.

import type { LexFault, Token } from './lexer.js';
import { LiteralParser, type LiteralWording, type LuaKey, type LuaValue } from './values.js';

/** A Lua table: positions 1..n and every other key in `hash` (nil values are not kept, as in Lua). */
export class DataTable {
  readonly hash = new Map<LuaKey, DataValue>();
  get(key: LuaKey): DataValue | undefined {
    return this.hash.get(key);
  }
  /** Values at 1, 2, 3, … up to the first gap. */
  array(): DataValue[] {
    const out: DataValue[] = [];
    for (let i = 1; this.hash.has(i); i++) out.push(this.hash.get(i) as DataValue);
    return out;
  }
}
export type DataValue = string | number | boolean | null | DataTable;

export class LuaSyntaxError extends Error {
  override name = 'LuaSyntaxError';
}

const MAX_DEPTH = 100;

/** `unexpected 'x'` names the first character where a value should have started. */
const unexpected = (tok: Token): string => (tok.t === 'eof' ? 'unexpected end of file' : `unexpected '${String(tok.v)[0]}'`);

const LEX_WORDING: Record<LexFault['code'], (f: LexFault) => string> = {
  'char': (f) => `unexpected '${f.detail}'`,
  'long': () => 'unfinished string',
  'number': () => 'bad number',
  'string-eof': () => 'unfinished string',
  'string-newline': () => 'unfinished string',
  'utf8': () => 'string is not valid UTF-8',
  'escape-x': () => 'bad \\x escape',
  'escape-decimal': () => 'decimal escape too large',
  'escape-u': () => 'bad \\u escape',
  'escape': (f) => (f.detail === '' ? 'unfinished string' : `bad escape '\\${f.detail}'`),
};

/** The import's wording, terse: these files are written by Prosody, not by hand. */
const WORDING: LiteralWording = {
  tooDeep: () => 'tables nested too deeply',
  unclosedTable: () => 'unexpected end of file',
  badKey: () => 'bad table key',
  unclosedKey: () => "expected ']'",
  noEquals: () => "expected '='",
  duplicateKey: () => 'duplicate key', // not reached: later keys win, as in Lua
  badSeparator: () => "expected '}'",
  notAValue: unexpected,
  minusWithoutNumber: () => 'bad number',
  lexFault: (f) => LEX_WORDING[f.code](f),
};

class DataFileParser extends LiteralParser {
  constructor(data: Buffer | string) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    super(bytes.toString('latin1'), { latin1: true }, { maxDepth: MAX_DEPTH, booleanKeys: true, duplicateKeys: true, serializedSpecials: true }, WORDING);
  }

  protected fail(line: number, what: string): never {
    throw new LuaSyntaxError(`line ${line}: ${what}`);
  }

  /** `word` then `(`, as in `item(`; fails with `what` otherwise. */
  private keyword(word: string, what: string): void {
    const tok = this.take();
    if (tok.t !== 'name' || tok.v !== word) this.fail(tok.line, what);
  }

  private op(v: string): void {
    const tok = this.take();
    if (!this.isOp(tok, v)) this.fail(tok.line, `expected '${v}'`);
  }

  private optional(v: string): void {
    if (this.isOp(this.peek(), v)) this.take();
  }

  dat(): DataValue {
    this.keyword('return', "expected 'return'");
    const v = this.value();
    this.optional(';');
    const rest = this.peek();
    if (rest.t !== 'eof') this.fail(rest.line, 'unexpected data after the value');
    return toData(v);
  }

  /** The items one at a time, so a long list is never all in memory as tables. */
  *items(): Generator<DataValue> {
    while (this.peek().t !== 'eof') {
      this.keyword('item', "expected 'item('");
      this.op('(');
      const v = toData(this.value());
      this.op(')');
      this.optional(';');
      yield v;
    }
  }
}

/** A parsed value as data: positional items numbered from 1, nil entries dropped, later keys winning. */
function toData(v: LuaValue): DataValue {
  if (v.type === 'nil') return null;
  if (v.type !== 'table') return v.value;
  const t = new DataTable();
  let n = 1;
  for (const e of v.entries) {
    const key = e.key ?? n++;
    if (e.value.type !== 'nil') t.hash.set(key, toData(e.value));
  }
  return t;
}

/** A `.dat` file: `return <value>;` */
export function parseDat(data: Buffer | string): DataValue {
  return new DataFileParser(data).dat();
}

/** A `.list` file: `item(<value>);` repeated. */
export function parseList(data: Buffer | string): DataValue[] {
  return [...listItems(data)];
}

/**
 * A `.list` file's items one by one (an archive of many messages): a syntax error is thrown
 * when reached, after the items before it were yielded.
 */
export function listItems(data: Buffer | string): Generator<DataValue> {
  return new DataFileParser(data).items();
}
