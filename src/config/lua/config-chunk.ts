// The config language: the declarative subset of Lua that Prosody config files use.
// Statements: `name = value` options (`;` optional), `local` variables, VirtualHost/Host/Component
// section lines and `Include "file"`; values are expressions (./expression.ts). Everything that
// would need a Lua interpreter (other calls, loops, `if`, functions, `require`) is rejected with
// a ConfigError naming file:line, so a config never half-loads. Includes are only recorded here;
// ../include.ts reads them.

import { ConfigError } from '../errors.js';
import { LuaRuntimeError } from './arith.js';
import { BUILTIN_NAMES, ExpressionParser, type ChunkHost } from './expression.js';
import { describeToken, KEYWORDS, type Token } from './lexer.js';
import type { LiteralWording, LuaTable, LuaValue } from './values.js';

export type LuaStatement =
  | { type: 'assign'; name: string; value: LuaValue; line: number }
  | { type: 'section'; kind: 'VirtualHost' | 'Component'; name: string; component?: string; options?: LuaTable; line: number }
  | { type: 'include'; path: string; line: number }
  /** `local a, b = …` or an assignment to a local already declared: no option is set. */
  | { type: 'local'; names: string[]; line: number };

const SECTIONS: Record<string, 'VirtualHost' | 'Component'> = { VirtualHost: 'VirtualHost', Host: 'VirtualHost', host: 'VirtualHost', Component: 'Component', component: 'Component' };
const INCLUDE = new Set(['Include', 'include']);
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
    if (tok.t === 'op' && tok.v === '...') return "'...' is not supported in the config file";
    return `expected a value, got ${describeToken(tok)}`;
  },
  minusWithoutNumber: (tok) => `expected a number after '-', got ${describeToken(tok)}`,
  lexFault: (f) => f.message,
};

/** For a chunk read on its own (parseLua without a host): the environment, and no files. */
const NO_FILES: ChunkHost = {
  env: (name) => process.env[name],
  readFile: () => { throw new LuaRuntimeError('reading files needs the config loader (loadConfig)'); },
};

class ConfigChunkParser extends ExpressionParser {
  constructor(text: string, private readonly file: string, host: ChunkHost) {
    super(text, { shebang: true }, { maxDepth: MAX_DEPTH, booleanKeys: false, duplicateKeys: false, serializedSpecials: false }, WORDING, host);
  }

  protected fail(line: number, what: string, option?: string): never {
    throw new ConfigError(this.file, line, what, option);
  }

