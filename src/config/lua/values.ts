// Lua literals and table constructors, read from tokens into values that remember their line.
// One parser for both readers of Lua in Clove (the config file and Prosody's data files); each
// reader subclasses it to say which keys it takes, how deep tables may nest, and its wording.

import { KEYWORDS, Lexer, type LexFault, type LexerOptions, type Token } from './lexer.js';

export type LuaKey = string | number | boolean;

export type LuaValue =
  | { type: 'string'; value: string; line: number }
  /** `float` is set (true) only by the config's expressions, where Lua 5.4 tells 3 from 3.0. */
  | { type: 'number'; value: number; line: number; float?: boolean }
  | { type: 'boolean'; value: boolean; line: number }
  | { type: 'nil'; line: number }
  | LuaTable;

/** A table constructor; `entries` keeps source order, `key` is absent for positional items. */
export interface LuaTable { type: 'table'; entries: LuaEntry[]; line: number }
export interface LuaEntry { key?: LuaKey; value: LuaValue; line: number }

/** How one reader words the problems the literal parser finds (each returns the message). */
export interface LiteralWording {
  tooDeep(max: number): string;
  /** End of file inside a table opened at `open`. */
  unclosedTable(open: number, tok: Token): string;
  /** A `[key]` that is not a key this reader accepts. */
  badKey(): string;
  /** No `]` after a `[key`, opened at `keyLine`. */
  unclosedKey(keyLine: number, tok: Token): string;
  /** No `=` after `[key]`. */
  noEquals(tok: Token): string;
  duplicateKey(key: LuaKey, firstLine: number): string;
  /** Neither `,` nor `;` nor `}` after a field of the table opened at `open`. */
  badSeparator(open: number, tok: Token): string;
  /** A token where a value should start. */
  notAValue(tok: Token): string;
  /** `-` followed by something other than a number. */
  minusWithoutNumber(tok: Token): string;
  /** A lexer fault, in this reader's words. */
  lexFault(fault: LexFault): string;
}

/** What a reader accepts beyond the literals both share. */
export interface LiteralRules {
  maxDepth: number;
  /** Boolean `[true] = …` keys (Prosody's data has them; the config does not). */
  booleanKeys: boolean;
  /** A key set twice: the later wins (true) or it is an error (false). */
  duplicateKeys: boolean;
  /** `(1/0)`, `(-1/0)` and `(0/0)`: how Prosody's util/serialization writes infinities and NaN. */
  serializedSpecials: boolean;
}

/** Token stream plus value and table parsing; a subclass adds the statements around the values. */
export abstract class LiteralParser {
  private readonly buf: Token[] = [];
  private readonly lexer: Lexer;
  private depth = 0;

  protected constructor(text: string, lex: Omit<LexerOptions, 'fail'>, private readonly rules: LiteralRules, protected readonly wording: LiteralWording) {
    this.lexer = new Lexer(text, { ...lex, fail: (f) => this.fail(f.line, wording.lexFault(f)) });
  }

  /** Throw this reader's error for `line` (with the option being read, where the reader has options). */
  protected abstract fail(line: number, what: string, option?: string): never;

  protected peek(k = 0): Token {
    while (this.buf.length <= k) this.buf.push(this.lexer.next());
    return this.buf[k] as Token;
  }

  protected take(): Token {
    const tok = this.peek();
    this.buf.shift();
    return tok;
  }

  protected isOp(tok: Token, v: string): boolean {
    return tok.t === 'op' && tok.v === v;
  }

  /** Called after each complete value (a reader may refuse operators here). */
  protected afterValue(_option?: string): void {}

  /** One literal value or table constructor. */
  protected value(option?: string): LuaValue {
    const tok = this.take();
    const line = tok.line;
    if (tok.t === 'string') return { type: 'string', value: tok.v, line };
    if (tok.t === 'number') return { type: 'number', value: tok.v, line };
    if (tok.t === 'name') {
      if (tok.v === 'true' || tok.v === 'false') return { type: 'boolean', value: tok.v === 'true', line };
      if (tok.v === 'nil') return { type: 'nil', line };
    }
    if (this.isOp(tok, '-')) {
      const num = this.take();
      if (num.t === 'number') return { type: 'number', value: -num.v, line };
      this.fail(num.line, this.wording.minusWithoutNumber(num), option);
    }
    if (this.isOp(tok, '{')) return this.table(line, option);
    if (this.isOp(tok, '(') && this.rules.serializedSpecials) {
      const special = this.special();
      if (special !== undefined) return { type: 'number', value: special, line };
    }
    return this.fail(line, this.wording.notAValue(tok), option);
  }

  /** After `(`: the rest of `(1/0)`, `(-1/0)` or `(0/0)`, or undefined (nothing taken). */
  private special(): number | undefined {
    const neg = this.isOp(this.peek(), '-') ? 1 : 0;
    const [a, slash, b, close] = [this.peek(neg), this.peek(neg + 1), this.peek(neg + 2), this.peek(neg + 3)];
    if (a.t !== 'number' || !this.isOp(slash, '/') || b.t !== 'number' || b.v !== 0 || !this.isOp(close, ')')) return undefined;
    const v = neg ? -a.v / 0 : a.v / 0;
    if (!(a.v === 1 || (a.v === 0 && !neg))) return undefined;
    for (let i = 0; i < neg + 4; i++) this.take();
    return v;
  }

  /** The fields of a table whose `{` (at line `open`) was just taken. */
  protected table(open: number, option?: string): LuaTable {
    if (++this.depth > this.rules.maxDepth) this.fail(open, this.wording.tooDeep(this.rules.maxDepth), option);
    const entries: LuaEntry[] = [];
    const seen = new Map<LuaKey, number>();
    for (;;) {
      const tok = this.peek();
      if (this.isOp(tok, '}')) break;
      if (tok.t === 'eof') this.fail(tok.line, this.wording.unclosedTable(open, tok), option);
      let key: LuaKey | undefined;
      if (this.isOp(tok, '[')) {
        this.take();
        const k = this.value(option);
        const ok = k.type === 'string' || (k.type === 'number' && !Number.isNaN(k.value)) || (k.type === 'boolean' && this.rules.booleanKeys);
        if (!ok) this.fail(k.line, this.wording.badKey(), option);
        key = k.value;
        const close = this.take();
        if (!this.isOp(close, ']')) this.fail(close.line, this.wording.unclosedKey(tok.line, close), option);
        const eq = this.take();
        if (!this.isOp(eq, '=')) this.fail(eq.line, this.wording.noEquals(eq), option);
      } else if (tok.t === 'name' && !KEYWORDS.has(tok.v) && this.isOp(this.peek(1), '=')) {
        this.take();
        this.take();
        key = tok.v;
      }
      const value = this.value(option);
      this.afterValue(option);
      if (key !== undefined && !this.rules.duplicateKeys) {
        const first = seen.get(key);
        if (first !== undefined) this.fail(tok.line, this.wording.duplicateKey(key, first), option);
        seen.set(key, tok.line);
      }
      entries.push(key === undefined ? { value, line: tok.line } : { key, value, line: tok.line });
      const sep = this.peek();
      if (this.isOp(sep, ',') || this.isOp(sep, ';')) this.take();
      else if (!this.isOp(sep, '}')) this.fail(sep.line, this.wording.badSeparator(open, sep), option);
    }
    this.take();
    this.depth--;
    return { type: 'table', entries, line: open };
  }
}
