// One SQLite database file, opened by better-sqlite3 on a worker thread. better-sqlite3 runs
// every statement synchronously, so on the event loop a slow disk would stall every connection;
// on its own thread it stalls only storage. Requests (jobs: a list of statements) queue here,
// bounded in number and bytes, and go to the worker in batches: a batch with writes is one
// transaction (each job in a savepoint of its own, so a failing job changes nothing and the
// others still commit), so many small writes cost one WAL sync. A job's promise resolves once
// its batch committed: with journal_mode=WAL and synchronous=FULL, on the disk.
//
// The worker's code is a string evaluated by the Worker (eval: true), with better-sqlite3
// resolved here and passed in by absolute path, as ../bcrypt-pool.ts does: the same from the
// TypeScript sources under vitest and from dist/. The worker holds the process open only while
// the file is being opened or a batch is in flight.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StorageBusyError } from '../store.js';

/** `sql = { driver = "SQLite3"; database = … }`, with Clove's queue options. */
export interface SqliteOptions {
  driver: 'SQLite3';
  /** The database file's absolute path (the config's `database`, taken from data_path). */
  database: string;
  /** Jobs that may wait for the worker (sql_queue_max); one more fails at once. */
  queueMax?: number;
  /** Bytes of statement parameters that may wait for the worker; past it a job fails at once. */
  queueBytes?: number;
  /** Milliseconds to wait for another process's lock on the file (sql_statement_timeout). */
  busyTimeoutMs?: number;
}

/** Defaults, documented in docs/limits.md. */
export const SQLITE_DEFAULTS = { queueMax: 4096, queueBytes: 64 * 1024 * 1024, busyTimeoutMs: 30_000 } as const;

