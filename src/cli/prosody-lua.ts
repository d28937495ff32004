// A small, strict reader for the Lua data Prosody's internal storage writes (util/serialization
// through util/datamanager): `.dat` files hold `return <table>;`, `.list` files hold one
// `item(<table>);` per entry. Only literal data is accepted — tables, strings (with Lua's
// escapes), numbers, booleans, nil — never code. Lua strings are bytes; they come back as UTF-8.

/** A Lua table: array part in `list` (1-based positions 1..n), everything else in `hash`. */
export class LuaTable {
  readonly hash = new Map<string | number | boolean, LuaValue>();
  get(key: string | number | boolean): LuaValue | undefined {
    return this.hash.get(key);
  }
  /** Values at 1, 2, 3, … up to the first gap. */
  array(): LuaValue[] {
    const out: LuaValue[] = [];
    for (let i = 1; this.hash.has(i); i++) out.push(this.hash.get(i) as LuaValue);
    return out;
  }
}
export type LuaValue = string | number | boolean | null | LuaTable;

export class LuaSyntaxError extends Error {
  override name = 'LuaSyntaxError';
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39, '\n': 10 };
const MAX_DEPTH = 100;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(private readonly s: string) {} // latin1: one char per byte

  fail(what: string): never {
    const line = this.s.slice(0, this.pos).split('\n').length;
    throw new LuaSyntaxError(`line ${line}: ${what}`);
  }

  skip(): void {
    for (;;) {
      const m = /^[ \t\r\n\f\v]+/.exec(this.s.slice(this.pos, this.pos + 4096));
      if (m) { this.pos += m[0].length; continue; }
      if (this.s.startsWith('--', this.pos)) {
        const nl = this.s.indexOf('\n', this.pos);
        this.pos = nl < 0 ? this.s.length : nl + 1;
        continue;
      }
      return;
    }
  }

  eof(): boolean {
    this.skip();
    return this.pos >= this.s.length;
  }

  peek(): string {
    this.skip();
    return this.s[this.pos] ?? '';
  }

  expect(tok: string): void {
    this.skip();
    if (!this.s.startsWith(tok, this.pos)) this.fail(`expected '${tok}'`);
    this.pos += tok.length;
  }

  accept(tok: string): boolean {
    this.skip();
    if (!this.s.startsWith(tok, this.pos)) return false;
    this.pos += tok.length;
    return true;
  }

  word(): string | undefined {
    this.skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos, this.pos + 256));
    return m?.[0];
  }

  value(depth: number): LuaValue {
    if (depth > MAX_DEPTH) this.fail('tables nested too deeply');
    const c = this.peek();
    if (c === '{') return this.table(depth + 1);
    if (c === '"' || c === "'") return this.string();
    if (c === '(' ) return this.special();
    if (c === '-' || (c >= '0' && c <= '9') || c === '.') return this.number();
    const w = this.word();
    if (w === 'true' || w === 'false' || w === 'nil') {
      this.pos += w.length;
      return w === 'true' ? true : w === 'false' ? false : null;
    }
    return this.fail(c ? `unexpected '${c}'` : 'unexpected end of file');
  }

  /** (1/0), (-1/0), (0/0) as util/serialization writes infinities and NaN. */
  special(): number {
    for (const [tok, v] of [['(1/0)', Infinity], ['(-1/0)', -Infinity], ['(0/0)', NaN]] as const) if (this.accept(tok)) return v;
    return this.fail("unexpected '('");
  }

  number(): number {
    this.skip();
    const m = /^-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(this.s.slice(this.pos, this.pos + 64));
    if (!m) this.fail('bad number');
    this.pos += m[0].length;
    const n = Number(m[0].replace(/^(-?)0[xX]/, (_s, sign: string) => `${sign}0x`));
    if (Number.isNaN(n)) this.fail('bad number');
    return n;
  }

  string(): string {
    this.skip();
    const q = this.s[this.pos++] as string;
    const bytes: number[] = [];
    for (;;) {
      if (this.pos >= this.s.length) this.fail('unfinished string');
      const c = this.s[this.pos++] as string;
      if (c === q) break;
      if (c === '\n') this.fail('unfinished string');
      if (c !== '\\') { bytes.push(c.charCodeAt(0)); continue; }
      const e = this.s[this.pos++] ?? '';
      if (e in SIMPLE_ESCAPES) bytes.push(SIMPLE_ESCAPES[e] as number);
      else if (/[0-9]/.test(e)) {
        const m = /^[0-9]{1,3}/.exec(this.s.slice(this.pos - 1, this.pos + 2))![0];
        const v = Number(m);
        if (v > 255) this.fail('decimal escape too large');
        bytes.push(v);
        this.pos += m.length - 1;
      } else if (e === 'x') {
        const h = this.s.slice(this.pos, this.pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) this.fail('bad \\x escape');
        bytes.push(parseInt(h, 16));
        this.pos += 2;
      } else if (e === 'z') {
        while (/[ \t\r\n\f\v]/.test(this.s[this.pos] ?? '')) this.pos++;
      } else if (e === 'u') {
        const m = /^\{([0-9a-fA-F]{1,8})\}/.exec(this.s.slice(this.pos, this.pos + 10));
        if (!m) this.fail('bad \\u escape');
        this.pos += m[0].length;
        for (const b of Buffer.from(String.fromCodePoint(parseInt(m[1] as string, 16)), 'utf8')) bytes.push(b);
      } else this.fail(`bad escape '\\${e}'`);
    }
    try {
      return UTF8.decode(Buffer.from(bytes));
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  table(depth: number): LuaTable {
    this.expect('{');
    const t = new LuaTable();
    let n = 1;
    for (;;) {
      if (this.accept('}')) return t;
      let key: string | number | boolean | undefined;
      if (this.peek() === '[') {
        this.pos++;
        const k = this.value(depth);
        if (k === null || k instanceof LuaTable || (typeof k === 'number' && Number.isNaN(k))) this.fail('bad table key');
        key = k;
        this.expect(']');
        this.expect('=');
      } else {
        const w = this.word();
        if (w && w !== 'true' && w !== 'false' && w !== 'nil') {
          const save = this.pos;
          this.pos += w.length;
          if (this.accept('=')) key = w;
          else this.pos = save;
        }
      }
      const v = this.value(depth);
      if (key === undefined) key = n++;
      if (v !== null) t.hash.set(key, v);
      if (!this.accept(';') && !this.accept(',')) {
        this.expect('}');
        return t;
      }
    }
  }
}

function reader(data: Buffer | string): Reader {
  return new Reader(typeof data === 'string' ? Buffer.from(data, 'utf8').toString('latin1') : data.toString('latin1'));
}

/** A `.dat` file: `return <value>;` */
export function parseDat(data: Buffer | string): LuaValue {
  const r = reader(data);
  if (r.word() !== 'return') r.fail("expected 'return'");
  r.pos += 'return'.length;
  const v = r.value(0);
  r.accept(';');
  if (!r.eof()) r.fail('unexpected data after the value');
  return v;
}

/** A `.list` file: `item(<value>);` repeated. */
export function parseList(data: Buffer | string): LuaValue[] {
  const r = reader(data);
  const out: LuaValue[] = [];
  while (!r.eof()) {
    if (r.word() !== 'item') r.fail("expected 'item('");
    r.pos += 'item'.length;
    r.expect('(');
    out.push(r.value(0));
    r.expect(')');
    r.accept(';');
  }
  return out;
}
