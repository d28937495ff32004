// The config language: the declarative subset of Lua that Prosody config files use.
// Accepted: `name = value` statements (`;` optional), VirtualHost/Host/Component section lines,
// literals (strings with Lua escapes, long strings, numbers, booleans, nil) and table
// constructors. Everything that would need a Lua interpreter (calls, expressions, locals,
// Include) is rejected with a ConfigError naming file:line, so a config never half-loads.

import { ConfigError } from './errors.js';

export type LuaValue =
  | { type: 'string'; value: string; line: number }
  | { type: 'number'; value: number; line: number }
  | { type: 'boolean'; value: boolean; line: number }
  | { type: 'nil'; line: number }
  | LuaTable;

/** A table constructor; `entries` keeps source order, `key` is absent for positional items. */
export interface LuaTable { type: 'table'; entries: LuaEntry[]; line: number }
export interface LuaEntry { key?: string | number; value: LuaValue; line: number }

export type LuaStatement =
  | { type: 'assign'; name: string; value: LuaValue; line: number }
  | { type: 'section'; kind: 'VirtualHost' | 'Component'; name: string; component?: string; options?: LuaTable; line: number };

type Token =
  | { t: 'name'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'number'; v: number; line: number }
  | { t: 'op'; v: string; line: number }
  | { t: 'eof'; line: number };

const KEYWORDS = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if',
  'in', 'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while']);
const OPS = ['...', '..', '==', '~=', '<=', '>=', '//', '<<', '>>', '::',
  '=', '{', '}', '[', ']', '(', ')', ',', ';', '-', '+', '*', '/', '%', '^', '#', '&', '~', '|', '<', '>', ':', '.'];
const EXPRESSION_OPS = new Set(['==', '~=', '<=', '>=', '//', '<<', '>>', '-', '+', '*', '/', '%', '^', '&', '~', '|', '<', '>']);
const SECTIONS: Record<string, 'VirtualHost' | 'Component'> = { VirtualHost: 'VirtualHost', Host: 'VirtualHost', Component: 'Component' };
const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };
const MAX_DEPTH = 64;
const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const HEX_RE = /0[xX][0-9a-fA-F]+/y;
const DEC_RE = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NUM_TAIL_RE = /(?:[eE][+-]|[A-Za-z0-9_.])+/y;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** A short human description of a token for error messages. */
function describe(tok: Token): string {
  switch (tok.t) {
    case 'eof': return 'end of file';
    case 'string': return `string ${JSON.stringify(tok.v.length > 40 ? tok.v.slice(0, 40) + '…' : tok.v)}`;
    case 'number': return `number ${tok.v}`;
    default: return `'${tok.v}'`;
  }
}

class Lexer {
  private pos = 0;
  line = 1;

  constructor(private readonly src: string, private readonly file: string) {
    if (src.startsWith('#')) this.skipToLineEnd(); // a `#!` first line, as Lua allows
  }

  fail(line: number, what: string): never {
    throw new ConfigError(this.file, line, what);
  }

