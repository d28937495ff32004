// Turning parsed Lua values into the typed values the schema promises, with one-line errors
// that point at the exact line of the offending value (inside tables too).

import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { LuaTable, LuaValue } from './lua/values.js';
import { LOG_LEVELS } from './schema.js';
import type { DarknetTarget, LogLevel, LogTarget, OptionSpec } from './schema.js';

/** Seconds in the units of Prosody's durations (a month is 31 days, a year 365.2425). */
const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, d: 86400, w: 7 * 86400, m: 31 * 86400, y: 365.2425 * 86400 };

/** A duration as Prosody writes it ("1w", "30d", "never", "3600") in seconds, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (s === 'never') return Infinity;
  const m = /^(\d+)\s*([dwmy]?)$/.exec(s);
  return m ? Number(m[1]) * DURATION_UNITS[m[2] as string]! : undefined;
}

export interface ConvertContext {
  readonly file: string;
  /** Record a non-fatal remark about the value at `line`. */
  warn(line: number, message: string): void;
}

const SSL_PATH_KEYS = ['key', 'certificate', 'cafile', 'capath', 'dhparam'];
const DEFAULT_S2S_PORT = 5269;

/** "string "abc"", "number 5", "a table": how a value is named in error messages. */
export function describeValue(v: LuaValue): string {
  switch (v.type) {
    case 'string': return `string ${JSON.stringify(v.value.length > 40 ? v.value.slice(0, 40) + '…' : v.value)}`;
    case 'number': return `number ${v.value}`;
    case 'boolean': return `boolean ${v.value}`;
    case 'nil': return 'nil';
    default: return 'a table';
  }
}

/** A Lua value as plain JS: tables with only positional items become arrays, others objects. */
export function toPlain(v: LuaValue): unknown {
  if (v.type === 'nil') return undefined;
  if (v.type !== 'table') return v.value;
  if (v.entries.every((e) => e.key === undefined)) return v.entries.map((e) => toPlain(e.value) ?? null);
  const out: Record<string, unknown> = {};
  let index = 0;
  for (const e of v.entries) {
    const key = e.key === undefined ? String(++index) : String(e.key);
    if (e.value.type !== 'nil') out[key] = toPlain(e.value);
  }
  return out;
}

