import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseLua, type LuaStatement } from '../../../src/config/lua/config-chunk.js';
import type { LuaValue } from '../../../src/config/lua/values.js';

const F = '/etc/clove/clove.cfg.lua';

function value(src: string): LuaValue {
  const [stmt] = parseLua(`x = ${src}`, F);
  if (stmt?.type !== 'assign') throw new Error('not an assignment');
  return stmt.value;
}

function str(src: string): string {
  const v = value(src);
  if (v.type !== 'string') throw new Error(`not a string: ${v.type}`);
  return v.value;
}

function num(src: string): number {
  const v = value(src);
  if (v.type !== 'number') throw new Error(`not a number: ${v.type}`);
  return v.value;
}

/** The error parseLua throws for `src`, checked to be a one-line ConfigError. */
function error(src: string): ConfigError {
  try {
    parseLua(src, F);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toMatch(/\n/);
    return err as ConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(src)}`);
}

describe('statements', () => {
  it('reads assignments with and without semicolons, keeping line numbers', () => {
    const out = parseLua('a = 1;\nb = 2\n\nc = 3 d = 4;;', F);
    expect(out.map((s) => [s.type === 'assign' && s.name, s.line])).toEqual([['a', 1], ['b', 2], ['c', 4], ['d', 4]]);
  });

  it('reads VirtualHost, Host and Component sections in every call form', () => {
    const src = [
      'VirtualHost "a.example"', "VirtualHost('b.example');", 'Host "c.example"',
      'Component "muc.example" "muc"', 'Component("ext.example")', 'Component ("d.example") ("muc")', 'Component "e.example" ("x")',
    ].join('\n');
    const out = parseLua(src, F) as Array<Extract<LuaStatement, { type: 'section' }>>;
    expect(out.map((s) => [s.kind, s.name, s.component, s.line])).toEqual([
      ['VirtualHost', 'a.example', undefined, 1], ['VirtualHost', 'b.example', undefined, 2], ['VirtualHost', 'c.example', undefined, 3],
      ['Component', 'muc.example', 'muc', 4], ['Component', 'ext.example', undefined, 5], ['Component', 'd.example', 'muc', 6],
      ['Component', 'e.example', 'x', 7],
    ]);
  });

  it("reads Prosody's lowercase aliases, a Component options table, and names from expressions", () => {
    const out = parseLua('local d = "example.org"\nhost(d)\ncomponent ("rooms." .. d) "muc" { name = "Rooms" }', F);
    expect(out.slice(1, 3)).toMatchObject([
      { type: 'section', kind: 'VirtualHost', name: 'example.org', line: 2 },
      { type: 'section', kind: 'Component', name: 'rooms.example.org', component: 'muc', options: { entries: [{ key: 'name', value: { value: 'Rooms' } }] }, line: 3 },
    ]);
    // A call takes one string literal without parentheses, as in Lua, where this is a syntax error too.
    expect(() => parseLua('Component "gw." .. "x"', F)).toThrow(/:1: unexpected '\.\.': expected an option name/);
  });

  it('reads a VirtualHost with an options table', () => {
    const [s] = parseLua('VirtualHost "a" { enabled = false }', F);
    expect(s).toMatchObject({ type: 'section', name: 'a', options: { entries: [{ key: 'enabled', value: { type: 'boolean', value: false } }] } });
  });

  it('skips a #! first line and a BOM-free file with only comments', () => {
    expect(parseLua('#!/usr/bin/env clove\nx = 1', F)).toMatchObject([{ name: 'x', line: 2 }]);
    expect(parseLua('-- nothing\n--[[ at\nall ]]', F)).toEqual([]);
  });
});

describe('values', () => {
  it('reads strings with Lua escapes', () => {
    expect(str('"a\\tb\\n\\\\\\"\'"')).toBe('a\tb\n\\"\'');
    expect(str("'it\\'s'")).toBe("it's");
    expect(str('"\\65\\066\\x43"')).toBe('ABC');
    expect(str('"\\195\\169"')).toBe('é');
    expect(str('"\\u{1F600}"')).toBe('😀');
    expect(str('"a\\z   \n   b"')).toBe('ab');
    expect(str('"line\\\nnext"')).toBe('line\nnext');
    expect(str('"\\a\\b\\f\\r\\v"')).toBe('\x07\b\f\r\v');
    expect(str('"naïve ✓"')).toBe('naïve ✓');
  });

  it('reads long strings of every level, dropping a first newline', () => {
    expect(str('[[one\ntwo]]')).toBe('one\ntwo');
    expect(str('[[\nfirst]]')).toBe('first');
    expect(str('[==[a ]] b]=] c]==]')).toBe('a ]] b]=] c');
    expect(str('[[no \\n escapes]]')).toBe('no \\n escapes');
  });

  it('reads numbers: integers, floats, exponents, hex, negatives', () => {
    expect(num('5222')).toBe(5222);
    expect(num('1.5')).toBe(1.5);
    expect(num('.25')).toBe(0.25);
    expect(num('3.')).toBe(3);
    expect(num('1e3')).toBe(1000);
    expect(num('2.5E-1')).toBe(0.25);
    expect(num('1e+2')).toBe(100);
    expect(num('0x1F')).toBe(31);
    expect(num('0XfF')).toBe(255);
    expect(num('-4')).toBe(-4);
    expect(num('- 0.5')).toBe(-0.5);
  });

  it('reads booleans and nil', () => {
    expect(value('true')).toMatchObject({ type: 'boolean', value: true });
    expect(value('false')).toMatchObject({ type: 'boolean', value: false });
    expect(value('nil')).toMatchObject({ type: 'nil' });
  });

  it('reads lists, keyed tables, bracket keys and nested tables with per-entry lines', () => {
    const v = value('{\n "a";\n "b",\n k = 1,\n ["x.y"] = { 2 },\n [3] = true;\n}');
    expect(v).toMatchObject({
      type: 'table', line: 1,
      entries: [
        { value: { type: 'string', value: 'a', line: 2 }, line: 2 },
        { value: { type: 'string', value: 'b', line: 3 }, line: 3 },
        { key: 'k', value: { type: 'number', value: 1 }, line: 4 },
        { key: 'x.y', value: { type: 'table', entries: [{ value: { value: 2 } }] }, line: 5 },
        { key: 3, value: { type: 'boolean', value: true }, line: 6 },
      ],
    });
    expect(value('{}')).toEqual({ type: 'table', entries: [], line: 1 });
    expect(value('{ "only" }')).toMatchObject({ entries: [{ value: { value: 'only' } }] });
  });

  it('skips line and block comments of every level, counting lines', () => {
    const out = parseLua('-- line\na = 1 -- trailing\n--[[ block\n]] b = 2\n--[==[ x ]] still\n]==]\nc = --[[inline]] 3\n--[= not long\nd = 4', F);
    expect(out.map((s) => [s.type === 'assign' && s.name, s.line])).toEqual([['a', 2], ['b', 4], ['c', 7], ['d', 9]]);
  });

  it('counts CRLF, CR and LF line ends alike', () => {
    expect(parseLua('a = 1\r\nb = 2\rc = 3\nd = [[x\r\ny]]\ne = 5', F).map((s) => s.line)).toEqual([1, 2, 3, 4, 6]);
    expect(str('[[x\r\ny]]')).toBe('x\ny');
  });
});

describe('errors name file and line', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['function call', 'a = 1\nprint("hi")', /:2: function calls are not supported \('print'\)/],
    ['call with table', 'a = 1\n\nsetup { x = 1 }', /:3: function calls are not supported/],
    ['function', 'function f() end', /:1: 'function' is not supported/],
    ['function value', 'x = function() end', /:1: functions are not supported in the config file \(option 'x'\)/],
    ['undefined name', 'x = y', /:1: 'y' is not defined: write a string in quotes \("y"\), or define it above with local y = … \(option 'x'\)/],
    ['unary minus on string', 'x = -"a"', /:1: attempt to perform arithmetic on a string value \(option 'x'\)/],
    ['call in a value', 'a = 1\nx = tostring(5)', /:2: function calls are not supported \('tostring'\): only FileContents, FileLine, FileLines and Credential/],
    ['call on a local', 'local f = "x"\nx = f "y"', /:2: function calls are not supported \('f'\)/],
    ['indexing', 'x = os.getenv("HOME")', /:1: indexing \('os\.…'\) is not supported/],
    ['method call', 'local s = "a"\nx = s:upper()', /:2: indexing \('s:…'\) is not supported/],
    ['Lua global table', 'x = Lua.os', /:1: indexing \('Lua\.…'\) is not supported/],
    ['Lua as a value', 'x = Lua', /:1: 'Lua' cannot be used as a value here/],
    ['bitwise', 'x = 1 | 2', /:1: bitwise operators \('\|'\) are not supported/],
    ['unary bitwise', 'x = ~1', /:1: bitwise operators \('~'\) are not supported/],
    ['for loop', 'a = 1\nfor i = 1, 3 do end', /:2: 'for' is not supported: the config file is declarative/],
    ['while loop', 'while true do end', /:1: 'while' is not supported/],
    ['repeat loop', 'repeat until true', /:1: 'repeat' is not supported/],
    ['if', 'if x then end', /:1: 'if' is not supported: the config file is declarative/],
    ['require', 'a = 1\n\nrequire "socket"', /:3: 'require' is not supported: the config file runs no code/],
    ['require as a value', 'x = require("socket")', /:1: function calls are not supported \('require'\)/],
    ['dofile', 'dofile("/etc/x.lua")', /:1: 'dofile' is not supported/],
    ['RunScript', 'RunScript "setup.lua"', /:1: 'RunScript' is not supported: Clove runs no Lua scripts/],
    ['local function', 'local function f() end', /:1: local functions are not supported/],
    ['local <close>', 'local x <close> = nil', /:1: only the <const> attribute is supported on local 'x'/],
    ['local shadowing a built-in', 'local Include = 1', /:1: 'Include' is a built-in of the config language/],
    ['local without a name', 'local = 1', /:1: expected a variable name after 'local', got '='/],
    ['integer division by zero', 'x = 1 // 0', /:1: attempt to perform 'n\/\/0' \(option 'x'\)/],
    ['integer modulo by zero', 'x = 7 % 0', /:1: attempt to perform 'n%%0'/],
    ['concatenating nil', 'x = "a" .. nil', /:1: attempt to concatenate a nil value/],
    ['concatenating a table', 'local t = {}\nx = "a" .. t', /:2: attempt to concatenate a table value/],
    ['concatenating a boolean local', 'local b = true\nx = b .. "a"', /:2: attempt to concatenate a boolean value \(local 'b'\)/],
    ['arithmetic on a word', 'x = "ten" * 2', /:1: attempt to perform arithmetic on a string value/],
    ['comparing number and string', 'x = 1 < "2"', /:1: attempt to compare number with string/],
    ['length of a number', 'x = #5', /:1: attempt to get length of a number value/],
    ['unclosed parenthesis', 'x = (1 + 2\ny = 3', /:2: expected '\)' to close the '\(' at line 1, got 'y'/],
    ['FileContents without a loader', 'x = FileContents("secret")', /:1: FileContents\("secret"\): reading files needs the config loader/],
    ['FileContents of a number', 'x = FileContents(5)', /:1: FileContents needs a file name \(a string\), got a number value/],
    ['FileContents with two arguments', 'x = FileContents("a", "*l")', /:1: FileContents takes one argument/],
    ['FileContents not called', 'x = FileContents', /:1: 'FileContents' cannot be used as a value here: call it/],
    ['VirtualHost name nil', 'VirtualHost(nil)', /:1: VirtualHost needs a quoted name .*got nil/],
    ['VirtualHost with options string', 'VirtualHost "a" "b"', /:1: VirtualHost entries do not accept a module name \(module 'b' given for host 'a'\)/],
    ['Include without a path', 'Include {}', /:1: Include needs a quoted name .*got '\{'/],
    ['vararg', 'x = ...', /:1: '\.\.\.' is not supported/],
    ['field assignment', 'a.b = 1', /:1: only plain 'name = value' options are supported/],
    ['index assignment', 'a[1] = 1', /:1: only plain 'name = value' options are supported/],
    ['multiple assignment', 'a, b = 1, 2', /:1: multiple assignment/],
    ['missing =', 'a 1', /:1: expected '=' after option name 'a', got number 1/],
    ['missing value', 'a =', /:1: expected a value, got end of file \(option 'a'\)/],
    ['starts with string', '"a" = 1', /:1: unexpected string "a": expected an option name/],
    ['starts with =', '= 1', /:1: unexpected '=': expected an option name/],
    ['stray keyword', 'x = end', /:1: expected a value, got 'end'/],
    ['unfinished string', 'a = 1\nb = "abc', /:2: unfinished string: no closing quote/],
    ['string across lines', 'b = "abc\n"', /:1: unfinished string: a quoted string cannot span lines/],
    ['unfinished long string', 'a = 1\nb = [==[abc\n]]\n', /:2: unfinished long string: no closing \]==\]/],
    ['unfinished long comment', 'a = 1\n--[[ abc\n', /:2: unfinished long comment/],
    ['bad escape', 'x = "\\q"', /:1: invalid escape sequence '\\q' in string/],
    ['bad hex escape', 'x = "\\xZZ"', /:1: invalid escape '\\xZZ'/],
    ['large decimal escape', 'x = "\\256"', /:1: invalid escape '\\256': decimal escapes go up to 255/],
    ['bad unicode escape', 'x = "\\u{110000}"', /:1: invalid escape '\\u'/],
    ['invalid UTF-8', 'x = "\\255"', /:1: string is not valid UTF-8/],
    ['malformed number', 'x = 12abc', /:1: malformed number '12abc'/],
    ['malformed hex', 'x = 0x', /:1: malformed number '0x'/],
    ['two dots', 'x = 1.2.3', /:1: malformed number '1\.2\.3'/],
    ['bad character', 'x = 1\ny = @', /:2: unexpected character "@"/],
    ['unclosed table', 'x = {\n "a";\n', /:3: expected '}' to close the table opened at line 1, got end of file \(option 'x'\)/],
    ['missing separator', 'x = {\n "a"\n "b" }', /:3: expected ',' or ';' or '}' after a table field \(table opened at line 1\), got string "b"/],
    ['duplicate key', 'x = {\n a = 1;\n a = 2 }', /:3: duplicate key 'a' in table \(first set at line 2\)/],
    ['bad bracket key', 'x = { [true] = 1 }', /:1: table keys in \[ \] must be strings or numbers/],
    ['unclosed bracket key', 'x = { ["a" = 1 }', /:1: expected '\]' to close the key opened at line 1, got '='/],
    ['VirtualHost without name', 'VirtualHost\nx = 1', /:2: VirtualHost needs a quoted name \(e\.g\. VirtualHost "example\.com"\), got 'x'/],
    ['VirtualHost with number', 'VirtualHost(5)', /:1: VirtualHost needs a quoted name/],
    ['empty host name', 'VirtualHost ""', /:1: VirtualHost name "" is not a valid host name/],
    ['deep nesting', 'x = ' + '{'.repeat(100), /:1: tables are nested more than 64 levels deep/],
  ];
  it.each(cases)('%s', (_name, src, pattern) => {
    const err = error(src);
    expect(err.message).toMatch(new RegExp('^' + F.replace(/\./g, '\\.') + pattern.source.replace(/^:/, ':')));
    expect(err.file).toBe(F);
    expect(err.line).toBe(Number(/^:(\d+)/.exec(pattern.source)?.[1]));
  });
});