  next(): Token {
    this.skipSpaceAndComments();
    const { src, pos, line } = this;
    if (pos >= src.length) return { t: 'eof', line };
    const c = src[pos] as string;
    if (c === '"' || c === "'") return { t: 'string', v: this.readString(c), line };
    if (c === '[' && this.longLevel(pos) >= 0) return { t: 'string', v: this.readLong('string'), line };
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[pos + 1] ?? ''))) return { t: 'number', v: this.readNumber(), line };
    NAME_RE.lastIndex = pos;
    const name = NAME_RE.exec(src);
    if (name) {
      this.pos += name[0].length;
      return { t: 'name', v: name[0], line };
    }
    const op = OPS.find((o) => src.startsWith(o, pos));
    if (op === undefined) this.fail(line, `unexpected character ${JSON.stringify(String.fromCodePoint(src.codePointAt(pos) ?? 0))}`);
    this.pos += op.length;
    return { t: 'op', v: op, line };
  }

  /** Consume one line break (\n, \r, \r\n or \n\r count as one, as in Lua) if there is one. */
  private newline(): boolean {
    const c = this.src[this.pos];
    if (c !== '\n' && c !== '\r') return false;
    const d = this.src[this.pos + 1];
    this.pos += (d === '\n' || d === '\r') && d !== c ? 2 : 1;
    this.line++;
    return true;
  }

  private skipToLineEnd(): void {
    while (this.pos < this.src.length && this.src[this.pos] !== '\n' && this.src[this.pos] !== '\r') this.pos++;
  }

  private skipSpaceAndComments(): void {
    for (;;) {
      if (this.newline()) continue;
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || c === '\f' || c === '\v') this.pos++;
      else if (c === '-' && this.src[this.pos + 1] === '-') {
        this.pos += 2;
        if (this.longLevel(this.pos) >= 0) this.readLong('comment');
        else this.skipToLineEnd();
      } else return;
    }
  }

  /** The level of a long bracket `[==[` starting at `at`, or -1 if there is none. */
  private longLevel(at: number): number {
    if (this.src[at] !== '[') return -1;
    let p = at + 1;
    while (this.src[p] === '=') p++;
    return this.src[p] === '[' ? p - at - 1 : -1;
  }

  private readLong(what: 'string' | 'comment'): string {
    const level = this.longLevel(this.pos);
    const start = this.line;
    this.pos += level + 2;
    this.newline(); // a line break right after the opening bracket is not part of the string
    const close = ']' + '='.repeat(level) + ']';
    const end = this.src.indexOf(close, this.pos);
    if (end < 0) this.fail(start, `unfinished long ${what}: no closing ${close} before the end of the file`);
    const body = this.src.slice(this.pos, end);
    this.line += (body.match(/\r\n|\n\r|\n|\r/g) ?? []).length;
    this.pos = end + close.length;
    return body.replace(/\r\n|\n\r|\r/g, '\n');
  }

  private readNumber(): number {
    const { src, pos, line } = this;
    let m: RegExpExecArray | null = null;
    for (const re of [HEX_RE, DEC_RE]) {
      re.lastIndex = pos;
      m = re.exec(src);
      if (m) break;
    }
    NUM_TAIL_RE.lastIndex = pos;
    const whole = (NUM_TAIL_RE.exec(src) as RegExpExecArray)[0];
    if (!m || m[0] !== whole) this.fail(line, `malformed number '${whole}'`);
    this.pos += whole.length;
    return /^0[xX]/.test(whole) ? parseInt(whole.slice(2), 16) : Number(whole);
  }

  private readString(quote: string): string {
    const src = this.src;
    const start = this.line;
    const bytes: number[] = [];
    this.pos++;
    for (;;) {
      const c = src[this.pos];
      if (c === undefined) this.fail(start, 'unfinished string: no closing quote before the end of the file');
      if (c === quote) break;
      if (c === '\n' || c === '\r') this.fail(start, 'unfinished string: a quoted string cannot span lines (use [[long strings]])');
      if (c === '\\') {
        this.readEscape(bytes);
        continue;
      }
      const cp = src.codePointAt(this.pos) as number;
      pushUtf8(bytes, cp);
      this.pos += cp > 0xffff ? 2 : 1;
    }
    this.pos++;
    try {
      return utf8.decode(Uint8Array.from(bytes));
    } catch {
      return this.fail(start, 'string is not valid UTF-8 (check its \\ddd or \\x escapes)');
    }
  }

  private readEscape(out: number[]): void {
    const src = this.src;
    this.pos++;
    const c = src[this.pos] ?? '';
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      out.push(simple);
      this.pos++;
    } else if (c === '\n' || c === '\r') {
      this.newline();
      out.push(10);
    } else if (c === 'z') {
      this.pos++;
      for (;;) {
        if (this.newline()) continue;
        if (!/^[ \t\f\v]$/.test(src[this.pos] ?? '')) break;
        this.pos++;
      }
    } else if (c === 'x') {
      const hex = src.slice(this.pos + 1, this.pos + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail(this.line, `invalid escape '\\x${hex}': \\x needs two hex digits`);
      out.push(parseInt(hex, 16));
      this.pos += 3;
    } else if (/[0-9]/.test(c)) {
      const digits = /^[0-9]{1,3}/.exec(src.slice(this.pos, this.pos + 3))![0];
      const n = Number(digits);
      if (n > 255) this.fail(this.line, `invalid escape '\\${digits}': decimal escapes go up to 255`);
      out.push(n);
      this.pos += digits.length;
    } else if (c === 'u') {
      const m = /^u\{([0-9a-fA-F]{1,8})\}/.exec(src.slice(this.pos, this.pos + 11));
      const cp = m ? parseInt(m[1] as string, 16) : -1;
      if (!m || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(this.line, "invalid escape '\\u': write \\u{XXXX} with a valid Unicode code point");
      pushUtf8(out, cp);
      this.pos += m[0].length;
    } else {
      this.fail(this.line, c === '' ? 'unfinished string' : `invalid escape sequence '\\${c}' in string`);
    }
  }
}

