// The Lua lexer shared by the config file and Prosody's data files: names, strings (quoted with
// every Lua escape, and long brackets), numbers, operators and comments, each token with its
// line. It knows nothing of what a reader accepts; a bad token is reported as a LexFault (a code
// for readers with their own wording, and the config's wording as `message`).

export type Token =
  | { t: 'name'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  /** `float`: the numeral is a float (has a '.' or an exponent), as Lua 5.3+ tells integers and floats apart. */
  | { t: 'number'; v: number; line: number; float: boolean }
  | { t: 'op'; v: string; line: number }
  | { t: 'eof'; line: number };

/** What went wrong while cutting tokens, and where. `detail` is the offending character or escape. */
export interface LexFault {
  code: 'char' | 'long' | 'number' | 'string-eof' | 'string-newline' | 'utf8' | 'escape-x' | 'escape-decimal' | 'escape-u' | 'escape';
  line: number;
  message: string;
  detail: string;
}

export interface LexerOptions {
  /** Receives every fault; must throw. */
  fail(fault: LexFault): never;
  /** The text is bytes read as latin1 (one character a byte), as Lua sees a file: strings are those bytes. */
  latin1?: boolean;
  /** Skip a first line starting with `#` (a `#!` line, as the Lua interpreter allows). */
  shebang?: boolean;
}

export const KEYWORDS = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if',
  'in', 'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while']);
const OPS = ['...', '..', '==', '~=', '<=', '>=', '//', '<<', '>>', '::',
  '=', '{', '}', '[', ']', '(', ')', ',', ';', '-', '+', '*', '/', '%', '^', '#', '&', '~', '|', '<', '>', ':', '.'];
const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };
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
export function describeToken(tok: Token): string {
  switch (tok.t) {
    case 'eof': return 'end of file';
    case 'string': return `string ${JSON.stringify(tok.v.length > 40 ? tok.v.slice(0, 40) + '…' : tok.v)}`;
    case 'number': return `number ${tok.v}`;
    default: return `'${tok.v}'`;
  }
}

export class Lexer {
  private pos = 0;
  line = 1;

  constructor(private readonly src: string, private readonly opts: LexerOptions) {
    if (opts.shebang && src.startsWith('#')) this.skipToLineEnd();
  }

  private fail(code: LexFault['code'], line: number, message: string, detail = ''): never {
    return this.opts.fail({ code, line, message, detail });
  }

  /** The next token (an `eof` token, again and again, at the end). */
  next(): Token {
    this.skipSpaceAndComments();
    const { src, pos, line } = this;
    if (pos >= src.length) return { t: 'eof', line };
    const c = src[pos] as string;
    if (c === '"' || c === "'") return { t: 'string', v: this.readString(c), line };
    if (c === '[' && this.longLevel(pos) >= 0) return { t: 'string', v: this.readLong('string'), line };
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[pos + 1] ?? ''))) return { t: 'number', ...this.readNumber(), line };
    NAME_RE.lastIndex = pos;
    const name = NAME_RE.exec(src);
    if (name) {
      this.pos += name[0].length;
      return { t: 'name', v: name[0], line };
    }
    const op = OPS.find((o) => src.startsWith(o, pos));
    if (op === undefined) {
      const ch = String.fromCodePoint(src.codePointAt(pos) ?? 0);
      this.fail('char', line, `unexpected character ${JSON.stringify(ch)}`, ch);
    }
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
    if (end < 0) this.fail('long', start, `unfinished long ${what}: no closing ${close} before the end of the file`);
    const body = this.src.slice(this.pos, end);
    this.line += (body.match(/\r\n|\n\r|\n|\r/g) ?? []).length;
    this.pos = end + close.length;
    const text = body.replace(/\r\n|\n\r|\r/g, '\n');
    return this.opts.latin1 ? this.decode(Array.from(text, (ch) => ch.charCodeAt(0)), start) : text;
  }

  private readNumber(): { v: number; float: boolean } {
    const { src, pos, line } = this;
    let m: RegExpExecArray | null = null;
    for (const re of [HEX_RE, DEC_RE]) {
      re.lastIndex = pos;
      m = re.exec(src);
      if (m) break;
    }
    NUM_TAIL_RE.lastIndex = pos;
    const whole = (NUM_TAIL_RE.exec(src) as RegExpExecArray)[0];
    if (!m || m[0] !== whole) this.fail('number', line, `malformed number '${whole}'`, whole);
    this.pos += whole.length;
    if (/^0[xX]/.test(whole)) return { v: parseInt(whole.slice(2), 16), float: false };
    return { v: Number(whole), float: /[.eE]/.test(whole) };
  }

  private readString(quote: string): string {
    const src = this.src;
    const start = this.line;
    const bytes: number[] = [];
    this.pos++;
    for (;;) {
      const c = src[this.pos];
      if (c === undefined) this.fail('string-eof', start, 'unfinished string: no closing quote before the end of the file');
      if (c === quote) break;
      if (c === '\n' || c === '\r') this.fail('string-newline', start, 'unfinished string: a quoted string cannot span lines (use [[long strings]])');
      if (c === '\\') {
        this.readEscape(bytes);
        continue;
      }
      if (this.opts.latin1) {
        bytes.push(c.charCodeAt(0));
        this.pos++;
        continue;
      }
      const cp = src.codePointAt(this.pos) as number;
      pushUtf8(bytes, cp);
      this.pos += cp > 0xffff ? 2 : 1;
    }
    this.pos++;
    return this.decode(bytes, start);
  }

  /** Lua strings are bytes; Clove's are text: they must be UTF-8. */
  private decode(bytes: number[], line: number): string {
    try {
      return utf8.decode(Uint8Array.from(bytes));
    } catch {
      return this.fail('utf8', line, 'string is not valid UTF-8 (check its \\ddd or \\x escapes)');
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
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail('escape-x', this.line, `invalid escape '\\x${hex}': \\x needs two hex digits`, `x${hex}`);
      out.push(parseInt(hex, 16));
      this.pos += 3;
    } else if (/[0-9]/.test(c)) {
      const digits = /^[0-9]{1,3}/.exec(src.slice(this.pos, this.pos + 3))![0];
      const n = Number(digits);
      if (n > 255) this.fail('escape-decimal', this.line, `invalid escape '\\${digits}': decimal escapes go up to 255`, digits);
      out.push(n);
      this.pos += digits.length;
    } else if (c === 'u') {
      const m = /^u\{([0-9a-fA-F]{1,8})\}/.exec(src.slice(this.pos, this.pos + 11));
      const cp = m ? parseInt(m[1] as string, 16) : -1;
      if (!m || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('escape-u', this.line, "invalid escape '\\u': write \\u{XXXX} with a valid Unicode code point", 'u');
      pushUtf8(out, cp);
      this.pos += m[0].length;
    } else {
      this.fail('escape', this.line, c === '' ? 'unfinished string' : `invalid escape sequence '\\${c}' in string`, c);
    }
  }
}
