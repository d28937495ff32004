// The loaded configuration: global options, VirtualHost/Component sections and the warnings
// collected while reading them. Values are checked against the schema once, at load, so a
// bad config fails at start with one line naming file:line, never later at run time.

import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { readConfigFile, readConfigText, type ReadOptions, type SourcedStatement } from './include.js';
import type { LuaValue } from './lua/values.js';
import { findOption, suggestOption } from './schema.js';
import type { ReportLine } from './report.js';
import { convertOption, deepFreeze, resolvePaths, toPlain } from './values.js';

export interface HostSection {
  name: string;
  kind: 'VirtualHost' | 'Component';
  /** The component kind ("muc", …); absent for VirtualHosts and external components. */
  component?: string;
  /** The file and line of its first section line (a section may be reopened later, as in Prosody). */
  file: string;
  line: number;
}

/** Where an option's value was written. */
export interface Source { readonly file: string; readonly line: number }

interface Entry { readonly value: unknown; readonly line: number; readonly file: string }

export interface ParseOptions extends ReadOptions {
  /** Directory relative paths (data_path, certificates, ssl, pidfile, log files) resolve against. */
  baseDir?: string;
  /**
   * Another server's config (Prosody's, read by `clove import-prosody --from-sql`): every option
   * is kept as the plain value written, unchecked against Clove's options and without warnings;
   * lookup() returns it as written (relative paths unresolved).
   */
  foreign?: boolean;
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
  /** What became of every statement of every file read, in order (`clove check` prints it). */
  readonly report: ReportLine[] = [];
  private readonly global = new Map<string, Entry>();
  private readonly perHost = new Map<string, Map<string, Entry>>();
  private readonly baseDir: string | undefined;
  private readonly foreign: boolean;

  /** Use parseConfig, loadConfig or defaultConfig rather than this constructor. */
  constructor(file: string, statements: SourcedStatement[], options: ParseOptions = {}) {
    this.file = file;
    this.hosts = [];
    this.warnings = [];
    this.baseDir = options.baseDir;
    this.foreign = options.foreign ?? false;
    this.build(statements);
    Object.freeze(this.hosts);
    Object.freeze(this.warnings);
    Object.freeze(this.report);
  }

