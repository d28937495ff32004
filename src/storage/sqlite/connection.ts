// One SQLite database file, opened by better-sqlite3 on a worker thread. better-sqlite3 runs
// every statement synchronously, so on the event loop a slow disk would stall every connection;
// on its own thread it delays only storage requests. Requests (jobs: a list of statements) queue here,
// bounded in number and bytes, and go to the worker in batches: a batch with writes is one
// transaction (each job in a savepoint of its own, so a failing job changes nothing and the
// others still commit), so many small writes cost one WAL sync. A write's promise resolves once
// its batch committed (journal_mode=WAL and synchronous=FULL: on the disk); a read's once it ran.
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
/** Bytes a checkpointed WAL file is cut back to (journal_size_limit). */
const WAL_LIMIT = 64 * 1024 * 1024;
/** Prepared statements the worker keeps (the statements are Clove's own; a few carry a variable part). */
const STATEMENT_CACHE = 256;

/** One statement and its parameters (positional, or named `@name`). */
export interface Step {
  sql: string;
  params?: readonly unknown[] | Record<string, unknown>;
}

/** A step's result: the rows of a statement that returns rows, else the rows it changed. */
export type StepResult = Array<Record<string, unknown>> | number;

/**
 * A request refused because too much already waits for the SQLite worker, or one that waited
 * longer than the busy timeout for another process's lock on the file: both pass, so the client
 * gets resource-constraint (type wait).
 */
export class SqliteBusyError extends StorageBusyError {
  override name = 'SqliteBusyError';
  constructor(why: string) {
    super(`SQLite storage: ${why}`);
  }
}

interface Job {
  steps: readonly Step[];
  /** Instead of steps: the schema's migrations, applied inside the job's write transaction (./schema.ts). */
  migrations?: ReadonlyArray<readonly string[]>;
  write: boolean;
  bytes: number;
  /** Answered (resolved or rejected). */
  settled?: boolean;
  resolve: (r: StepResult[]) => void;
  reject: (e: Error) => void;
}

/** The worker's first message: whether the file opened. */
interface Opened {
  opened: boolean;
  error?: string;
  code?: string;
}

/** A reply to the job at index `i` of the batch in flight. */
interface Reply {
  i: number;
  results?: StepResult[];
  error?: string;
  code?: string;
}

/** The end of a batch, with the replies to its writes (sent once committed or failed). */
interface Done {
  done: true;
  replies: Reply[];
}

