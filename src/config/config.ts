// The loaded configuration: global options, VirtualHost/Component sections and the warnings
// collected while reading them. Values are checked against the schema once, at load, so a
// bad config fails at start with one line naming file:line, never later at run time.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { parseLua, type LuaStatement } from './lua/config-chunk.js';
import type { LuaValue } from './lua/values.js';
import { findOption, suggestOption } from './schema.js';
import { convertOption, deepFreeze, resolvePaths, toPlain } from './values.js';

export interface HostSection {
  name: string;
  kind: 'VirtualHost' | 'Component';
  /** The component kind ("muc", …); absent for VirtualHosts and external components. */
  component?: string;
  line: number;
}

interface Entry { readonly value: unknown; readonly line: number }

export interface ParseOptions {
  /** Directory relative paths (data_path, certificates, ssl, pidfile, log files) resolve against. */
  baseDir?: string;
}

/** The `file` of the configuration built into Clove. */
export const EMBEDDED_DEFAULT = '<embedded default>';
// The embedded default is for trying Clove out (`npm start` on a fresh machine, often as root);
// a real deployment uses a config file, where run_as_root keeps its safe default of false.
const DEFAULT_TEXT = 'data_path = "./data"\ncertificates = "./certs"\nrun_as_root = true\nVirtualHost "localhost"\n';

export class Config {
  readonly file: string;
  readonly hosts: HostSection[];
  readonly warnings: string[];
  private readonly global = new Map<string, Entry>();
  private readonly perHost = new Map<string, Map<string, Entry>>();
  private readonly baseDir: string | undefined;

  /** Use parseConfig, loadConfig or defaultConfig rather than this constructor. */
  constructor(file: string, statements: LuaStatement[], options: ParseOptions = {}) {
    this.file = file;
    this.hosts = [];
    this.warnings = [];
    this.baseDir = options.baseDir;
    this.build(statements);
    Object.freeze(this.hosts);
    Object.freeze(this.warnings);
  }

  /** The value for `host` (falling back to the global value, then the schema default). */
  get<T = unknown>(name: string, host?: string): T {
    const spec = findOption(name);
    if (!spec) throw new Error(`unknown option '${name}': add it to src/config/schema.ts before reading it`);
    const entry = this.entry(name, host);
    let value = entry ? entry.value : spec.default;
    if (this.baseDir !== undefined) value = resolvePaths(spec, value, this.baseDir);
    return deepFreeze(value) as T;
  }

  /** Whether the option is set in the config (for `host`, or globally), rather than defaulted. */
  has(name: string, host?: string): boolean {
    return this.entry(name, host) !== undefined;
  }

  /** The line the value `get(name, host)` returns was set on; undefined when defaulted. */
  lineOf(name: string, host?: string): number | undefined {
    return this.entry(name, host)?.line;
  }

  /** Where the value for `host` comes from: its own section, the global section, or nowhere. */
  setIn(name: string, host?: string): 'host' | 'global' | undefined {
    if (host !== undefined && this.perHost.get(host)?.has(name)) return 'host';
    return this.global.has(name) ? 'global' : undefined;
  }

  /** The configured value and its line, also for options not in the schema (as plain JS). */
  lookup(name: string, host?: string): { value: unknown; line: number } | undefined {
    const entry = this.entry(name, host);
    if (!entry) return undefined;
    return { value: findOption(name) ? this.get(name, host) : deepFreeze(entry.value), line: entry.line };
  }

  /** Names of all VirtualHosts in file order, including ones with `enabled = false`. */
  virtualHosts(): string[] {
    return this.hosts.filter((h) => h.kind === 'VirtualHost').map((h) => h.name);
  }

  /** Component sections in file order, including ones with `enabled = false`. */
  components(): HostSection[] {
    return this.hosts.filter((h) => h.kind === 'Component');
  }

  private entry(name: string, host?: string): Entry | undefined {
    return (host !== undefined ? this.perHost.get(host)?.get(name) : undefined) ?? this.global.get(name);
  }

  private warn(line: number, message: string): void {
    this.warnings.push(`${this.file}:${line}: ${message}`);
  }

  private build(statements: LuaStatement[]): void {
    const acceptedWarned = new Set<string>();
    let section: HostSection | undefined;
    for (const s of statements) {
      if (s.type === 'assign') {
        this.set(s.name, s.value, s.line, section, acceptedWarned);
        continue;
      }
      section = this.openSection(s);
      for (const e of s.options?.entries ?? []) {
        if (typeof e.key !== 'string') throw new ConfigError(this.file, e.line, `the options table of ${s.kind} "${s.name}" may only hold 'name = value' fields`);
        this.set(e.key, e.value, e.line, section, acceptedWarned);
      }
    }
  }