  /** The value for `host` (falling back to the global value, then the schema default). */
  get<T = unknown>(name: string, host?: string): T {
    const spec = findOption(name);
    if (!spec) throw new Error(`unknown option '${name}': add it to src/config/schema.ts before reading it`);
    // Clove's own settings are not in another server's config: a foreign one has the defaults.
    const entry = this.foreign ? undefined : this.entry(name, host);
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

  /** The file and line the value `get(name, host)` returns was set on; the config file and line 0 when defaulted. */
  source(name: string, host?: string): Source {
    const entry = this.entry(name, host);
    return entry ? { file: entry.file, line: entry.line } : { file: this.file, line: 0 };
  }

  /** `file:line` where the option was set (or the config file's name when defaulted), for messages. */
  where(name: string, host?: string): string {
    const { file, line } = this.source(name, host);
    return line > 0 ? `${file}:${line}` : file;
  }

  /** The configured value, its file and line, also for options not in the schema (as plain JS). */
  lookup(name: string, host?: string): { value: unknown; line: number; file: string } | undefined {
    const entry = this.entry(name, host);
    if (!entry) return undefined;
    return { value: findOption(name) && !this.foreign ? this.get(name, host) : deepFreeze(entry.value), line: entry.line, file: entry.file };
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

  private warn(file: string, line: number, message: string): void {
    this.warnings.push(`${file}:${line}: ${message}`);
  }

  private note(file: string, line: number, result: ReportLine['result'], text: string): void {
    this.report.push({ file, line, result, text });
  }

  private build(statements: SourcedStatement[]): void {
    const acceptedWarned = new Set<string>();
    let section: HostSection | undefined;
    // An included file starts in the global section; the including file then goes on in its own.
    const outer: Array<HostSection | undefined> = [];
    for (const s of statements) {
      switch (s.type) {
        case 'enter':
          outer.push(section);
          section = undefined;
          break;
        case 'leave':
          section = outer.pop();
          break;
        case 'assign':
          this.set(s.name, s.value, s.file, s.line, section, acceptedWarned);
          break;
        case 'local':
          this.note(s.file, s.line, 'local', `local ${s.names.join(', ')}`);
          break;
        case 'include':
          this.note(s.file, s.line, 'include', `Include "${s.path}": ${s.matched.length === 0 ? 'no file matches' : s.matched.join(', ')}`);
          break;
        case 'section': {
          const opened = this.openSection(s);
          this.note(s.file, s.line, 'section', s.kind === 'Component' ? `Component "${s.name}"${s.component ? ` "${s.component}"` : ''}` : `VirtualHost "${s.name}"`);
          for (const e of s.options?.entries ?? []) {
            if (typeof e.key !== 'string') throw new ConfigError(s.file, e.line, `the options table of ${s.kind} "${s.name}" may only hold 'name = value' fields`);
            this.set(e.key, e.value, s.file, e.line, opened, acceptedWarned);
          }
          // `VirtualHost "x" { … }` sets its options and returns to the global section, as in Prosody.
          section = s.options ? undefined : opened;
          break;
        }
      }
    }
  }

  private openSection(s: Extract<SourcedStatement, { type: 'section' }>): HostSection {
    const existing = this.hosts.find((h) => h.name === s.name);
    if (existing) {
      if (existing.kind !== s.kind || (s.component !== undefined && s.component !== existing.component)) {
        const what = existing.kind === 'Component' && existing.component ? `Component "${existing.name}" "${existing.component}"` : `${existing.kind} "${existing.name}"`;
        const at = existing.file === s.file ? `line ${existing.line}` : `${existing.file}:${existing.line}`;
        throw new ConfigError(s.file, s.line, `'${s.name}' is already defined as ${what} at ${at}`);
      }
      return existing; // reopening a section adds to it, as in Prosody
    }
    const section: HostSection = { name: s.name, kind: s.kind, file: s.file, line: s.line };
    if (s.component !== undefined) section.component = s.component;
    this.hosts.push(Object.freeze(section));
    this.perHost.set(s.name, new Map());
    return section;
  }

  private set(name: string, value: LuaValue, file: string, line: number, section: HostSection | undefined, acceptedWarned: Set<string>): void {
    const target = section ? (this.perHost.get(section.name) as Map<string, Entry>) : this.global;
    const under = section ? ` under ${section.kind} "${section.name}"` : '';
    const spec = this.foreign ? undefined : findOption(name);
    if (!spec && !this.foreign) {
      const guess = suggestOption(name);
      const hint = guess ? `; did you mean '${guess}'?` : '';
      this.warn(file, line, `unknown option '${name}' is ignored${hint}`);
      this.note(file, line, 'unknown', `${name}${under}: not a Clove option, ignored${hint}`);
    }
    if (this.foreign) {
      if (value.type === 'nil') target.delete(name);
      else target.set(name, { value: toPlain(value), line, file });
      return;
    }
    if (value.type === 'nil') { // `x = nil` unsets, as in Lua
      target.delete(name);
      if (spec) this.note(file, line, 'used', `${name}${under} = nil: unset`);
      return;
    }
    const converted = spec ? convertOption(spec, value, { file, warn: (l, m) => this.warn(file, l, m) }) : toPlain(value);
    if (spec && section && spec.scope === 'global') {
      this.warn(file, line, `option '${name}' can only be set globally (before the first VirtualHost/Component line); ignored under ${section.kind} "${section.name}"`);
      this.note(file, line, 'ignored', `${name}${under}: can only be set globally (before the first VirtualHost/Component line)`);
      return;
    }
    const previous = target.get(name);
    if (previous) {
      const at = previous.file === file ? `line ${previous.line}` : `${previous.file}:${previous.line}`;
      this.warn(file, line, `option '${name}' is set again; this replaces the value from ${at}`);
    }
    target.set(name, { value: converted, line, file });
    if (!spec) return;
    const honoured = spec.honoured !== undefined && converted === spec.honoured;
    if (spec.status === 'accepted' && !honoured) {
      this.note(file, line, 'ignored', `${name}${under}: accepted for Prosody compatibility; Clove does not act on it yet`);
      if (!acceptedWarned.has(name)) {
        acceptedWarned.add(name);
        this.warn(file, line, `option '${name}' is accepted for Prosody compatibility but Clove does not act on it yet`);
      }
    } else {
      this.note(file, line, 'used', `${name}${under}${honoured ? ' (Clove already behaves so)' : ''}`);
    }
  }
}

/** Parse config text; `file` is used in messages and Includes are relative to it. Throws ConfigError on any problem. */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): Config {
  return new Config(file, readConfigText(text, file, options), options);
}

/** Read and parse a config file with its Includes; relative paths inside resolve against its directory. */
export async function loadConfig(path: string, options: Omit<ParseOptions, 'baseDir'> = {}): Promise<Config> {
  return new Config(path, readConfigFile(path, options), { ...options, baseDir: dirname(resolve(path)) });
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
  const fail = (what: string): never => { throw new ConfigError(found?.file ?? config.file, line, what, name); };
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