// The worker. The file holds every account's keys: it is created owner-only (SQLite gives its
// -wal and -shm the same mode) and a wider mode is narrowed at open, in a data directory created
// owner-only as the file backend creates it. Prosody's own file (a config copied from Prosody)
// is refused before anything of it changes. A checkpointed WAL is cut back to WAL_LIMIT (a large
// expiry would leave it large). Failures are posted, not thrown: a thrown SqliteError reaches
// the parent without its message. (No comment lines inside the string: dist/ carries none.)
//
// A batch: BEGIN (IMMEDIATE when it writes), each job in a savepoint, COMMIT. A read job's reply
// is posted as soon as it ran (a large result is one message of its own, read between other
// events); a write job's after the COMMIT, so it resolves only once durable. When SQLite itself
// ends the transaction (a full disk, an I/O error: it rolls everything back) or the COMMIT fails,
// every write of the batch fails with that error, and the next batch starts afresh. When the
// writes cannot start (another process holds the write lock past the busy timeout) they fail,
// and the batch's reads run all the same (in WAL mode a writer does not block readers): in
// batch(), `refused` holds why the writes cannot start, `broken` why nothing more can run.
const WORKER_SOURCE = `(() => {
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const file = workerData.file;
let db;
try {
  fs.mkdirSync(require('node:path').dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
  const Database = require(workerData.driverPath);
  db = new Database(file, { timeout: workerData.busyTimeoutMs });
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('prosody', 'prosodyarchive', 'clove_schema')").all().map((r) => r.name);
  if (tables.length > 0 && !tables.includes('clove_schema')) {
    db.close();
    throw new Error("the file holds Prosody's tables (prosody, prosodyarchive), which Clove does not read: give Clove a file of its own (the default is clove.sqlite) and bring Prosody's data over with clove import-prosody --from-sql");
  }
  for (const f of [file, file + '-wal', file + '-shm']) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('journal_size_limit = ' + workerData.walLimit);
} catch (e) {
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
function migrate(list) {
  db.exec("CREATE TABLE IF NOT EXISTS clove_schema (version integer NOT NULL, applied text NOT NULL DEFAULT (datetime('now')))");
  const found = db.prepare('SELECT coalesce(max(version), 0) AS v FROM clove_schema').get().v;
  if (found > list.length) throw new Error("the database's Clove schema is version " + found + ", newer than this Clove's " + list.length + ': upgrade Clove');
  for (let v = found + 1; v <= list.length; v++) {
    for (const sql of list[v - 1]) db.exec(sql);
    db.prepare('INSERT INTO clove_schema (version) VALUES (?)').run(v);
  }
  return [];
}
function failure(e) {
  return { error: String((e && e.message) || e), code: e && e.code };
}
function batch(jobs) {
  const held = [];
  let refused;
  let broken;
  try {
    db.exec(jobs.some((j) => j.write) ? 'BEGIN IMMEDIATE' : 'BEGIN');
  } catch (e) {
    refused = e;
    try {
      db.exec('BEGIN');
    } catch (r) {
      broken = r;
    }
  }
  for (const job of jobs) {
    let reply;
    if (broken || (refused && job.write)) reply = failure(broken || refused);
    else {
      try {
        db.exec('SAVEPOINT job');
        reply = { results: job.migrations ? migrate(job.migrations) : job.steps.map(step) };
        db.exec('RELEASE job');
      } catch (e) {
        reply = failure(e);
        if (!db.inTransaction) broken = e;
        else {
          try {
            db.exec('ROLLBACK TO job');
            db.exec('RELEASE job');
          } catch (r) {
            broken = r;
          }
        }
      }
    }
    if (job.write) held.push([job.i, reply]);
    else parentPort.postMessage({ i: job.i, ...reply });
  }
  if (!broken) {
    try {
      db.exec('COMMIT');
    } catch (e) {
      broken = e;
    }
  }
  if (broken) rollback();
  return held.map(([i, reply]) => ({ i, ...(broken && reply.results ? failure(broken) : reply) }));
}
function rollback() {
  if (db.inTransaction) {
    try { db.exec('ROLLBACK'); } catch {}
  }
}
parentPort.on('message', (jobs) => {
  let replies;
  try {
    replies = batch(jobs);
  } catch (e) {
    rollback();
    replies = jobs.map((job) => ({ i: job.i, ...failure(e) }));
  }
  parentPort.postMessage({ done: true, replies });
});
parentPort.postMessage({ opened: true });
})();
`;

/**
 * Bytes a job's parameters hold (strings and byte arrays; the rest counts 8). A parameter object
 * several steps share (an append's payload) is sent to the worker once, and counted once.
 */