class Parser {
  private readonly buf: Token[] = [];
  private depth = 0;

  constructor(private readonly lx: Lexer, private readonly file: string) {}

  private peek(k = 0): Token {
    while (this.buf.length <= k) this.buf.push(this.lx.next());
    return this.buf[k] as Token;
  }

  private take(): Token {
    const tok = this.peek();
    this.buf.shift();
    return tok;
  }

  private fail(line: number, what: string, option?: string): never {
    throw new ConfigError(this.file, line, what, option);
  }

  private isOp(tok: Token, v: string): boolean {
    return tok.t === 'op' && tok.v === v;
  }

  parse(): LuaStatement[] {
    const out: LuaStatement[] = [];
    for (let tok = this.take(); tok.t !== 'eof'; tok = this.take()) {
      if (this.isOp(tok, ';')) continue;
      if (tok.t !== 'name' || KEYWORDS.has(tok.v)) this.rejectStatement(tok);
      const next = this.peek();
      if (this.isOp(next, '=')) {
        this.take();
        const value = this.value(tok.v);
        this.noExpression(tok.v);
        out.push({ type: 'assign', name: tok.v, value, line: tok.line });
      } else if (SECTIONS[tok.v] !== undefined) {
        out.push(this.section(tok.v, tok.line));
      } else if (tok.v === 'Include' || tok.v === 'RunScript') {
        this.fail(tok.line, `'${tok.v}' is not supported: Clove reads a single config file; copy the included options into it`);
      } else if (next.t === 'string' || this.isOp(next, '(') || this.isOp(next, '{')) {
        this.fail(tok.line, `function calls are not supported ('${tok.v}'): only 'name = value' options and VirtualHost/Component lines`);
      } else if (this.isOp(next, '.') || this.isOp(next, '[') || this.isOp(next, ':')) {
        this.fail(tok.line, `only plain 'name = value' options are supported, not '${tok.v}${next.t === 'op' ? next.v : ''}…'`);
      } else if (this.isOp(next, ',')) {
        this.fail(tok.line, 'multiple assignment (a, b = …) is not supported: set one option per line');
      } else {
        this.fail(next.line, `expected '=' after option name '${tok.v}', got ${describe(next)}`);
      }
    }
    return out;
  }

  private rejectStatement(tok: Token): never {
    if (tok.t === 'name' && tok.v === 'local') this.fail(tok.line, "local variables are not supported: write 'name = value' options");
    if (tok.t === 'name' && ['function', 'if', 'for', 'while', 'repeat', 'return', 'do', 'goto', 'break'].includes(tok.v)) {
      this.fail(tok.line, `'${tok.v}' is not supported: the config file is declarative ('name = value' options and VirtualHost/Component lines)`);
    }
    return this.fail(tok.line, `unexpected ${describe(tok)}: expected an option name`);
  }

  /** After a complete value: reject operators so `a .. b` or `1 + 2` fail here, not later. */
  private noExpression(option?: string): void {
    const tok = this.peek();
    if (this.isOp(tok, '..')) this.fail(tok.line, "string concatenation ('..') is not supported: write the whole string", option);
    if ((tok.t === 'op' && EXPRESSION_OPS.has(tok.v)) || (tok.t === 'name' && (tok.v === 'and' || tok.v === 'or'))) {
      this.fail(tok.line, `expressions are not supported ('${tok.v}'): write a plain value`, option);
    }
  }

  private section(word: string, line: number): LuaStatement {
    const kind = SECTIONS[word] as 'VirtualHost' | 'Component';
    const name = this.callArg(word, kind === 'Component' ? 'e.g. Component "conference.example.com" "muc"' : `e.g. ${word} "example.com"`);
    const stmt: LuaStatement = { type: 'section', kind, name, line };
    if (name.trim() === '' || /\s/.test(name)) this.fail(line, `${word} name ${JSON.stringify(name)} is not a valid host name`);
    const next = this.peek();
    if (kind === 'Component' && (next.t === 'string' || (this.isOp(next, '(') && this.peek(1).t === 'string'))) {
      stmt.component = this.callArg(word, 'the component kind must be a quoted string');
    }
    if (this.isOp(this.peek(), '{')) stmt.options = this.table(this.take().line);
    return stmt;
  }