  private openSection(s: Extract<LuaStatement, { type: 'section' }>): HostSection {
    const existing = this.hosts.find((h) => h.name === s.name);
    if (existing) {
      if (existing.kind !== s.kind || (s.component !== undefined && s.component !== existing.component)) {
        const what = existing.kind === 'Component' && existing.component ? `Component "${existing.name}" "${existing.component}"` : `${existing.kind} "${existing.name}"`;
        throw new ConfigError(this.file, s.line, `'${s.name}' is already defined as ${what} at line ${existing.line}`);
      }
      return existing; // reopening a section adds to it, as in Prosody
    }
    const section: HostSection = { name: s.name, kind: s.kind, line: s.line };
    if (s.component !== undefined) section.component = s.component;
    this.hosts.push(Object.freeze(section));
    this.perHost.set(s.name, new Map());
    return section;
  }

  private set(name: string, value: LuaValue, line: number, section: HostSection | undefined, acceptedWarned: Set<string>): void {
    const target = section ? (this.perHost.get(section.name) as Map<string, Entry>) : this.global;
    const spec = findOption(name);
    if (!spec) {
      const guess = suggestOption(name);
      this.warn(line, `unknown option '${name}' is ignored${guess ? `; did you mean '${guess}'?` : ''}`);
    }
    if (value.type === 'nil') { // `x = nil` unsets, as in Lua
      target.delete(name);
      return;
    }
    const converted = spec ? convertOption(spec, value, { file: this.file, warn: (l, m) => this.warn(l, m) }) : toPlain(value);
    if (spec && section && spec.scope === 'global') {
      this.warn(line, `option '${name}' can only be set globally (before the first VirtualHost/Component line); ignored under ${section.kind} "${section.name}"`);
      return;
    }
    const previous = target.get(name);
    if (previous) this.warn(line, `option '${name}' is set again; this replaces the value from line ${previous.line}`);
    target.set(name, { value: converted, line });
    if (spec?.status === 'accepted' && !acceptedWarned.has(name) && !(spec.honoured !== undefined && converted === spec.honoured)) {
      acceptedWarned.add(name);
      this.warn(line, `option '${name}' is accepted for Prosody compatibility but Clove does not act on it yet`);
    }
  }
}

/** Parse config text; `file` is used in messages. Throws ConfigError on any problem. */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): Config {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return new Config(file, parseLua(body, file), options);
}

/** Read and parse a config file; relative paths inside resolve against its directory. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String((err as Error).message);
    throw new ConfigError(path, 0, `cannot read the config file: ${why}`);
  }
  return parseConfig(text, path, { baseDir: dirname(resolve(path)) });
}

/** The configuration Clove runs with when given no file: VirtualHost "localhost", defaults elsewhere. */
export function defaultConfig(): Config {
  return parseConfig(DEFAULT_TEXT, EMBEDDED_DEFAULT);
}

/** The config path from `--config PATH` / `--config=PATH`, else $CLOVE_CONFIG, else undefined. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    const value = arg === '--config' ? argv[i + 1] : arg.startsWith('--config=') ? arg.slice('--config='.length) : undefined;
    if (arg !== '--config' && value === undefined) continue;
    if (!value || value.startsWith('-')) {
      throw new ConfigError('command line', 0, 'option --config needs a path, e.g. --config /etc/clove/clove.cfg.lua');
    }
    return value;
  }
  return env.CLOVE_CONFIG || undefined;
}

export interface Bounds { min?: number; max?: number; integer?: boolean }
type OptionValue = string | number | boolean | readonly string[];

function describePlain(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return Array.isArray(v) ? 'a list' : 'a table';
}

/**
 * Typed option read for modules: the configured value for `host` (or global), checked against
 * the type of `fallback` and `bounds`; `fallback` when unset. Throws ConfigError naming file:line.
 */
export function option<T extends OptionValue>(config: Config, host: string | undefined, name: string, fallback: T, bounds: Bounds = {}): T {
  const found = config.lookup(name, host);
  const value = found ? found.value : findOption(name) ? config.get(name, host) : undefined;
  if (value === undefined) return fallback;
  const line = found?.line ?? 0;
  const fail = (what: string): never => { throw new ConfigError(config.file, line, what, name); };
  if (Array.isArray(fallback)) {
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) fail(`expected a list of strings for option '${name}', got ${describePlain(value)}`);
    return value as T;
  }
  const want = typeof fallback;
  if (typeof value !== want) fail(`expected a ${bounds.integer ? 'whole number' : want} for option '${name}', got ${describePlain(value)}`);
  if (typeof value === 'number') {
    if (bounds.integer && !Number.isInteger(value)) fail(`expected a whole number for option '${name}', got ${describePlain(value)}`);
    const { min, max } = bounds;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      fail(`option '${name}' must be ${min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`}, got ${value}`);
    }
  }
  return value as T;
}
