// The config language: the declarative subset of Lua that Prosody config files use.
// Accepted: `name = value` statements (`;` optional), VirtualHost/Host/Component section lines,
// literals (strings with Lua escapes, long strings, numbers, booleans, nil) and table
// constructors. Everything that would need a Lua interpreter (calls, expressions, locals,
// Include) is rejected with a ConfigError naming file:line, so a config never half-loads.

import { ConfigError } from '../errors.js';
import { describeToken, KEYWORDS, type Token } from './lexer.js';
import { LiteralParser, type LiteralWording, type LuaTable, type LuaValue } from './values.js';

export type LuaStatement =
  | { type: 'assign'; name: string; value: LuaValue; line: number }
  | { type: 'section'; kind: 'VirtualHost' | 'Component'; name: string; component?: string; options?: LuaTable; line: number };

const EXPRESSION_OPS = new Set(['==', '~=', '<=', '>=', '//', '<<', '>>', '-', '+', '*', '/', '%', '^', '&', '~', '|', '<', '>']);
const SECTIONS: Record<string, 'VirtualHost' | 'Component'> = { VirtualHost: 'VirtualHost', Host: 'VirtualHost', Component: 'Component' };
const MAX_DEPTH = 64;

/** The config file's wording: what is wrong and how to write it instead. */
const WORDING: LiteralWording = {
  tooDeep: (max) => `tables are nested more than ${max} levels deep`,
  unclosedTable: (open) => `expected '}' to close the table opened at line ${open}, got end of file`,
  badKey: () => 'table keys in [ ] must be strings or numbers',
  unclosedKey: (keyLine, tok) => `expected ']' to close the key opened at line ${keyLine}, got ${describeToken(tok)}`,
  noEquals: (tok) => `expected '=' after the table key, got ${describeToken(tok)}`,
  duplicateKey: (key, first) => `duplicate key '${String(key)}' in table (first set at line ${first})`,
  badSeparator: (open, tok) => `expected ',' or ';' or '}' after a table field (table opened at line ${open}), got ${describeToken(tok)}`,
  notAValue: (tok) => {
    if (tok.t === 'name' && tok.v === 'function') return 'functions are not supported in the config file';
    if (tok.t === 'name' && !KEYWORDS.has(tok.v)) return `variables are not supported (${tok.v}); did you mean the string "${tok.v}"?`;
    if (tok.t === 'op' && tok.v === '(') return 'expressions in parentheses are not supported: write a plain value';
    return `expected a value, got ${describeToken(tok)}`;
  },
  minusWithoutNumber: (tok) => `expressions are not supported: '-' must be followed by a number, got ${describeToken(tok)}`,
  lexFault: (f) => f.message,
};

class ConfigChunkParser extends LiteralParser {
  constructor(text: string, private readonly file: string) {
    super(text, { shebang: true }, { maxDepth: MAX_DEPTH, booleanKeys: false, duplicateKeys: false, serializedSpecials: false }, WORDING);
  }

  protected fail(line: number, what: string, option?: string): never {
    throw new ConfigError(this.file, line, what, option);
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
        this.afterValue(tok.v);
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
        this.fail(next.line, `expected '=' after option name '${tok.v}', got ${describeToken(next)}`);
      }
    }
    return out;
  }

  private rejectStatement(tok: Token): never {
    if (tok.t === 'name' && tok.v === 'local') this.fail(tok.line, "local variables are not supported: write 'name = value' options");
    if (tok.t === 'name' && ['function', 'if', 'for', 'while', 'repeat', 'return', 'do', 'goto', 'break'].includes(tok.v)) {
      this.fail(tok.line, `'${tok.v}' is not supported: the config file is declarative ('name = value' options and VirtualHost/Component lines)`);
    }
    return this.fail(tok.line, `unexpected ${describeToken(tok)}: expected an option name`);
  }

  /** After a complete value: reject operators so `a .. b` or `1 + 2` fail here, not later. */
  protected override afterValue(option?: string): void {
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
    return this.fail(tok.line, `${word} needs a quoted name (${hint}), got ${describeToken(tok)}`);
  }
}

/** Parse config text into statements; throws ConfigError with file:line on anything outside the subset. */
export function parseLua(text: string, file: string): LuaStatement[] {
  return new ConfigChunkParser(text, file).parse();
}