  /** `"x"` or `("x")`: the argument of a section line. */
  private callArg(word: string, hint: string): string {
    const tok = this.take();
    if (tok.t === 'string') return tok.v;
    if (this.isOp(tok, '(')) {
      const arg = this.take();
      if (arg.t === 'string' && this.isOp(this.peek(), ')')) {
        this.take();
        return arg.v;
      }
    }
    return this.fail(tok.line, `${word} needs a quoted name (${hint}), got ${describe(tok)}`);
  }

  private value(option?: string): LuaValue {
    const tok = this.take();
    const line = tok.line;
    if (tok.t === 'string') return { type: 'string', value: tok.v, line };
    if (tok.t === 'number') return { type: 'number', value: tok.v, line };
    if (tok.t === 'name') {
      if (tok.v === 'true' || tok.v === 'false') return { type: 'boolean', value: tok.v === 'true', line };
      if (tok.v === 'nil') return { type: 'nil', line };
      if (tok.v === 'function') this.fail(line, 'functions are not supported in the config file', option);
      if (!KEYWORDS.has(tok.v)) {
        this.fail(line, `variables are not supported (${tok.v}); did you mean the string "${tok.v}"?`, option);
      }
    }
    if (this.isOp(tok, '-')) {
      const num = this.take();
      if (num.t === 'number') return { type: 'number', value: -num.v, line };
      this.fail(num.line, `expressions are not supported: '-' must be followed by a number, got ${describe(num)}`, option);
    }
    if (this.isOp(tok, '{')) return this.table(line, option);
    if (this.isOp(tok, '(')) this.fail(line, 'expressions in parentheses are not supported: write a plain value', option);
    return this.fail(line, `expected a value, got ${describe(tok)}`, option);
  }

  private table(open: number, option?: string): LuaTable {
    if (++this.depth > MAX_DEPTH) this.fail(open, `tables are nested more than ${MAX_DEPTH} levels deep`, option);
    const entries: LuaEntry[] = [];
    const seen = new Map<string | number, number>();
    for (;;) {
      const tok = this.peek();
      if (this.isOp(tok, '}')) break;
      if (tok.t === 'eof') this.fail(tok.line, `expected '}' to close the table opened at line ${open}, got end of file`, option);
      let key: string | number | undefined;
      if (this.isOp(tok, '[')) {
        this.take();
        const k = this.value(option);
        if (k.type !== 'string' && k.type !== 'number') this.fail(k.line, 'table keys in [ ] must be strings or numbers', option);
        key = k.value;
        this.expect(']', `to close the key opened at line ${tok.line}`, option);
        this.expect('=', 'after the table key', option);
      } else if (tok.t === 'name' && !KEYWORDS.has(tok.v) && this.isOp(this.peek(1), '=')) {
        this.take();
        this.take();
        key = tok.v;
      }
      const value = this.value(option);
      this.noExpression(option);
      if (key !== undefined) {
        const first = seen.get(key);
        if (first !== undefined) this.fail(tok.line, `duplicate key '${key}' in table (first set at line ${first})`, option);
        seen.set(key, tok.line);
      }
      entries.push(key === undefined ? { value, line: tok.line } : { key, value, line: tok.line });
      const sep = this.peek();
      if (this.isOp(sep, ',') || this.isOp(sep, ';')) this.take();
      else if (!this.isOp(sep, '}')) {
        this.fail(sep.line, `expected ',' or ';' or '}' after a table field (table opened at line ${open}), got ${describe(sep)}`, option);
      }
    }
    this.take();
    this.depth--;
    return { type: 'table', entries, line: open };
  }

  private expect(op: string, why: string, option?: string): void {
    const tok = this.take();
    if (!this.isOp(tok, op)) this.fail(tok.line, `expected '${op}' ${why}, got ${describe(tok)}`, option);
  }
}

/** Parse config text into statements; throws ConfigError with file:line on anything outside the subset. */
export function parseLua(text: string, file: string): LuaStatement[] {
  return new Parser(new Lexer(text, file), file).parse();
}
