// The SQL storage backend (storage = "sql"): every store shape in PostgreSQL through a bounded
// pool. Opening it connects and brings the schema up to date, so a wrong address, password or
// database stops the start with one line. Writes resolve once committed; close() waits for the
// writes under way, refuses new ones and closes the connections (reads after it use one
// short-lived connection, as the other backends still answer reads).
import { checkStoreName, type ArchiveLimits, type ArchiveStore, type KeyValStore, type MapListing, type MapStore, type StorageBackend } from '../store.js';
import { SqlArchives } from './archive.js';
import { SqlKeyValMaps } from './keyval-map.js';
import { ChangeQueues, type QueueLimits } from '../change-queue.js';
import { SqlPool, type SqlOptions } from './pool.js';
import { migrate } from './schema.js';

export type { SqlOptions } from './pool.js';

class SqlBackend implements StorageBackend, MapListing {
  private closed = false;
  private pool: SqlPool;
  private readonly writes = new Set<Promise<unknown>>();
  private readonly kvMaps: SqlKeyValMaps;
  private readonly archives: SqlArchives;

  constructor(
    private readonly options: SqlOptions,
    limits?: QueueLimits,
  ) {
    this.pool = new SqlPool(options);
    const db = (): SqlPool => this.pool;
    const isClosed = (): boolean => this.closed;
    this.kvMaps = new SqlKeyValMaps(db, isClosed, new ChangeQueues(limits));
    this.archives = new SqlArchives({
      db,
      isClosed,
      track: (p) => {
        this.writes.add(p);
        void p.finally(() => this.writes.delete(p)).catch(() => undefined);
        return p;
      },
    });
  }

  async open(): Promise<void> {
    await migrate(this.pool);
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
    const old = this.pool;
    this.pool = new SqlPool({ ...this.options, poolSize: 1 }, true);
    await old.end();
  }

  private check(host: string, store: string): void {
    checkStoreName(store);
    if (host === '') throw new Error('empty host name');
  }
}

/**
 * Connect to the database of `options`, create or upgrade Clove's tables, and return the
 * backend; `limits` bound the keyval and map changes waiting for a commit (default QUEUE_DEFAULTS).
 */
export async function openSqlBackend(options: SqlOptions, limits?: QueueLimits): Promise<StorageBackend & MapListing> {
  const b = new SqlBackend(options, limits);
  try {
    await b.open();
  } catch (e) {
    await b.close().catch(() => undefined);
    throw e;
  }
  return b;
}
