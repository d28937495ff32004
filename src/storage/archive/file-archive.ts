// The archive shape of the file backend: <data>/<host>/<store>/<owner>/ per owner (names
// encoded like every file name here, ../file-names.ts), opened on first use and kept in memory
// while used. Each store directory has one journal (./journal.ts) shared by its owners; the
// first use of a store after a crash writes what the journal holds to the owners' segments
// before anything else runs. Owners idle longest are dropped from memory first once the open owners' indexes
// pass the cache budget in bytes or count; their files stay and are read again when needed.
// Segment bytes of acknowledged appends are held per owner under one budget for the backend
// (./segment-writer.ts); an owner holding any is not idle.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { decodeName, isHashedName, storedName } from '../file-names.js';
import { isCode } from '../fs-sync.js';
import { StorageClosedError, type ArchiveLimits, type ArchiveStore, type JournalWrites } from '../store.js';
import { FileOwner } from './file-owner.js';
import { Journal, JOURNAL_MAX } from './journal.js';
import { resolveLimits } from './owner.js';
import { WriteBehind, type WriteBehindOptions } from './segment-writer.js';
import { oldestTime, readMeta } from './segments.js';

/** Bytes of index memory kept for owners not in use, across all archives of a backend. */
export const ARCHIVE_CACHE_BYTES = 64 * 1024 * 1024;
/** Owners kept open at once (each may hold up to 9 file handles). */
export const ARCHIVE_CACHE_OWNERS = 256;

/** Options of the archive cache. */
export interface ArchiveCacheOptions {
  cacheBytes?: number;
  cacheOwners?: number;
  /** Bytes of a store's journal after which it is checkpointed and emptied. */
  journalBytes?: number;
  /** Bounds and delay of segment write-behind. */
  writeBehind?: WriteBehindOptions;
}

/** Every open owner of one file backend, least recently used first. */
export class FileArchives {
  /** By store directory and owner name. */
  private readonly owners = new Map<string, FileOwner>();
  /** Deletions in progress by directory; a new open of the directory waits for it. */
  private readonly deleting = new Map<string, Promise<void>>();
  /** By store directory: its journal, and the recovery every operation waits for. */
  private readonly journals = new Map<string, { journal: Journal; ready: Promise<void> }>();
  private closed = false;
  /** Sum of the open owners' memory as last counted (each owner's share in its countedBytes). */
  private ownerBytes = 0;
  private readonly writeBehind: WriteBehind;
  private readonly journalBytes: number;
  private readonly cacheBytes: number;
  private readonly cacheOwners: number;

  constructor(opts: ArchiveCacheOptions = {}) {
    this.cacheBytes = opts.cacheBytes ?? ARCHIVE_CACHE_BYTES;
    this.cacheOwners = opts.cacheOwners ?? ARCHIVE_CACHE_OWNERS;
    this.journalBytes = opts.journalBytes ?? JOURNAL_MAX;
    this.writeBehind = new WriteBehind(opts.writeBehind);
  }

  /** Journal writes and the owner batches they carried, over every store directory so far. */
  journalWrites(): JournalWrites {
    const sum = { writes: 0, entries: 0 };
    for (const { journal } of this.journals.values()) {
      sum.writes += journal.written.writes;
      sum.entries += journal.written.entries;
    }
    return sum;
  }

  /** The journal of a store directory, recovered (its records replayed) once at first use. */
  private journalOf(storeDir: string): { journal: Journal; ready: Promise<void> } {
    let j = this.journals.get(storeDir);
    if (!j) {
      const journal = new Journal(storeDir, this.journalBytes);
      j = { journal, ready: this.recover(storeDir, journal) };
      this.journals.set(storeDir, j);
    }
    return j;
  }

  /** Write the records a crash left in the journal to their owners' segments, then empty it. */
  private async recover(storeDir: string, journal: Journal): Promise<void> {
    const found = await journal.recover();
    for (const [dir, records] of found) {
      const meta = await readMeta(path.join(storeDir, dir)).catch(() => undefined);
      if (meta === undefined) continue; // deleted: nothing to bring back
      const o = this.owner(storeDir, meta.owner, journal);
      await o.replay(records);
    }
    if (found.size > 0) await journal.clear();
  }

