// Reading a config file with its Includes, as Prosody's configmanager does: an Include path is
// relative to the including file; a `*` or `?` in its last part is a glob over that directory
// (dot files and directories skipped, sorted by name — Prosody takes the directory's order,
// which is unspecified); a missing non-glob file is an error naming the including line; a glob
// matching nothing is not. Each included file is its own chunk (its locals are its own) and starts
// in the global section; after it, the including file continues in the section it was in. Include
// loops are an error. FileContents / FileLine / FileLines / Credential are read here too, all
// within the bounds of CONFIG_LIMITS (docs/limits.md), so a config cannot make Clove read without end.

import { closeSync, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { LuaRuntimeError } from './lua/arith.js';
import { parseLua, type LuaStatement } from './lua/config-chunk.js';
import type { ChunkHost, FileReader } from './lua/expression.js';

const MiB = 1024 * 1024;

/** How much reading one config may cause. */
export interface ConfigLimits {
  /** Includes nested inside includes, at most. */
  readonly includeDepth: number;
  /** Config files read in all (the main file and every included one). */
  readonly files: number;
  /** Bytes read in all: config files and the files FileContents & co read. */
  readonly totalBytes: number;
  /** Bytes of one file (a config file or one FileContents & co read). */
  readonly fileBytes: number;
}

export const CONFIG_LIMITS: ConfigLimits = { includeDepth: 16, files: 256, totalBytes: 16 * MiB, fileBytes: 1 * MiB };

/** A statement with the file it is in; an include lists the files it read, in order. */
export type SourcedStatement =
  | (Exclude<LuaStatement, { type: 'include' }> & { file: string })
  | { type: 'include'; path: string; line: number; file: string; matched: string[] }
  /** An included file starts (its options are global until its first section line) or ends. */
  | { type: 'enter' | 'leave'; file: string; line: number };

export interface ReadOptions {
  /** Where ENV_<NAME> is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  limits?: ConfigLimits;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file-system error in a few words, for "cannot read …: <why>". */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (err as Error).message;
}

class TooLarge extends Error {}

/** At most `max` bytes of a file; a longer one (or a device that never ends) is an error, unread past max. */
function readCapped(path: string, max: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('it is a directory'), { code: 'EISDIR' });
    const buf = Buffer.alloc(Math.min(max + 1, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) throw new TooLarge();
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function globRegExp(glob: string): RegExp {
  const body = Array.from(glob, (c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

class Reader {
  readonly out: SourcedStatement[] = [];
  private bytes = 0;
  private files = 0;
  /** The real paths of the files being read, outermost first (for loops). */
  private readonly stack: string[] = [];
  private readonly limits: ConfigLimits;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: ReadOptions) {
    this.limits = options.limits ?? CONFIG_LIMITS;
    this.env = options.env ?? process.env;
  }

  /** The bytes of `path` as UTF-8 text, counted against the limits; throws a plain Error saying why. */
  private text(path: string): string {
    const remaining = this.limits.totalBytes - this.bytes;
    const cap = Math.min(this.limits.fileBytes, remaining);
    let data: Buffer;
    try {
      data = readCapped(path, cap);
    } catch (err) {
      if (!(err instanceof TooLarge)) throw err;
      throw new Error(cap < this.limits.fileBytes ? `the config files and the files they read exceed ${this.limits.totalBytes} bytes in all` : `it is larger than ${this.limits.fileBytes} bytes`);
    }
    this.bytes += data.length;
    try {
      return utf8.decode(data);
    } catch {
      throw new Error('it is not UTF-8 text');
    }
  }

  /** Read a config file's text (the main file or an included one). */
  configText(path: string): string {
    if (++this.files > this.limits.files) throw new Error(`more than ${this.limits.files} config files are included`);
    const text = this.text(path);
    return text.startsWith('\uFEFF') ? text.slice(1) : text;
  }

  chunk(text: string, file: string, real: string): void {
    this.stack.push(real);
    for (const s of parseLua(text, file, this.host(file))) {
      if (s.type === 'include') this.include(s, file);
      else this.out.push(Object.assign(s, { file }));
    }
    this.stack.pop();
  }

  private host(file: string): ChunkHost {
    return {
      env: (name) => this.env[name],
      readFile: (path: string, reader: FileReader) => {
        let full: string;
        if (reader === 'Credential') {
          const dir = this.env.CREDENTIALS_DIRECTORY;
          if (!dir) throw new LuaRuntimeError('Credential() requires the $CREDENTIALS_DIRECTORY environment variable to be set');
          full = join(dir, path);
        } else {
          full = isAbsolute(path) ? path : join(dirname(file), path);
        }
        try {
          return this.text(full);
        } catch (err) {
          throw new LuaRuntimeError(`cannot read ${full}: ${readFailure(err)}`);
        }
      },
    };
  }

  private include(s: Extract<LuaStatement, { type: 'include' }>, file: string): void {
    const fail = (what: string): never => { throw new ConfigError(file, s.line, what); };
    if (this.stack.length > this.limits.includeDepth) fail(`Include "${s.path}": includes are nested more than ${this.limits.includeDepth} levels deep`);
    const matched = this.expand(s.path, file, fail);
    this.out.push({ ...s, file, matched });
    for (const path of matched) {
      let real: string;
      let text: string;
      try {
        real = realpathSync(path);
        if (this.stack.includes(real)) fail(`Include loop: ${path} is already being read (it includes itself, directly or through other files)`);
        text = this.configText(path);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        return fail(`cannot read included file ${path}: ${readFailure(err)}`);
      }
      this.out.push({ type: 'enter', file: path, line: 0 });
      this.chunk(text, path, real);
      this.out.push({ type: 'leave', file: path, line: 0 });
    }
  }

  /** The files an Include names: one path, or a glob's matches sorted by name. */
  private expand(path: string, file: string, fail: (what: string) => never): string[] {
    const full = isAbsolute(path) ? path : join(dirname(file), path);
    const pattern = basename(full);
    if (!/[*?]/.test(pattern)) {
      if (/[*?]/.test(path)) fail(`Include "${path}": only the file name may have * or ?, not the directories`);
      return [full];
    }
    const dir = dirname(full);
    if (/[*?]/.test(dir)) fail(`Include "${path}": only the file name may have * or ?, not the directories`);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : readFailure(err);
      return fail(`Include "${path}": cannot list the directory ${dir}: ${why}`);
    }
    const re = globRegExp(pattern);
    // A matching directory is skipped; anything else that matches is read (a dangling link is an error, as in Prosody).
    const isDir = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };
    return names.filter((n) => !n.startsWith('.') && re.test(n)).sort().map((n) => join(dir, n)).filter((p) => !isDir(p));
  }
}

/** Read config text (of `file`) and everything it includes, into statements that know their file. */
export function readConfigText(text: string, file: string, options: ReadOptions = {}): SourcedStatement[] {
  const reader = new Reader(options);
  // Not realpath: the text may have no file on disk (tests, the embedded default). Should it
  // include itself through a symbolic link, the loop is caught one level further down.
  reader.chunk(text.startsWith('\uFEFF') ? text.slice(1) : text, file, resolve(file));
  return reader.out;
}

/** Read a config file and everything it includes; an unreadable main file is a ConfigError at line 0. */
export function readConfigFile(path: string, options: ReadOptions = {}): SourcedStatement[] {
  const reader = new Reader(options);
  let text: string;
  let real: string;
  try {
    real = realpathSync(path);
    text = reader.configText(path);
  } catch (err) {
    throw new ConfigError(path, 0, `cannot read the config file: ${readFailure(err)}`);
  }
  reader.chunk(text, path, real);
  return reader.out;
}
