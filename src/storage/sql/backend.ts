// The SQL storage backend (storage = "sql"): every store shape in PostgreSQL (through a bounded
// pool, ./postgres.ts) or in SQLite (on a worker thread, ../sqlite/). Opening it connects and
// brings the schema up to date, so a wrong address, password, database or file stops the start
// with one line. Writes resolve once committed; close() waits for the writes under way, refuses
// new ones and lets the database go (reads after it are still answered, as the other backends
// answer them).
import { checkStoreName, type ArchiveLimits, type ArchiveStore, type KeyValStore, type MapListing, type MapStore, type StorageBackend } from '../store.js';
import { SqlArchives } from './archive.js';
import { SqlKeyValMaps } from './keyval-map.js';
import { ChangeQueues, type QueueLimits } from '../change-queue.js';
import type { ArchiveTables, KvMapTables } from './tables.js';

/** Where and how to connect, in Prosody's `sql = { … }` names: PostgreSQL or SQLite. */
export type SqlOptions = import('./pool.js').PostgresOptions | import('../sqlite/connection.js').SqliteOptions;

/** One database as the backend uses it. */
export interface SqlDatabase {
  kvMaps: KvMapTables;
  archives: ArchiveTables;
  /** Create or upgrade Clove's tables. */
  migrate(): Promise<void>;
  /** Once the writes are done: stop writing, keep answering reads without holding the process open. */
  close(): Promise<void>;
}

class SqlBackend implements StorageBackend, MapListing {
  private closed = false;
  private readonly writes = new Set<Promise<unknown>>();
  private readonly kvMaps: SqlKeyValMaps;
  private readonly archives: SqlArchives;

  constructor(
    private readonly db: SqlDatabase,
    limits?: QueueLimits,
  ) {
    const isClosed = (): boolean => this.closed;
    this.kvMaps = new SqlKeyValMaps(db.kvMaps, isClosed, new ChangeQueues(limits));
    this.archives = new SqlArchives({
      tables: db.archives,
      isClosed,
      track: (p) => {
        this.writes.add(p);
        void p.finally(() => this.writes.delete(p)).catch(() => undefined);
        return p;
      },
    });
  }

  async open(): Promise<void> {
    await this.db.migrate();
  }

  keyval<T>(host: string, store: string): KeyValStore<T> {
    this.check(host, store);
    return this.kvMaps.keyval<T>(host, store);
  }

  map<T>(host: string, store: string): MapStore<T> {
    this.check(host, store);
    return this.kvMaps.map<T>(host, store);
  }

  mapUsers(host: string, store: string): Promise<string[]> {
    this.check(host, store);
    return this.kvMaps.mapUsers(host, store);
  }

  archive(host: string, store: string, limits?: ArchiveLimits): ArchiveStore {
    this.check(host, store);
    return this.archives.store(host, store, limits);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.kvMaps.queues.idle();
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    await this.db.close();
  }

  private check(host: string, store: string): void {
    checkStoreName(store);
    if (host === '') throw new Error('empty host name');
  }
}

/**
 * Connect to the database of `options`, create or upgrade Clove's tables, and return the
 * backend; `limits` bound the keyval and map changes waiting for a commit (default QUEUE_DEFAULTS).
 * Only the driver asked for is loaded: `pg` or better-sqlite3.
 */
export async function openSqlBackend(options: SqlOptions, limits?: QueueLimits): Promise<StorageBackend & MapListing> {
  const db = options.driver === 'SQLite3'
    ? (await import('../sqlite/database.js')).sqliteDatabase(options)
    : (await import('./postgres.js')).postgresDatabase(options);
  const b = new SqlBackend(db, limits);
  try {
    await b.open();
  } catch (e) {
    await b.close().catch(() => undefined);
    throw e;
  }
  return b;
}
