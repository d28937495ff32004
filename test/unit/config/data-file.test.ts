// Prosody's data files read through the shared Lua reader (src/config/lua/data-file.ts): the
// import's wording ("line N: …") and its strictness (literal data only, never code).
import { describe, expect, it } from 'vitest';
import { DataTable, LuaSyntaxError, parseDat, parseList, type DataValue } from '../../../src/config/lua/data-file.js';

const table = (v: DataValue): DataTable => {
  expect(v).toBeInstanceOf(DataTable);
  return v as DataTable;
};

describe('parseDat', () => {
  it('keeps Lua table semantics: positions from 1, nil entries dropped, a later key wins, boolean keys', () => {
    const t = table(parseDat('return { "a", nil, "c"; ["k"] = 1, ["k"] = 2; [true] = "yes" };'));
    expect(t.array()).toEqual(['a']);
    expect(t.get(3)).toBe('c');
    expect(t.get('k')).toBe(2);
    expect(t.get(true)).toBe('yes');
    expect(table(parseDat('return { [1] = "x", "y" };')).array()).toEqual(['y']);
  });

  it("reads util/serialization's infinities and NaN, and byte strings as UTF-8", () => {
    const t = table(parseDat(Buffer.from('return { ["p"] = (1/0); ["m"] = (-1/0); ["n"] = (0/0); ["s"] = "caf\xc3\xa9\\195\\169" };', 'latin1')));
    expect(t.get('p')).toBe(Infinity);
    expect(t.get('m')).toBe(-Infinity);
    expect(t.get('n')).toBeNaN();
    expect(t.get('s')).toBe('caféé');
  });

  it('refuses code and malformed data with the line and what is wrong', () => {
    const cases: [string, string][] = [
      ['return os.execute("x");', "line 1: unexpected 'o'"],
      ['return {\n  ["a"] = f()\n};', "line 2: unexpected 'f'"],
      ['return {', 'line 1: unexpected end of file'],
      ['return { [1] = 1 } junk', 'line 1: unexpected data after the value'],
      ['return "\\300";', 'line 1: decimal escape too large'],
      ['return "\\255";', 'line 1: string is not valid UTF-8'],
      ['return "\\q";', "line 1: bad escape '\\q'"],
      ['return { "unterminated };', 'line 1: unfinished string'],
      ['return { [nil] = 1 };', 'line 1: bad table key'],
      ['return { [(0/0)] = 1 };', 'line 1: bad table key'],
      ['return { [1] 2 };', "line 1: expected '='"],
      ['return { 1 2 };', "line 1: expected '}'"],
      ['return (2/0);', "line 1: unexpected '('"],
      ['x = 1', "line 1: expected 'return'"],
    ];
    for (const [text, message] of cases) {
      expect(() => parseDat(text), text).toThrow(LuaSyntaxError);
      expect(() => parseDat(text), text).toThrow(message);
    }
  });

  it('refuses tables nested deeper than 100', () => {
    expect(() => parseDat(`return ${'{'.repeat(101)}${'}'.repeat(101)};`)).toThrow('tables nested too deeply');
    expect(parseDat(`return ${'{'.repeat(100)}${'}'.repeat(100)};`)).toBeInstanceOf(DataTable);
  });
});

describe('parseList', () => {
  it('reads item(…); entries and nothing else', () => {
    expect(parseList('item({ ["k"] = 1; });\nitem("two");\n')).toHaveLength(2);
    expect(() => parseList('item({});\nos.exit();')).toThrow("line 2: expected 'item('");
    expect(() => parseList('item {};')).toThrow("line 1: expected '('");
    expect(() => parseList('item({};')).toThrow("line 1: expected ')'");
  });
});