  parse(): LuaStatement[] {
    const out: LuaStatement[] = [];
    for (let tok = this.take(); tok.t !== 'eof'; tok = this.take()) {
      if (this.isOp(tok, ';')) continue;
      if (tok.t === 'name' && tok.v === 'local') {
        out.push(this.local(tok.line));
        continue;
      }
      if (tok.t !== 'name' || KEYWORDS.has(tok.v)) this.rejectStatement(tok);
      const next = this.peek();
      if (this.isOp(next, '=')) {
        this.take();
        const value = this.value(tok.v);
        if (this.locals.has(tok.v)) {
          this.locals.set(tok.v, value); // assigning a local, as Lua does: no option is set
          out.push({ type: 'local', names: [tok.v], line: tok.line });
        } else {
          out.push({ type: 'assign', name: tok.v, value, line: tok.line });
        }
      } else if (SECTIONS[tok.v] !== undefined) {
        out.push(this.section(tok.v, tok.line));
      } else if (INCLUDE.has(tok.v)) {
        out.push({ type: 'include', path: this.nameArgument(tok.v, tok.line, 'e.g. Include "conf.d/*.cfg.lua"'), line: tok.line });
      } else if (tok.v === 'RunScript') {
        this.fail(tok.line, "'RunScript' is not supported: Clove runs no Lua scripts; set the options in the config file");
      } else if (tok.v === 'require' || tok.v === 'dofile' || tok.v === 'loadfile') {
        this.fail(tok.line, `'${tok.v}' is not supported: the config file runs no code (see docs/prosody-config.md)`);
      } else if (this.callStarts(next)) {
        this.fail(tok.line, `function calls are not supported ('${tok.v}'): only 'name = value' options, local variables, VirtualHost/Component lines and Include`);
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
    if (tok.t === 'name' && ['function', 'if', 'for', 'while', 'repeat', 'return', 'do', 'goto', 'break'].includes(tok.v)) {
      this.fail(tok.line, `'${tok.v}' is not supported: the config file is declarative ('name = value' options, local variables, VirtualHost/Component lines and Include)`);
    }
    return this.fail(tok.line, `unexpected ${describeToken(tok)}: expected an option name`);
  }

  /** `local a [<const>], b = e1, e2`: every value is read before any name is bound, as in Lua. */
  private local(line: number): LuaStatement {
    const names: string[] = [];
    do {
      const tok = this.take();
      if (tok.t === 'name' && tok.v === 'function') this.fail(line, 'local functions are not supported in the config file');
      if (tok.t !== 'name' || KEYWORDS.has(tok.v)) this.fail(tok.line, `expected a variable name after 'local', got ${describeToken(tok)}`);
      if (BUILTIN_NAMES.has(tok.v)) this.fail(tok.line, `'${tok.v}' is a built-in of the config language; choose another name for the local`);
      names.push(tok.v);
      if (this.isOp(this.peek(), '<')) this.attribute(tok.v);
    } while (this.isOp(this.peek(), ',') && this.take());
    const values: LuaValue[] = [];
    if (this.isOp(this.peek(), '=')) {
      this.take();
      do values.push(this.value(names[values.length])); while (this.isOp(this.peek(), ',') && this.take());
    }
    names.forEach((n, i) => this.locals.set(n, values[i] ?? { type: 'nil', line }));
    return { type: 'local', names, line };
  }

  /** Lua 5.4's `<const>` (accepted: nothing here reassigns it silently) and `<close>` (refused). */
  private attribute(name: string): void {
    this.take();
    const attr = this.take();
    const close = this.take();
    if (attr.t !== 'name' || attr.v !== 'const' || !this.isOp(close, '>')) this.fail(attr.line, `only the <const> attribute is supported on local '${name}'`);
  }

  private section(word: string, line: number): LuaStatement {
    const kind = SECTIONS[word] as 'VirtualHost' | 'Component';
    const name = this.nameArgument(word, line, kind === 'Component' ? 'e.g. Component "conference.example.com" "muc"' : `e.g. ${word} "example.com"`);
    const stmt: LuaStatement = { type: 'section', kind, name, line };
    if (name.trim() === '' || /\s/.test(name)) this.fail(line, `${word} name ${JSON.stringify(name)} is not a valid host name`);
    if (!this.callStarts(this.peek())) return stmt;
    let arg = this.callArgument(word);
    if (arg.type === 'string') {
      if (kind === 'VirtualHost') this.fail(arg.line, `VirtualHost entries do not accept a module name (module '${arg.value}' given for host '${name}')`);
      stmt.component = arg.value;
      if (!this.callStarts(this.peek())) return stmt;
      arg = this.callArgument(word);
    }
    if (arg.type !== 'table') return this.fail(arg.line, `expected an options table { … } after ${word} "${name}", got ${arg.type}`);
    stmt.options = arg;
    return stmt;
  }

  /** The string argument of a section or Include line: `"x"` or `(expression)`. */
  private nameArgument(word: string, line: number, hint: string): string {
    const next = this.peek();
    if (!(next.t === 'string' || this.isOp(next, '('))) return this.fail(next.line, `${word} needs a quoted name (${hint}), got ${describeToken(next)}`);
    const arg = this.callArgument(word);
    return arg.type === 'string' ? arg.value : this.fail(line, `${word} needs a quoted name (${hint}), got ${arg.type === 'nil' ? 'nil' : `a ${arg.type}`}`);
  }
}

/** Parse config text into statements; throws ConfigError with file:line on anything outside the subset. */
export function parseLua(text: string, file: string, host: ChunkHost = NO_FILES): LuaStatement[] {
  return new ConfigChunkParser(text, file, host).parse();
}