/** Jobs sent to the worker at once at most (a batch is one transaction). */
const BATCH_JOBS = 256;
/** Parameter bytes sent to the worker at once at most (a first job is always taken). */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Prepared statements the worker keeps (the statements are Clove's own; a few carry a variable part). */
const STATEMENT_CACHE = 256;

/** One statement and its parameters (positional, or named `@name`). */
export interface Step {
  sql: string;
  params?: readonly unknown[] | Record<string, unknown>;
}

/** A step's result: the rows of a statement that returns rows, else the rows it changed. */
export type StepResult = Array<Record<string, unknown>> | number;

/** A request refused because too much already waits for the SQLite worker. */
export class SqliteBusyError extends StorageBusyError {
  override name = 'SqliteBusyError';
  constructor(what: string) {
    super(`SQLite storage: ${what} already wait for the database`);
  }
}

interface Job {
  steps: readonly Step[];
  write: boolean;
  bytes: number;
  resolve: (r: StepResult[]) => void;
  reject: (e: Error) => void;
}

/** The worker's first message: whether the file opened. */
interface Opened {
  opened: boolean;
  error?: string;
  code?: string;
}

interface Reply {
  results?: StepResult[];
  error?: string;
  code?: string;
}

const WORKER_SOURCE = `(() => {
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
// The file holds every account's keys: created owner-only (SQLite gives its -wal and -shm the same
// mode), in a data directory created owner-only as the file backend creates it.
let db;
try {
  fs.mkdirSync(require('node:path').dirname(workerData.file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(workerData.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
  const Database = require(workerData.driverPath);
  db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
} catch (e) {
  // Posted, not thrown: a thrown SqliteError reaches the parent without its message.
  parentPort.postMessage({ opened: false, error: String((e && e.message) || e), code: e && e.code });
  return;
}
const cache = new Map();
function prepare(sql) {
  let st = cache.get(sql);
  if (st) { cache.delete(sql); cache.set(sql, st); return st; }
  st = db.prepare(sql);
  cache.set(sql, st);
  if (cache.size > workerData.statementCache) cache.delete(cache.keys().next().value);
  return st;
}
function step(s) {
  const st = prepare(s.sql);
  const p = s.params === undefined ? [] : Array.isArray(s.params) ? s.params : [s.params];
  return st.reader ? st.all(...p) : st.run(...p).changes;
}
function failure(e) {
  return { error: String((e && e.message) || e), code: e && e.code };
}
parentPort.on('message', (jobs) => {
  const write = jobs.some((j) => j.write);
  const out = [];
  try {
    db.exec(write ? 'BEGIN IMMEDIATE' : 'BEGIN');
  } catch (e) {
    parentPort.postMessage(jobs.map(() => failure(e)));
    return;
  }
  for (const job of jobs) {
    db.exec('SAVEPOINT job');
    try {
      out.push({ results: job.steps.map(step) });
      db.exec('RELEASE job');
    } catch (e) {
      db.exec('ROLLBACK TO job');
      db.exec('RELEASE job');
      out.push(failure(e));
    }
  }
  try {
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    parentPort.postMessage(jobs.map(() => failure(e)));
    return;
  }
  parentPort.postMessage(out);
});
parentPort.postMessage({ opened: true });
})();
`;

/** Bytes a job's parameters hold (strings and byte arrays; the rest counts 8). */
function paramBytes(steps: readonly Step[]): number {
  let n = 0;
  for (const s of steps) {
    n += s.sql.length;
    for (const v of Array.isArray(s.params) ? s.params : Object.values(s.params ?? {})) {
      n += typeof v === 'string' ? v.length * 2 : v instanceof Uint8Array ? v.byteLength : 8;
    }
  }
  return n;
}

/** The queue to one database file and the worker that runs its statements. */
export class SqliteConnection {
  private worker: Worker | undefined;
  /** Resolves once the worker opened the file; rejects with why it could not. */
  private opened: Promise<void> | undefined;
  private readonly waiting: Job[] = [];
  private waitingBytes = 0;
  private inFlight: Job[] | undefined;
  private closed = false;
  private readonly driverPath: string;
  private readonly queueMax: number;
  private readonly queueBytes: number;

  constructor(readonly options: SqliteOptions) {
    try {
      this.driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    } catch {
      // An optional dependency: its install builds native code when no prebuilt binary can be fetched.
      throw new Error('driver "SQLite3" needs the package better-sqlite3, which is not installed: run `npm install better-sqlite3@12` in Clove\'s directory (without a prebuilt binary it builds with python3, make and a C++ compiler)');
    }
    this.queueMax = options.queueMax ?? SQLITE_DEFAULTS.queueMax;
    this.queueBytes = options.queueBytes ?? SQLITE_DEFAULTS.queueBytes;
  }

  /** Run `steps` in order, in one transaction (`write`: one that may change the file). */
  run(steps: readonly Step[], write: boolean): Promise<StepResult[]> {
    const bytes = paramBytes(steps);
    if (this.waiting.length >= this.queueMax) return Promise.reject(new SqliteBusyError(`${this.queueMax} requests`));
    if (this.waiting.length > 0 && this.waitingBytes + bytes > this.queueBytes) return Promise.reject(new SqliteBusyError(`${this.queueBytes} bytes`));
    return new Promise<StepResult[]>((resolve, reject) => {
      this.waiting.push({ steps, write, bytes, resolve, reject });
      this.waitingBytes += bytes;
      this.pump();
    });
  }

  /** Open the file (the worker starts); rejects with the reason it cannot be opened. */
  open(): Promise<void> {
    this.start();
    return this.opened!;
  }

  /** No more writes will come: the worker stops once idle (a later read starts it again). */
  close(): void {
    this.closed = true;
    this.stopIfIdle();
  }

  private start(): void {
    if (this.worker) return;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driverPath: this.driverPath, file: this.options.database, busyTimeoutMs: this.options.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs, statementCache: STATEMENT_CACHE },
    });
    this.worker = w;
    let opened: (r: Opened) => void = () => undefined;
    this.opened = new Promise<void>((resolve, reject) => {
      opened = (r) => (r.opened ? resolve() : reject(this.error(r.error ?? 'cannot open the file', r.code)));
      w.once('error', reject);
    });
    this.opened.catch(() => undefined);
    w.on('message', (m: Reply[] | Opened) => {
      if (Array.isArray(m)) return this.answered(m);
      opened(m);
      if (!m.opened) return this.lost(w, this.error(m.error ?? 'cannot open the file', m.code));
      // Opening held the process open (a start awaits it); from now on only a batch in flight does.
      if (!this.inFlight) w.unref();
    });
    // A worker that fails (the thread ran out of memory) fails what it held; the next request starts a new one.
    w.on('error', (e) => this.lost(w, e));
    w.on('exit', (code) => this.lost(w, new Error(`the SQLite worker stopped (exit code ${code})`)));
  }

  private pump(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    this.start();
    const batch: Job[] = [];
    let bytes = 0;
    while (this.waiting.length > 0 && batch.length < BATCH_JOBS && (batch.length === 0 || bytes + this.waiting[0]!.bytes <= BATCH_BYTES)) {
      const job = this.waiting.shift()!;
      bytes += job.bytes;
      batch.push(job);
    }
    this.waitingBytes -= bytes;
    this.inFlight = batch;
    this.worker!.ref();
    this.worker!.postMessage(batch.map((j) => ({ steps: j.steps, write: j.write })));
  }

  private answered(replies: Reply[]): void {
    const batch = this.inFlight ?? [];
    this.inFlight = undefined;
    this.worker?.unref();
    batch.forEach((job, i) => {
      const r = replies[i];
      if (r?.results) job.resolve(r.results);
      else job.reject(this.error(r?.error ?? 'no answer', r?.code));
    });
    this.pump();
    this.stopIfIdle();
  }

  private lost(w: Worker, e: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const failed = [...(this.inFlight ?? []), ...this.waiting];
    this.inFlight = undefined;
    this.waiting.length = 0;
    this.waitingBytes = 0;
    // An error thrown in the worker may arrive as a plain object, without its message.
    const { message, code } = e as { message?: string; code?: string };
    for (const job of failed) job.reject(message?.startsWith('SQLite storage: ') ? e : this.error(message ?? code ?? String(e), code));
  }

  private stopIfIdle(): void {
    if (!this.closed || this.inFlight || this.waiting.length > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = undefined;
    void w.terminate();
  }

  private error(message: string, code?: string): Error {
    return Object.assign(new Error(`SQLite storage: ${message}`), code ? { code } : {});
  }
}
