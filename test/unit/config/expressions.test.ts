// The config language's expressions and locals, as Lua 5.4 evaluates them (Debian's Prosody runs
// on Lua 5.4): checked against fixed answers, and against the lua5.4 interpreter itself where it is
// installed (CI installs Debian's prosody, which brings it).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatNumber } from '../../../src/config/lua/arith.js';
import { parseLua, type LuaStatement } from '../../../src/config/lua/config-chunk.js';
import { MAX_EXPRESSION_DEPTH, MAX_STRING_LENGTH, MAX_TABLE_ENTRIES, type ChunkHost } from '../../../src/config/lua/expression.js';
import type { LuaValue } from '../../../src/config/lua/values.js';

const F = '/etc/prosody/prosody.cfg.lua';

function host(env: Record<string, string> = {}, files: Record<string, string> = {}, reads: string[] = []): ChunkHost {
  return {
    env: (name) => env[name],
    readFile: (path) => {
      reads.push(path);
      const text = files[path];
      if (text === undefined) throw new Error(`unexpected read of ${path}`);
      return text;
    },
  };
}

function assigned(src: string, h: ChunkHost = host()): Record<string, LuaValue> {
  const out: Record<string, LuaValue> = {};
  for (const s of parseLua(src, F, h)) if (s.type === 'assign') out[s.name] = s.value;
  return out;
}

function valueOf(expr: string, h?: ChunkHost): LuaValue {
  const v = assigned(`x = ${expr}`, h).x;
  if (!v) throw new Error('no value');
  return v;
}

/** How Lua's print() shows a scalar. */
function shown(v: LuaValue): string {
  switch (v.type) {
    case 'number': return formatNumber({ value: v.value, float: v.float === true });
    case 'string': return v.value;
    case 'boolean': return String(v.value);
    case 'nil': return 'nil';
    default: return 'table';
  }
}

const CASES: Array<[string, string]> = [
  ['10*1024*1024', '10485760'],
  ['60*5', '300'],
  ['2 + 3 * 4', '14'],
  ['(2 + 3) * 4', '20'],
  ['10 / 2', '5.0'],
  ['7 // 2', '3'],
  ['7.0 // 2', '3.0'],
  ['-7 // 2', '-4'],
  ['-7 % 3', '2'],
  ['7 % -3', '-2'],
  ['-7.5 % 2', '0.5'],
  ['2^10', '1024.0'],
  ['2^3^2', '512.0'],
  ['-2^2', '-4.0'],
  ['- -3', '3'],
  ['1 - -1', '2'],
  ['1e3', '1000.0'],
  ['0x10 + 1', '17'],
  ['1/0', 'inf'],
  ['-1/0', '-inf'],
  ['1e15', '1e+15'],
  ['0.1 + 0.2', '0.3'],
  ['100000000000000.0', '1e+14'],
  ['2^53', '9.007199254741e+15'],
  ['1e-5', '1e-05'],
  ['"10" * 2', '20'],
  ['"3.0" + 1', '4.0'],
  ['" 0x10 " + 0', '16'],
  ['"1e1" + 0', '10.0'],
  ['"a" .. "b" .. "c"', 'abc'],
  ['"port " .. 5222', 'port 5222'],
  ['"half " .. 1/2', 'half 0.5'],
  ['"x" .. 2^2', 'x4.0'],
  ['1 .. ""', '1'],
  ['"a" .. 1 + 2', 'a3'],
  ['#"héllo"', '6'],
  ['#{ 1, 2, 3 }', '3'],
  ['#{ 1, nil, 3, [2] = 2 }', '3'],
  ['not nil', 'true'],
  ['not 0', 'false'],
  ['nil or "default"', 'default'],
  ['false and 1', 'false'],
  ['1 and 2', '2'],
  ['false or nil', 'nil'],
  ['1 == 1.0', 'true'],
  ['"1" == 1', 'false'],
  ['1 ~= 2', 'true'],
  ['"a" < "b"', 'true'],
  ['2 <= 1', 'false'],
  ['1 < 2 == true', 'true'],
  ['"x" == "x" and "same" or "different"', 'same'],
  ['1 + 2 .. ""', '3'],
];

