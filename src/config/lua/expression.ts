// Expressions of the config language, evaluated as they are read: Lua 5.4's operators with their
// precedence (`or` < `and` < comparisons < `..` (right) < `+ -` < `* / // %` < unary < `^`
// (right)), parentheses, table constructors, the chunk's `local` variables, `ENV_<NAME>`
// (the environment variable NAME, nil when unset, as Prosody's configmanager does) and the
// built-in readers FileContents / FileLine / FileLines / Credential. Anything else that would need
// a Lua interpreter — other calls, indexing, functions, bitwise operators — is an error naming
// the line. `and` / `or` short-circuit: the side not taken is read (so syntax and names are still
// checked) but not evaluated, so `ENV_X or FileContents("x")` never reads x when ENV_X is set.

import { arith, formatNumber, LuaRuntimeError, stringToNumber, type ArithOp, type LuaNumber } from './arith.js';
import { describeToken, KEYWORDS, type LexerOptions, type Token } from './lexer.js';
import { LiteralParser, type LiteralRules, type LiteralWording, type LuaTable, type LuaValue } from './values.js';

/** What a chunk's expressions may ask of the world outside the text. */
export interface ChunkHost {
  /** The environment variable `name` (read as ENV_name), or undefined when unset. */
  env(name: string): string | undefined;
  /** FileContents & co: the text of `path` (relative to the chunk's file); throws LuaRuntimeError. */
  readFile(path: string, what: FileReader): string;
}

export type FileReader = 'FileContents' | 'FileLine' | 'FileLines' | 'Credential';
const READERS: ReadonlySet<string> = new Set<FileReader>(['FileContents', 'FileLine', 'FileLines', 'Credential']);

/** Names the config language defines: they cannot be redefined as locals. */
export const BUILTIN_NAMES: ReadonlySet<string> = new Set([...READERS, 'VirtualHost', 'Host', 'host', 'Component', 'component', 'Include', 'include', 'RunScript', 'Lua']);

/** Left and right binding power of each binary operator (Lua 5.4's lparser.c table). */
const PRIORITY: Readonly<Record<string, readonly [number, number]>> = {
  'or': [1, 1], 'and': [2, 2],
  '<': [3, 3], '>': [3, 3], '<=': [3, 3], '>=': [3, 3], '~=': [3, 3], '==': [3, 3],
  '|': [4, 4], '~': [5, 5], '&': [6, 6], '<<': [7, 7], '>>': [7, 7],
  '..': [9, 8], '+': [10, 10], '-': [10, 10],
  '*': [11, 11], '/': [11, 11], '//': [11, 11], '%': [11, 11],
  '^': [14, 13],
};
const UNARY_PRIORITY = 12;
/** The longest string `..` may build: a chain of `local b = a .. a` lines would otherwise double without end. */
export const MAX_STRING_LENGTH = 1024 * 1024;
/** The most entries a table may hold, counting those of tables nested in it (a local table used twice counts twice). */
export const MAX_TABLE_ENTRIES = 1_000_000;
/** Nesting of expressions (parentheses, operands of right-associative operators): Lua's own limit of 200 C levels. */
export const MAX_EXPRESSION_DEPTH = 200;
const BITWISE = new Set(['|', '~', '&', '<<', '>>']);
const ARITH = new Set(['+', '-', '*', '/', '//', '%', '^']);

/** A value plus, for messages, where it came from ("local 'x'", "ENV_X: …"). */
type Val = LuaValue & { origin?: string };

function truthy(v: LuaValue): boolean {
  return !(v.type === 'nil' || (v.type === 'boolean' && !v.value));
}


function a(v: Val): string {
  return `a ${v.type} value${v.origin ? ` (${v.origin})` : ''}`;
}

function numberValue(n: LuaNumber, line: number): LuaValue {
  return n.float ? { type: 'number', value: n.value, line, float: true } : { type: 'number', value: n.value, line };
}

