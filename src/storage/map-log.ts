// The change log of one user's map in the file backend: one line per change, appended, so a
// change costs bytes in proportion to itself and not to the whole map (issue 11: a PEP publish
// rewrote the account's whole file, up to 8 MiB). Each line is `<crc32 hex> <json>\n`; a line
// whose checksum fails (a write torn by a crash, never acknowledged) ends the log there.
import { crc32 } from '../lazy-builtins.js';

/** One change: set `k` to `v`, delete `k` (no `v`), or replace the whole map (`all`). */
export type MapRecord = { k: string; v?: unknown } | { all: Record<string, unknown> };

/** The line for a change (JSON never holds a raw newline). */
export function encodeRecord(r: MapRecord): string {
  const json = JSON.stringify(r);
  if (json === undefined) throw new TypeError('value cannot be stored as JSON');
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Apply one change to `map` (in place); keys are own properties, '__proto__' included. */
export function applyRecord(map: Record<string, unknown>, r: MapRecord): Record<string, unknown> {
  if ('all' in r) return copyMap(r.all);
  if (!('v' in r)) delete map[r.k];
  else Object.defineProperty(map, r.k, { value: r.v, enumerable: true, writable: true, configurable: true });
  return map;
}

/** A copy of a map that keeps '__proto__' as an ordinary key. */
export function copyMap(from: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) Object.defineProperty(out, k, { value: from[k], enumerable: true, writable: true, configurable: true });
  return out;
}

/** The changes of a log text, in order, and the byte length of its valid part (where a torn tail starts). */
export function readLog(text: string): { records: MapRecord[]; validBytes: number } {
  const records: MapRecord[] = [];
  let at = 0;
  let validBytes = 0;
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) break;
    const line = text.slice(at, nl);
    const json = line.slice(9);
    if (line[8] !== ' ' || crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) break;
    let r: unknown;
    try {
      r = JSON.parse(json);
    } catch {
      break;
    }
    if (!isRecord(r)) break;
    records.push(r);
    at = nl + 1;
    validBytes += Buffer.byteLength(line) + 1;
  }
  return { records, validBytes };
}

function isRecord(r: unknown): r is MapRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  if ('all' in o) return typeof o.all === 'object' && o.all !== null;
  return typeof o.k === 'string';
}
