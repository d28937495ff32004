// Lua 5.4's arithmetic, concatenation and comparison on config values (Debian's Prosody runs on
// Lua 5.4): integers and floats are told apart (`/` and `^` always give a float, `//` and `%` on
// integers stay integers and fail on zero), strings are coerced to numbers in arithmetic and
// numbers to strings in `..`, exactly as the Lua reference manual (§3.4) says. A failure is a
// message in Lua's own words; the caller adds file and line.

/** A number as Lua 5.4 holds it: the value and whether it is a float (else an integer). */
export interface LuaNumber { value: number; float: boolean }

export type ArithOp = '+' | '-' | '*' | '/' | '//' | '%' | '^';

/** Thrown by these helpers; the evaluator turns it into a ConfigError at the expression's line. */
export class LuaRuntimeError extends Error {}

const SPACE = '[ \\t\\n\\v\\f\\r]*';
const DEC_INT = new RegExp(`^${SPACE}([+-]?\\d+)${SPACE}$`);
const HEX_INT = new RegExp(`^${SPACE}([+-]?)0[xX]([0-9a-fA-F]+)${SPACE}$`);
const DEC_FLOAT = new RegExp(`^${SPACE}([+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)${SPACE}$`);

/** Lua's string-to-number conversion (as `tonumber` and string arithmetic do it), or undefined. */
export function stringToNumber(s: string): LuaNumber | undefined {
  let m = DEC_INT.exec(s);
  if (m) return { value: Number(m[1]), float: false };
  m = HEX_INT.exec(s);
  if (m) return { value: (m[1] === '-' ? -1 : 1) * parseInt(m[2] as string, 16), float: false };
  m = DEC_FLOAT.exec(s);
  if (m) return { value: Number(m[1]), float: true };
  return undefined;
}

/** Lua's `%.14g` formatting of a float, with ".0" added when it looks like an integer (5.3+). */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return '-nan'; // what Lua 5.4 prints for 0/0 on x86-64 glibc
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential(13).split('e') as [string, string];
  const exp = Number(expText);
  const strip = (t: string): string => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  let out: string;
  if (exp < -4 || exp >= 14) {
    out = `${strip(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else {
    out = strip(x.toFixed(13 - exp));
  }
  return /^-?\d+$/.test(out) ? out + '.0' : out;
}

/** How Lua writes a number in `..` and tostring. */
export function formatNumber(n: LuaNumber): string {
  return n.float ? formatFloat(n.value) : String(n.value);
}

/** The floored modulo of Lua's floats (the result has the sign of the divisor). */
function floatMod(a: number, b: number): number {
  let m = a % b;
  if (m > 0 ? b < 0 : m < 0 && b !== m) m += b;
  return m;
}

/** One arithmetic operation on two numbers, with Lua 5.4's integer/float rules. */
export function arith(op: ArithOp, a: LuaNumber, b: LuaNumber): LuaNumber {
  const ints = !a.float && !b.float;
  const x = a.value;
  const y = b.value;
  switch (op) {
    case '+': return { value: x + y, float: !ints };
    case '-': return { value: x - y, float: !ints };
    case '*': return { value: x * y, float: !ints };
    case '/': return { value: x / y, float: true };
    case '^': return { value: Math.pow(x, y), float: true };
    case '//':
      if (ints && y === 0) throw new LuaRuntimeError("attempt to perform 'n//0'");
      return { value: Math.floor(x / y), float: !ints };
    case '%':
      if (ints) {
        if (y === 0) throw new LuaRuntimeError("attempt to perform 'n%%0'");
        return { value: x - Math.floor(x / y) * y, float: false };
      }
      return { value: floatMod(x, y), float: true };
  }
}