function paramBytes(steps: readonly Step[]): number {
  let n = 0;
  const counted = new Set<object>();
  for (const s of steps) {
    n += s.sql.length;
    if (s.params === undefined || counted.has(s.params)) continue;
    counted.add(s.params);
    for (const v of Array.isArray(s.params) ? s.params : Object.values(s.params)) {
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
  /** The worker started and has not said yet whether the file opened. */
  private opening = false;
  /** Rejects the worker's `opened` promise (the worker failed before it said). */
  private failOpen: (e: Error) => void = () => undefined;
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
    return this.enqueue({ steps, write });
  }

  /** Apply the schema's `migrations` not yet applied, in one write transaction (a newer schema is refused). */
  async migrate(migrations: ReadonlyArray<readonly string[]>): Promise<void> {
    await this.enqueue({ steps: [], migrations, write: true });
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

  private enqueue(job: Pick<Job, 'steps' | 'migrations' | 'write'>): Promise<StepResult[]> {
    const bytes = paramBytes(job.steps);
    if (this.waiting.length >= this.queueMax) return Promise.reject(new SqliteBusyError(`${this.queueMax} requests already wait for the database`));
    if (this.waiting.length > 0 && this.waitingBytes + bytes > this.queueBytes) return Promise.reject(new SqliteBusyError(`${this.queueBytes} bytes already wait for the database`));
    return new Promise<StepResult[]>((resolve, reject) => {
      this.waiting.push({ ...job, bytes, resolve, reject });
      this.waitingBytes += bytes;
      this.pump();
    });
  }

  private start(): void {
    if (this.worker) return;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driverPath: this.driverPath, file: this.options.database, busyTimeoutMs: Math.round(this.options.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs), statementCache: STATEMENT_CACHE, walLimit: WAL_LIMIT },
    });
    this.worker = w;
    this.opening = true;
    let opened: (r: Opened) => void = () => undefined;
    this.opened = new Promise<void>((resolve, reject) => {
      opened = (r) => (r.opened ? resolve() : reject(this.error(r.error ?? 'cannot open the file', r.code)));
      this.failOpen = (e) => reject(e);
    });
    this.opened.catch(() => undefined);
    w.on('message', (m: Reply | Done | Opened) => {
      if (this.worker !== w) return; // a replaced worker's last words
      if (!('opened' in m)) return this.answered(m);
      this.opening = false;
      opened(m);
      if (!m.opened) return this.lost(w, this.error(m.error ?? 'cannot open the file', m.code), true);
      // Opening held the process open (a start awaits it); from now on only a batch in flight does.
      if (!this.inFlight) w.unref();
      this.stopIfIdle();
    });
    // A worker that fails (the thread ran out of memory) fails the batch it held; the next batch starts a new one.
    w.on('error', (e) => this.lost(w, e, this.opening));
    w.on('exit', (code) => this.lost(w, new Error(`the SQLite worker stopped (exit code ${code})`), this.opening));
  }

  private pump(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    try {
      this.start();
    } catch (e) {
      // No thread could be started (ERR_WORKER_INIT_FAILED): what waits fails now, and never runs later.
      const failed = this.waiting.splice(0);
      this.waitingBytes = 0;
      for (const job of failed) job.reject(this.error((e as Error).message));
      return;
    }
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
    try {
      this.worker!.postMessage(batch.map((j, i) => ({ i, steps: j.steps, migrations: j.migrations, write: j.write })));
    } catch (e) {
      // A parameter that cannot be sent (not cloneable): the batch fails, the queue goes on.
      this.inFlight = undefined;
      this.worker!.unref();
      for (const job of batch) job.reject(this.error((e as Error).message));
      queueMicrotask(() => this.pump());
    }
  }

  private answered(m: Reply | Done): void {
    const batch = this.inFlight ?? [];
    const settle = (r: Reply): void => {
      const job = batch[r.i];
      if (!job) return;
      job.settled = true;
      if (r.results) job.resolve(r.results);
      else job.reject(this.error(r.error ?? 'no answer', r.code));
    };
    if (!('done' in m)) return settle(m);
    m.replies.forEach(settle);
    this.inFlight = undefined;
    this.worker?.unref();
    let none: Error | undefined;
    for (const job of batch) if (!job.settled) job.reject((none ??= this.error('no answer')));
    this.pump();
    this.stopIfIdle();
  }

  /** The worker failed: its batch fails (with `everything`, what waits too: the file cannot be opened). */
  private lost(w: Worker, e: Error, everything: boolean): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.opening = false;
    // An error thrown in the worker may arrive as a plain object, without its message.
    const { message, code } = e as { message?: string; code?: string };
    const err = message?.startsWith('SQLite storage: ') ? e : this.error(message ?? code ?? String(e), code);
    this.failOpen(err); // nothing once it opened
    const failed = [...(this.inFlight ?? []), ...(everything ? this.waiting : [])];
    this.inFlight = undefined;
    if (everything) {
      this.waiting.length = 0;
      this.waitingBytes = 0;
    }
    for (const job of failed) job.reject(err);
    this.pump();
  }

  private stopIfIdle(): void {
    if (!this.closed || this.opening || this.inFlight || this.waiting.length > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = undefined;
    void w.terminate();
  }

  private error(message: string, code?: string): Error {
    if (code?.startsWith('SQLITE_BUSY')) return new SqliteBusyError(`${message} (another process holds the file's lock)`);
    return Object.assign(new Error(`SQLite storage: ${message}`), code ? { code } : {});
  }
}