/** Recursively freeze a value so callers cannot change the shared config by accident. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

class Converter {
  constructor(private readonly spec: OptionSpec, private readonly ctx: ConvertContext) {}

  fail(line: number, what: string): never {
    throw new ConfigError(this.ctx.file, line, what, this.spec.name);
  }

  expected(v: LuaValue, want: string): never {
    return this.fail(v.line, `expected ${want} for option '${this.spec.name}', got ${this.spec.secret ? (v.type === 'table' ? 'a table' : v.type) : describeValue(v)}`);
  }

  str(v: LuaValue, want = 'a string'): string {
    return v.type === 'string' ? v.value : this.expected(v, want);
  }

  num(v: LuaValue, integer: boolean): number {
    if (v.type !== 'number' || !Number.isFinite(v.value)) return this.expected(v, 'a number');
    if (integer && !Number.isInteger(v.value)) return this.expected(v, 'a whole number');
    const { min, max, name } = this.spec;
    const n = v.value;
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      const range = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
      this.fail(v.line, `option '${name}' must be ${range}, got ${n}`);
    }
    return n;
  }

  table(v: LuaValue, want: string): LuaTable {
    return v.type === 'table' ? v : this.expected(v, want);
  }

  /** A table of `key = value` fields only: positional items are an error. */
  fields(v: LuaValue, want: string): Array<{ key: string; value: LuaValue; line: number }> {
    return this.table(v, want).entries.map((e) => {
      if (typeof e.key !== 'string') this.fail(e.line, `expected ${want} for option '${this.spec.name}', but found an entry without a name`);
      return { key: e.key, value: e.value, line: e.line };
    });
  }

  /** Positional items only; a lone scalar counts as a one-item list (Prosody accepts both). */
  items(v: LuaValue, want: string, scalar: LuaValue['type']): LuaValue[] {
    if (v.type === scalar) return [v];
    return this.table(v, want).entries.map((e) => {
      if (e.key !== undefined) this.fail(e.line, `expected ${want} for option '${this.spec.name}', but the table has a key '${e.key}'`);
      return e.value;
    });
  }

  convert(v: LuaValue): unknown {
    const spec = this.spec;
    switch (spec.type) {
      case 'string': return this.str(v);
      case 'path': {
        const s = this.str(v, 'a file or directory path');
        return s === '' ? this.fail(v.line, `option '${spec.name}' must not be empty`) : s;
      }
      case 'number': return this.num(v, false);
      case 'integer': return this.num(v, true);
      case 'boolean': return v.type === 'boolean' ? v.value : this.expected(v, 'true or false');
      case 'enum': return this.enumValue(v);
      case 'string-list': return this.items(v, 'a list of strings like { "a", "b" }', 'string').map((e) => this.str(e, 'a string in the list'));
      case 'origins': return v.type === 'boolean' ? v.value : this.items(v, 'true, false or a list of origins like { "http://xxx.b32.i2p" }', 'string').map((e) => this.str(e, 'an origin in the list'));
      case 'port-list': {
        const ports = this.items(v, 'a list of ports like { 5222 }', 'number');
        return ports.map((p) => (p.type === 'number' && Number.isInteger(p.value) && p.value >= 0 && p.value <= 65535 ? p.value : this.expected(p, 'a port number (0-65535)')));
      }
      case 'table': return toPlain(this.table(v, 'a table { … }'));
      case 'map': return Object.fromEntries(this.fields(v, 'a table of "key" = "value" pairs').map((f) => [f.key, this.str(f.value, `a string for key '${f.key}'`)]));
      case 'ssl': return this.ssl(v);
      case 'log': return this.log(v);
      case 'darknet-map': return this.darknetMap(v);
      case 'duration': return this.duration(v);
    }
  }

  /** Prosody's durations (mod_mam's archive_expires_after): a number of seconds, "<n>[dwmy]" or "never" (Infinity). */
  duration(v: LuaValue): number {
    const want = 'a duration like "1w", "1y", "never" or a number of seconds';
    if (v.type === 'number') return Number.isFinite(v.value) && v.value >= 0 ? v.value : this.expected(v, want);
    return parseDuration(this.str(v, want)) ?? this.expected(v, want);
  }

  enumValue(v: LuaValue): string {
    const { values = [], aliases = {}, name, booleans } = this.spec;
    if (booleans && v.type === 'boolean') return v.value ? booleans.true : booleans.false;
    const s = this.str(v, booleans ? 'a string or a boolean' : 'a string');
    if (values.includes(s)) return s;
    const meant = aliases[s];
    if (meant !== undefined) {
      this.ctx.warn(v.line, `option '${name}' = "${s}" is treated as "${meant}" by Clove`);
      return meant;
    }
    const all = [...values, ...Object.keys(aliases)].map((x) => `"${x}"`).join(', ');
    return this.fail(v.line, `option '${name}' must be one of ${all}, got "${s}"`);
  }

  ssl(v: LuaValue): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of this.fields(v, 'a table like { key = "…"; certificate = "…" }')) {
      out[f.key] = SSL_PATH_KEYS.includes(f.key) ? this.str(f.value, `a path string for ssl.${f.key}`) : toPlain(f.value);
    }
    return out;
  }

  sink(v: LuaValue): string {
    const s = this.str(v, 'a log sink ("*console", "*syslog" or a file path)');
    if (s === '*console' || s === '*stdout') return 'console';
    if (s === '*syslog') return 'syslog';
    if (s.startsWith('*') || s === '') this.fail(v.line, `unknown log sink "${s}" for option 'log' (use "*console", "*syslog" or a file path)`);
    return s === 'console' || s === 'syslog' ? `./${s}` : s; // a file that happens to be named like a sink
  }

  level(s: string, line: number): LogLevel {
    const level = LOG_LEVELS.find((l) => l === s);
    return level ?? this.fail(line, `unknown log level '${s}' in option 'log' (use ${LOG_LEVELS.join(', ')})`);
  }

  log(v: LuaValue): LogTarget[] {
    if (v.type === 'string') {
      const level = LOG_LEVELS.find((l) => l === v.value);
      return [level ? { level, to: 'console' } : { level: 'info', to: this.sink(v) }];
    }
    return this.table(v, 'a level, a sink or a table like { error = "/path"; "*syslog" }').entries.map((e) => {
      if (e.key === undefined) return e.value.type === 'table' ? this.advancedLog(e.value) : { level: 'info' as const, to: this.sink(e.value) };
      return { level: this.level(String(e.key), e.line), to: this.sink(e.value) };
    });
  }

  /** Prosody's full form: { to = "file"; filename = "…"; levels = { min = "warn" } }. */
  advancedLog(t: LuaTable): LogTarget {
    const f = new Map(this.fields(t, 'a log rule like { to = "console"; levels = { min = "info" } }').map((x) => [x.key, x.value]));
    const toV = f.get('to');
    const to = toV ? this.str(toV, '"console", "syslog" or "file"') : 'console';
    let level: LogLevel = 'info';
    const levels = f.get('levels');
    if (levels?.type === 'string') level = this.level(levels.value, levels.line);
    else if (levels?.type === 'table') {
      const found = levels.entries.map((e) => this.level(this.str(e.value, 'a log level'), e.line));
      level = found.reduce<LogLevel>((a, b) => (LOG_LEVELS.indexOf(b) < LOG_LEVELS.indexOf(a) ? b : a), found[0] ?? 'info');
    } else if (levels) this.expected(levels, 'a level or a table of levels');
    if (to === 'console' || to === 'syslog') return { level, to };
    const file = f.get('filename');
    if (to !== 'file' || !file) return this.fail(t.line, `a log rule needs to = "console", "syslog" or "file" with filename = "…" (option 'log')`);
    const name = this.str(file, 'a file path for filename');
    return { level, to: name === 'console' || name === 'syslog' ? `./${name}` : name };
  }

  darknetMap(v: LuaValue): Record<string, DarknetTarget> {
    const out: Record<string, DarknetTarget> = Object.create(null) as Record<string, DarknetTarget>; // a ["__proto__"] key stays a key
    const want = 'a table like { ["example.org"] = "x.b32.i2p" }';
    for (const f of this.fields(v, want)) {
      const domain = f.key.toLowerCase();
      if (f.value.type === 'string') {
        if (f.value.value === '') this.fail(f.line, `empty destination for '${f.key}' in option 'darknet_map'`);
        out[domain] = { host: f.value.value, port: DEFAULT_S2S_PORT };
        continue;
      }
      const fields = this.fields(f.value, `a "x.b32.i2p" string or { host = "x.b32.i2p"; port = 5269 } at key '${f.key}'`);
      let host: string | undefined;
      let port = DEFAULT_S2S_PORT;
      for (const g of fields) {
        if (g.key === 'host') host = this.str(g.value, 'a host name string');
        else if (g.key === 'port' && g.value.type === 'number' && Number.isInteger(g.value.value) && g.value.value >= 1 && g.value.value <= 65535) port = g.value.value;
        else if (g.key === 'port') this.expected(g.value, 'a port number (1-65535)');
        else this.fail(g.line, `unknown key '${g.key}' for '${f.key}' in option 'darknet_map' (use host and port)`);
      }
      if (!host) this.fail(f.line, `missing host = "…" for '${f.key}' in option 'darknet_map'`);
      out[domain] = { host, port };
    }
    return out;
  }
}

/** Check a parsed value against its spec and return the typed, normalised value (throws ConfigError). */
export function convertOption(spec: OptionSpec, value: LuaValue, ctx: ConvertContext): unknown {
  return new Converter(spec, ctx).convert(value);
}

/** A copy of `value` with the relative paths it holds resolved against `baseDir`. */
export function resolvePaths(spec: OptionSpec, value: unknown, baseDir: string): unknown {
  if (value === undefined) return value;
  switch (spec.type) {
    case 'path': return resolve(baseDir, value as string);
    case 'ssl': {
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const k of SSL_PATH_KEYS) if (typeof out[k] === 'string') out[k] = resolve(baseDir, out[k] as string);
      return out;
    }
    case 'log': return (value as LogTarget[]).map((t) => (t.to === 'console' || t.to === 'syslog' ? t : { ...t, to: resolve(baseDir, t.to) }));
    default: return value;
  }
}
