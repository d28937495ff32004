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
    ['Include', 'a = 1\nInclude "other.cfg.lua"', /:2: 'Include' is not supported/],
    ['Include call form', 'Include("x")', /:1: 'Include' is not supported/],
    ['local', 'local x = 1', /:1: local variables are not supported/],
    ['if', 'if x then end', /:1: 'if' is not supported: the config file is declarative/],
    ['function', 'function f() end', /:1: 'function' is not supported/],
    ['function value', 'x = function() end', /:1: functions are not supported in the config file \(option 'x'\)/],
    ['concat', 'a = "x"\nb = "y" .. "z"', /:2: string concatenation \('\.\.'\) is not supported: write the whole string \(option 'b'\)/],
    ['arithmetic', 'port = 5000 + 222', /:1: expressions are not supported \('\+'\).*\(option 'port'\)/],
    ['and/or', 'x = true or false', /:1: expressions are not supported \('or'\)/],
    ['expression in table', 'x = { 1 * 2 }', /:1: expressions are not supported \('\*'\)/],
    ['variable', 'x = y', /:1: variables are not supported \(y\); did you mean the string "y"\? \(option 'x'\)/],
    ['parentheses', 'x = (1)', /:1: expressions in parentheses are not supported/],
    ['unary minus on string', 'x = -"a"', /:1: expressions are not supported: '-' must be followed by a number/],
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
    ['two names on VirtualHost', 'VirtualHost "a" "b"', /:1: unexpected string "b"/],
    ['deep nesting', 'x = ' + '{'.repeat(100), /:1: tables are nested more than 64 levels deep/],
  ];
  it.each(cases)('%s', (_name, src, pattern) => {
    const err = error(src);
    expect(err.message).toMatch(new RegExp('^' + F.replace(/\./g, '\\.') + pattern.source.replace(/^:/, ':')));
    expect(err.file).toBe(F);
    expect(err.line).toBe(Number(/^:(\d+)/.exec(pattern.source)?.[1]));
  });
});