  /** The ArchiveStore of a store directory. */
  store(storeDir: string, limits: ArchiveLimits | undefined): ArchiveStore {
    const lim = resolveLimits(limits);
    const { journal, ready } = this.journalOf(storeDir);
    const run = async <R>(owner: string, f: (o: FileOwner) => Promise<R>): Promise<R> => {
      await ready;
      const o = this.owner(storeDir, owner, journal);
      try {
        return await f(o);
      } finally {
        // Reads still work after close(), but leave no owner (or file handle) open behind them.
        if (this.closed && o.idle()) {
          if (this.owners.get(`${storeDir}\0${owner}`) === o) this.forget(`${storeDir}\0${owner}`, o);
          void o.closeHandles();
        } else this.evict(`${storeDir}\0${owner}`, o);
      }
    };
    return {
      append: (owner, item, queued) => (this.closed ? Promise.reject(new StorageClosedError()) : run(owner, (o) => o.append(item, lim, queued))),
      query: (owner, q = {}) => run(owner, (o) => o.query(q)),
      get: (owner, id) => run(owner, (o) => o.get(id)),
      metadata: (owner) => run(owner, (o) => o.metadata()),
      deleteOwner: async (owner) => {
        if (this.closed) throw new StorageClosedError();
        await ready;
        const o = this.owner(storeDir, owner, journal);
        this.forget(`${storeDir}\0${owner}`, o);
        const p = o.destroy().finally(() => {
          if (this.deleting.get(o.dir) === p) this.deleting.delete(o.dir);
        });
        this.deleting.set(o.dir, p);
        await p;
      },
      deleteOlderThan: async (before) => {
        if (this.closed) throw new StorageClosedError();
        await ready;
        let n = 0;
        for (const owner of await this.ownersOf(storeDir)) {
          // An owner not in memory whose oldest record is recent enough is not read at all.
          if (!this.owners.has(`${storeDir}\0${owner}`)) {
            const oldest = await oldestTime(path.join(storeDir, storedName(owner, 0).base));
            if (oldest !== undefined && oldest >= before) continue;
          }
          n += await run(owner, (o) => o.dropOldest({ before }));
        }
        return n;
      },
      truncate: (owner, keep) => (this.closed ? Promise.reject(new StorageClosedError()) : run(owner, (o) => o.dropOldest({ keep }))),
      owners: () => this.ownersOf(storeDir),
    };
  }

  /** The open owner (most recently used now), opening it if needed. */
  private owner(storeDir: string, owner: string, journal: Journal): FileOwner {
    if (owner === '') throw new Error('empty owner name');
    const key = `${storeDir}\0${owner}`;
    let o = this.owners.get(key);
    if (o) this.owners.delete(key);
    else {
      const dir = path.join(storeDir, storedName(owner, 0).base);
      o = new FileOwner(dir, owner, this.deleting.get(dir) ?? Promise.resolve(), journal, this.writeBehind);
    }
    this.owners.set(key, o);
    return o;
  }

  /** Take an owner out of the cache (and its memory out of the running total). */
  private forget(key: string, o: FileOwner): void {
    this.owners.delete(key);
    this.ownerBytes -= o.countedBytes;
    o.countedBytes = 0;
  }

  /**
   * Count `used`'s memory again (only an owner's own operations change it), then drop idle
   * owners, least recently used first, while over the budget. The most recently used one stays
   * even if it alone is over: dropping it would mean reading it all again next time.
   */
  private evict(usedKey: string, used: FileOwner): void {
    if (this.owners.get(usedKey) === used) {
      const now = used.memoryBytes();
      this.ownerBytes += now - used.countedBytes;
      used.countedBytes = now;
    }
    let left = this.owners.size;
    for (const [key, o] of this.owners) {
      if (--left === 0 || (this.ownerBytes <= this.cacheBytes && this.owners.size <= this.cacheOwners)) break;
      if (!o.idle()) continue;
      this.forget(key, o);
      void o.closeHandles();
    }
  }

  /** Owners with an archive in a store directory (those with meta.json). */
  private async ownersOf(storeDir: string): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(storeDir);
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return [];
      throw e;
    }
    const out: string[] = [];
    for (const e of entries) {
      const meta = await readMeta(path.join(storeDir, e)).catch(() => undefined);
      if (meta !== undefined) out.push(isHashedName(e) ? meta.owner : decodeName(e));
    }
    return out.sort();
  }

  /** Wait for queued appends and deletions, close every file, and refuse new writes. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.owners.values()].map((o) => o.drain()));
    await Promise.allSettled(this.deleting.values());
    await Promise.allSettled([...this.journals.values()].map((j) => j.ready));
    // Checkpoint first (it syncs the owners' segments through their open handles), then close.
    await Promise.allSettled([...this.journals.values()].map((j) => j.journal.close()));
    await Promise.allSettled([...this.owners.values()].map((o) => o.closeHandles()));
    this.writeBehind.stop();
    this.owners.clear();
    this.ownerBytes = 0;
    this.journals.clear();
  }
}