function asNumber(v: LuaValue): LuaNumber | undefined {
  if (v.type === 'number') return { value: v.value, float: v.float === true };
  return v.type === 'string' ? stringToNumber(v.value) : undefined;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** `#t`: the border of a table's array part (1..n all present and not nil). */
function border(t: LuaTable): number {
  const present = new Set<number>();
  let i = 0;
  for (const e of t.entries) {
    const key = e.key === undefined ? ++i : e.key;
    if (typeof key === 'number' && e.value.type !== 'nil') present.add(key);
  }
  let n = 0;
  while (present.has(n + 1)) n++;
  return n;
}

/** Entries of each table built, nested ones included (a local table can be referenced many times). */
const weights = new WeakMap<LuaTable, number>();

function weight(t: LuaTable): number {
  let n = 0;
  for (const e of t.entries) n += 1 + (e.value.type === 'table' ? (weights.get(e.value) ?? weight(e.value)) : 0);
  weights.set(t, n);
  return n;
}

function equal(x: LuaValue, y: LuaValue): boolean {
  if (x.type === 'table' || y.type === 'table') return x === y;
  if (x.type !== y.type) return false;
  return x.type === 'nil' || (x as { value: unknown }).value === (y as { value: unknown }).value;
}

/** Literals, tables and expressions; a subclass adds statements and says how to fail. */
export abstract class ExpressionParser extends LiteralParser {
  /** The chunk's locals in scope (Lua: from the statement after their declaration to the end of the chunk). */
  protected readonly locals = new Map<string, LuaValue>();
  /** > 0 while reading the side of `and`/`or` that is not taken. */
  private dead = 0;
  private nesting = 0;

  protected constructor(text: string, lex: Omit<LexerOptions, 'fail'>, rules: LiteralRules, wording: LiteralWording, protected readonly host: ChunkHost) {
    super(text, lex, rules, wording);
  }

  /** A whole expression (the config's value: literals, operators, locals, ENV_, file readers). */
  protected override value(option?: string): LuaValue {
    const v = this.expression(0, option);
    if (v.origin === undefined) return v;
    const { origin: _origin, ...plain } = v;
    return plain as LuaValue;
  }

  private expression(limit: number, option?: string): Val {
    if (++this.nesting > MAX_EXPRESSION_DEPTH) this.fail(this.peek().line, `the expression is nested more than ${MAX_EXPRESSION_DEPTH} levels deep`, option);
    try {
      return this.binaryChain(limit, option);
    } finally {
      this.nesting--;
    }
  }

  private binaryChain(limit: number, option?: string): Val {
    const start = this.peek();
    let left: Val;
    if ((start.t === 'op' && (start.v === '-' || start.v === '#' || start.v === '~')) || (start.t === 'name' && start.v === 'not')) {
      this.take();
      if (start.v === '~') this.fail(start.line, "bitwise operators ('~') are not supported in the config file", option);
      left = this.unary(start.v, this.expression(UNARY_PRIORITY, option), start.line, option);
    } else {
      left = this.simple(option);
    }
    for (;;) {
      const tok = this.peek();
      const op = tok.t === 'op' || (tok.t === 'name' && (tok.v === 'and' || tok.v === 'or')) ? tok.v : undefined;
      const prio = op === undefined ? undefined : PRIORITY[op];
      if (op === undefined || prio === undefined || prio[0] <= limit) return left;
      this.take();
      if (BITWISE.has(op)) this.fail(tok.line, `bitwise operators ('${op}') are not supported in the config file`, option);
      if (op === 'and' || op === 'or') {
        const keepLeft = op === 'and' ? !truthy(left) : truthy(left);
        if (keepLeft) this.skip(() => this.expression(prio[1], option));
        else left = this.expression(prio[1], option);
        continue;
      }
      left = this.binary(op, left, this.expression(prio[1], option), tok.line, option);
    }
  }

  /** A table constructor, refused when it (with the tables in it) holds more than MAX_TABLE_ENTRIES entries. */
  protected override table(open: number, option?: string): LuaTable {
    const t = super.table(open, option);
    if (weight(t) > MAX_TABLE_ENTRIES) this.fail(open, `the table holds more than ${MAX_TABLE_ENTRIES} entries (counting the tables in it)`, option);
    return t;
  }

  /** Read (checking syntax and names) without evaluating: the untaken side of `and`/`or`. */
  private skip(read: () => void): void {
    this.dead++;
    try {
      read();
    } finally {
      this.dead--;
    }
  }

  private nil(line: number): Val {
    return { type: 'nil', line };
  }

  private simple(option?: string): Val {
    const tok = this.peek();
    if (tok.t === 'number') {
      this.take();
      return numberValue({ value: tok.v, float: tok.float }, tok.line);
    }
    if (tok.t === 'op' && tok.v === '{') return this.table(this.take().line, option);
    if (tok.t === 'op' && tok.v === '(') {
      this.take();
      const inner = this.expression(0, option);
      const close = this.take();
      if (!this.isOp(close, ')')) this.fail(close.line, `expected ')' to close the '(' at line ${tok.line}, got ${describeToken(close)}`, option);
      return this.suffixes(inner, undefined, option);
    }
    if (tok.t === 'name' && !KEYWORDS.has(tok.v)) {
      this.take();
      // `print(x)`, `os.getenv(…)`: say it is a call or an index before saying the name is unknown.
      if (!this.locals.has(tok.v) && !(READERS.has(tok.v) && this.callStarts(this.peek()))) this.suffixes(this.nil(tok.line), tok, option);
      return this.suffixes(this.name(tok, option), tok, option);
    }
    // Strings, true/false/nil, and the errors for everything else.
    return super.value(option);
  }

  /** After a name or a parenthesised expression: calls and indexing are refused. */
  private suffixes(v: Val, name: Extract<Token, { t: 'name' }> | undefined, option?: string): Val {
    const next = this.peek();
    if (this.isOp(next, '.') || this.isOp(next, '[') || this.isOp(next, ':')) {
      this.fail(next.line, `indexing ('${name?.v ?? '(…)'}${next.t === 'op' ? next.v : ''}…') is not supported in the config file`, option);
    }
    if (this.callStarts(next)) this.fail(next.line, `function calls are not supported ('${name?.v ?? '(…)'}'): only FileContents, FileLine, FileLines and Credential can be called in a value`, option);
    return v;
  }

  /** Whether `tok` starts call arguments: `(`, a string or a table. */
  protected callStarts(tok: Token): boolean {
    return tok.t === 'string' || this.isOp(tok, '(') || this.isOp(tok, '{');
  }

  private name(tok: Extract<Token, { t: 'name' }>, option?: string): Val {
    const local = this.locals.get(tok.v);
    // A table keeps its identity (t == t); a scalar takes the line where it is used, for messages.
    if (local !== undefined) return local.type === 'table' ? local : ({ ...local, line: tok.line, origin: `local '${tok.v}'` } as Val);
    if (READERS.has(tok.v) && this.callStarts(this.peek())) return this.read(tok.v as FileReader, tok.line, option);
    if (tok.v.startsWith('ENV_')) {
      const name = tok.v.slice(4);
      const text = this.host.env(name);
      return text === undefined ? { type: 'nil', line: tok.line, origin: `${tok.v}: the environment variable ${name} is not set` } : { type: 'string', value: text, line: tok.line, origin: tok.v };
    }
    if (BUILTIN_NAMES.has(tok.v)) return this.fail(tok.line, `'${tok.v}' cannot be used as a value here${READERS.has(tok.v) ? `: call it, e.g. ${tok.v}("secret.txt")` : ''}`, option);
    return this.fail(tok.line, `'${tok.v}' is not defined: write a string in quotes ("${tok.v}"), or define it above with local ${tok.v} = …`, option);
  }

  /** The one argument of a call: `"s"`, `{…}` or `(expr)`. */
  protected callArgument(word: string, option?: string): Val {
    const tok = this.peek();
    if (tok.t === 'string') {
      this.take();
      return { type: 'string', value: tok.v, line: tok.line };
    }
    if (this.isOp(tok, '{')) return this.table(this.take().line, option);
    this.take();
    if (!this.isOp(tok, '(')) return this.fail(tok.line, `${word} needs an argument, got ${describeToken(tok)}`, option);
    if (this.isOp(this.peek(), ')')) return this.fail(tok.line, `${word} needs an argument`, option);
    const v = this.expression(0, option);
    const close = this.take();
    if (this.isOp(close, ',')) this.fail(close.line, `${word} takes one argument`, option);
    if (!this.isOp(close, ')')) this.fail(close.line, `expected ')' to close the arguments of ${word}, got ${describeToken(close)}`, option);
    return v;
  }

  private read(reader: FileReader, line: number, option?: string): Val {
    const arg = this.callArgument(reader, option);
    if (this.dead) return this.nil(line);
    if (arg.type !== 'string') return this.fail(line, `${reader} needs a file name (a string), got ${a(arg)}`, option);
    let text: string;
    try {
      text = this.host.readFile(arg.value, reader);
    } catch (err) {
      if (err instanceof LuaRuntimeError) return this.fail(line, `${reader}(${JSON.stringify(arg.value)}): ${err.message}`, option);
      throw err;
    }
    if (reader !== 'FileLines') {
      if (reader === 'FileLine') text = text.split('\n')[0] as string;
      return { type: 'string', value: text, line };
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return { type: 'table', line, entries: lines.map((value) => ({ value: { type: 'string', value, line }, line })) };
  }

  private unary(op: string, v: Val, line: number, option?: string): Val {
    if (this.dead) return this.nil(line);
    if (op === 'not') return { type: 'boolean', value: !truthy(v), line };
    if (op === '#') {
      if (v.type === 'string') return { type: 'number', value: utf8Length(v.value), line };
      if (v.type === 'table') return { type: 'number', value: border(v), line };
      return this.fail(line, `attempt to get length of ${a(v)}`, option);
    }
    const n = asNumber(v);
    if (!n) return this.fail(line, `attempt to perform arithmetic on ${a(v)}`, option);
    return numberValue({ value: -n.value, float: n.float }, line);
  }

  private binary(op: string, x: Val, y: Val, line: number, option?: string): Val {
    if (this.dead) return this.nil(line);
    if (ARITH.has(op)) {
      const nx = asNumber(x);
      const ny = asNumber(y);
      if (!nx || !ny) return this.fail(line, `attempt to perform arithmetic on ${a(nx ? y : x)}`, option);
      try {
        return numberValue(arith(op as ArithOp, nx, ny), x.line);
      } catch (err) {
        if (err instanceof LuaRuntimeError) return this.fail(line, err.message, option);
        throw err;
      }
    }
    if (op === '..') {
      const text = (v: Val): string | undefined => (v.type === 'string' ? v.value : v.type === 'number' ? formatNumber({ value: v.value, float: v.float === true }) : undefined);
      const sx = text(x);
      const sy = text(y);
      if (sx === undefined || sy === undefined) return this.fail(line, `attempt to concatenate ${a(sx === undefined ? x : y)}`, option);
      if (sx.length + sy.length > MAX_STRING_LENGTH) this.fail(line, `the string built by '..' is longer than ${MAX_STRING_LENGTH} characters`, option);
      return { type: 'string', value: sx + sy, line: x.line };
    }
    if (op === '==' || op === '~=') return { type: 'boolean', value: equal(x, y) === (op === '=='), line: x.line };
    return { type: 'boolean', value: this.compare(op, x, y, line, option), line: x.line };
  }

  private compare(op: string, x: Val, y: Val, line: number, option?: string): boolean {
    const both = x.type === y.type && (x.type === 'number' || x.type === 'string');
    if (!both) return this.fail(line, x.type === y.type ? `attempt to compare two ${x.type} values` : `attempt to compare ${x.type} with ${y.type}`, option);
    const l = (x as { value: number | string }).value;
    const r = (y as { value: number | string }).value;
    switch (op) {
      case '<': return l < r;
      case '<=': return l <= r;
      case '>': return l > r;
      default: return l >= r;
    }
  }
}