describe('expressions', () => {
  it.each(CASES)('%s is %s', (expr, want) => {
    expect(shown(valueOf(expr))).toBe(want);
  });

  const lua = spawnSync('lua5.4', ['-v'], { encoding: 'utf8' });
  it.skipIf(lua.error !== undefined)('give what lua5.4 prints for the same expressions', () => {
    const script = CASES.map(([e]) => `print(${e})`).join('\n');
    const out = spawnSync('lua5.4', ['-'], { input: script, encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(CASES.map(([e]) => shown(valueOf(e)))).toEqual(out.stdout.trimEnd().split('\n'));
  });

  it('keeps the line of the expression and integers apart from floats', () => {
    expect(valueOf('\n\n3 * 2')).toEqual({ type: 'number', value: 6, line: 3 });
    expect(valueOf('6 / 2')).toEqual({ type: 'number', value: 3, line: 1, float: true });
  });

  it('evaluates expressions inside tables and table keys', () => {
    expect(valueOf('{ size = 10 * 1024, ["a" .. "b"] = 1, 2 + 2 }')).toMatchObject({
      type: 'table',
      entries: [{ key: 'size', value: { value: 10240 } }, { key: 'ab', value: { value: 1 } }, { value: { value: 4 } }],
    });
  });

  it('short-circuits and/or: the side not taken is not evaluated (no file read, no error)', () => {
    const reads: string[] = [];
    const h = host({ SECRET: 's3' }, {}, reads);
    expect(valueOf('ENV_SECRET or FileContents("missing.txt")', h)).toMatchObject({ value: 's3' });
    expect(valueOf('nil and 1 // 0', h)).toMatchObject({ type: 'nil' });
    expect(reads).toEqual([]);
    // …but its names are still checked.
    expect(() => valueOf('1 or undefined_thing', h)).toThrow(/:1: 'undefined_thing' is not defined/);
  });
});

describe('ENV_ globals', () => {
  it('read the environment variable after ENV_, nil when unset (the option is then not set)', () => {
    const v = assigned('data_path = ENV_DATA .. "/clove"\nlog = ENV_NOT_SET\nport = ENV_PORT + 1', host({ DATA: '/srv', PORT: '5000' }));
    expect(v.data_path).toMatchObject({ type: 'string', value: '/srv/clove' });
    expect(v.log).toMatchObject({ type: 'nil' });
    expect(v.port).toMatchObject({ type: 'number', value: 5001 });
  });

  it('name the unset variable when it is used in an expression', () => {
    expect(() => assigned('\ndata_path = ENV_CLOVE_HOME .. "/data"')).toThrow(
      /prosody\.cfg\.lua:2: attempt to concatenate a nil value \(ENV_CLOVE_HOME: the environment variable CLOVE_HOME is not set\) \(option 'data_path'\)/,
    );
  });
});

describe('local variables', () => {
  it('are usable in every later value, and set no option', () => {
    const out = parseLua('local MiB = 1024 * 1024\nlocal domain = "example.org"\nupload = 10 * MiB\nadmins = { "admin@" .. domain }', F);
    expect(out.map((s) => s.type)).toEqual(['local', 'local', 'assign', 'assign']);
    const v = assigned('local MiB = 1024 * 1024\nlocal domain = "example.org"\nupload = 10 * MiB\nadmins = { "admin@" .. domain }');
    expect(v.upload).toMatchObject({ value: 10485760 });
    expect(v.admins).toMatchObject({ entries: [{ value: { value: 'admin@example.org' } }] });
  });

  it('are scoped as in a Lua chunk: from the next statement on; a new local shadows the old', () => {
    const v = assigned('local x = 1\nlocal x = x + 1\na = x\nlocal y, z = 5\nb = y\nc = z');
    expect(v.a).toMatchObject({ value: 2 });
    expect(v.b).toMatchObject({ value: 5 });
    expect(v.c).toMatchObject({ type: 'nil' });
    expect(() => parseLua('local x = x', F)).toThrow(/:1: 'x' is not defined/);
    expect(() => parseLua('a = later\nlocal later = 1', F)).toThrow(/:1: 'later' is not defined/);
  });

  it('are assigned, not turned into options, by `name = value` once declared', () => {
    const out: LuaStatement[] = parseLua('local port = 5000\nport = port + 222\nc2s_ports = { port }', F);
    expect(out.map((s) => s.type)).toEqual(['local', 'local', 'assign']);
    expect(assigned('local port = 5000\nport = port + 222\nc2s_ports = { port }').c2s_ports).toMatchObject({ entries: [{ value: { value: 5222 } }] });
  });

  it('take <const> and evaluate every value before binding', () => {
    const v = assigned('local a <const>, b = 1, 2\nlocal a, b = b, a\nx = a .. b');
    expect(v.x).toMatchObject({ value: '21' });
  });
});

describe('file readers (with the loader, they read relative to the config file)', () => {
  const h = host({}, { 'secret.txt': 'p4ss\nsecond line\n', 'admins.txt': 'a@x\r\nb@x\n\nc@x' });

  it('FileContents gives the whole file, FileLine its first line, FileLines a list of lines', () => {
    const v = assigned('a = FileContents("secret.txt")\nb = FileLine "secret.txt"\nc = FileLines("admins.txt")', h);
    expect(v.a).toMatchObject({ value: 'p4ss\nsecond line\n', line: 1 });
    expect(v.b).toMatchObject({ value: 'p4ss', line: 2 });
    expect(v.c).toMatchObject({ type: 'table', entries: [{ value: { value: 'a@x\r' } }, { value: { value: 'b@x' } }, { value: { value: '' } }, { value: { value: 'c@x' } }] });
  });

  it('a reader call can be part of an expression', () => {
    expect(assigned('x = "[" .. FileLine("secret.txt") .. "]"', h).x).toMatchObject({ value: '[p4ss]' });
  });
});

describe('bounds on what expressions build', () => {
  it('refuses a string that doubles past the cap, naming the line', () => {
    const lines = ['local s0 = "xxxxxxxxxxxxxxxx"'];
    let i = 0;
    while (16 * 2 ** i <= MAX_STRING_LENGTH) lines.push(`local s${i + 1} = s${i} .. s${i++}`);
    expect(() => parseLua(lines.join('\n'), F)).toThrow(new RegExp(`:${lines.length}: the string built by '\\.\\.' is longer than ${MAX_STRING_LENGTH} characters`));
    expect(() => parseLua(lines.slice(0, -1).join('\n'), F)).not.toThrow();
  });

  it('refuses a table that references a local table past the entry cap', () => {
    const lines = ['local t0 = { 1, 2, 3, 4 }'];
    let i = 0;
    let entries = 4;
    while (entries <= MAX_TABLE_ENTRIES) {
      lines.push(`local t${i + 1} = { t${i}, t${i}, t${i}, t${i} }`);
      entries = 4 * entries + 4;
      i++;
    }
    expect(() => parseLua(lines.join('\n'), F)).toThrow(new RegExp(`:${lines.length}: the table holds more than ${MAX_TABLE_ENTRIES} entries`));
  });
});

describe('deeply nested expressions', () => {
  it.each([
    ['parentheses', (n: number) => '('.repeat(n) + '1' + ')'.repeat(n)],
    ['unary minus', (n: number) => '- '.repeat(n) + '1'],
    ["a chain of '..'", (n: number) => Array(n + 1).fill('"a"').join(' .. ')],
    ["a chain of '^'", (n: number) => Array(n + 1).fill('1').join(' ^ ')],
  ])('%s: Lua\'s limit of %s levels, then one line (no stack overflow)', (_name, make) => {
    expect(() => parseLua(`x = ${make(MAX_EXPRESSION_DEPTH - 2)}`, F)).not.toThrow();
    expect(() => parseLua(`x = ${make(100000)}`, F)).toThrow(new RegExp(`:1: the expression is nested more than ${MAX_EXPRESSION_DEPTH} levels deep`));
  });
});
