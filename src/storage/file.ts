// File storage backend: one JSON file per host, store and user, written atomically.
// Layout (names encoded like Prosody's datamanager): <data>/<host>/<store>/<user>.json; a name
// too long for a file name is stored under a hash (./file-names.ts).
//
// Every write goes to <file>.<random>.tmp, is fsynced, renamed over the target, and the
// directory is fsynced, so a crash at any instant leaves either the old or the new file and
// a set() that resolved survives. Writes to one file are serialised and coalesced: while one
// is in flight, later values queue and only the newest is written next (./change-queue.ts,
// whose byte bound over the backend they share with the map logs).

import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { checkStoreName, StorageClosedError, type ArchiveLimits, type ArchiveStore, type JournalWrites, type KeyValStore, type MapListing, type MapStore, type StorageBackend } from './store.js';
import { FileArchives, type ArchiveCacheOptions } from './archive/file-archive.js';
import { decodeName, isHashedName, longNameOf, storedName, unwrapValue, wrapValue } from './file-names.js';
import { isCode, makeDirDurable, syncDir } from './fs-sync.js';
import { FileMaps } from './file-map.js';
import { ChangeQueue, ChangeQueues, type QueueLimits } from './change-queue.js';
import { FileReadCache } from './file-read-cache.js';

export { decodeName, encodeName } from './file-names.js';

const EXT = '.json';
const TMP_EXT = '.tmp';
/** A map's change log beside its base file (./file-map.ts). */
const LOG_EXT = '.log';
/** Bytes a user's file name gets beyond its stored name: EXT, then `.<16 hex>.tmp` while written. */
const RESERVED = EXT.length + 1 + 16 + TMP_EXT.length;
/** Temp files older than this are debris from a crash; younger ones may be another process's write in flight. */
export const STALE_TMP_MS = 60_000;
const CLEANUP_INTERVAL_MS = 60_000;

/** Write-ahead state of one file: its values not yet durable (serialised JSON, null = deleted), newest last. */
interface FileState {
  dir: string;
  name: string; // encoded user
  values: ChangeQueue<string | null>;
}

class FileBackend implements StorageBackend, MapListing {
  private readonly files = new Map<string, FileState>();
  /** Recently read files, and files known not to exist, valid while their directory is watched (./file-read-cache.ts). */
  private readonly readCache = new FileReadCache();
  private readonly dirs = new Map<string, Promise<void>>();
  private readonly lastCleanup = new Map<string, number>();
  private readonly cleanups = new Set<Promise<void>>();
  private readonly locks = new Map<string, Promise<void>>();
  private closed = false;
  private readonly archives: FileArchives;
  private readonly maps: FileMaps;
  /** The byte bounds of writes waiting for the disk, keyval files and map logs together. */
  private readonly queues: ChangeQueues;

  constructor(
    private readonly dataPath: string,
    archiveCache?: ArchiveCacheOptions,
    queueLimits?: QueueLimits,
  ) {
    this.archives = new FileArchives(archiveCache);
    this.queues = new ChangeQueues(queueLimits);
    this.maps = new FileMaps({
      read: (file) => this.read(file),
      // A compaction's base is counted as nothing: it is refused never, and held under the map's lock.
      write: (file, data) => this.write(file, data, 0),
      ensureDir: (dir) => this.ensureDir(dir),
      lock: (key, f) => this.withLock(key, f),
      invalidate: (file) => this.forget(file),
      isClosed: () => this.closed,
    }, this.queues);
  }

  keyval<T>(host: string, store: string): KeyValStore<T> {
    const dir = this.storeDir(host, store);
    return {
      get: async (user) => {
        const f = this.file(dir, user);
        return parse<T>(await this.read(f.path), f);
      },
      set: async (user, value) => {
        const f = this.file(dir, user);
        return this.write(f.path, value === undefined ? null : wrapValue(value, f.long));
      },
      users: () => this.users(dir),
    };
  }

  map<T>(host: string, store: string): MapStore<T> {
    const dir = this.storeDir(host, store);
    return this.maps.store<T>((user) => {
      const f = this.file(dir, user);
      return { base: f.path, log: f.path.slice(0, -EXT.length) + LOG_EXT, ...(f.long !== undefined ? { long: f.long } : {}) };
    });
  }

  /** Users with a map base file, or only a change log (a map never compacted yet). */
  async mapUsers(host: string, store: string): Promise<string[]> {
    const dir = this.storeDir(host, store);
    const users = new Set(await this.users(dir));
    try {
      for (const e of await readdir(dir)) {
        const name = e.slice(0, -LOG_EXT.length);
        if (e.endsWith(LOG_EXT) && !isHashedName(name)) users.add(decodeName(name));
      }
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    return [...users].sort();
  }

  archive(host: string, store: string, limits?: ArchiveLimits): ArchiveStore {
    return this.archives.store(this.storeDir(host, store), limits);
  }

  journalWrites(): JournalWrites {
    return this.archives.journalWrites();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.readCache.close();
    await this.archives.close();
    await this.queues.idle();
    while (this.cleanups.size > 0) await Promise.allSettled([...this.cleanups]);
  }

  private storeDir(host: string, store: string): string {
    checkStoreName(store);
    if (host === '') throw new Error('empty host name');
    return path.join(this.dataPath, storedName(host, 0).base, store);
  }

  private file(dir: string, user: string): StoredFile {
    if (user === '') throw new Error('empty user name');
    const name = storedName(user, RESERVED);
    return { path: path.join(dir, name.base + EXT), ...(name.long !== undefined ? { long: name.long } : {}) };
  }

  /** The newest value written or queued, as JSON text; null when there is none. */
  private read(file: string): Promise<string | null> {
    const st = this.files.get(file);
    if (st) return Promise.resolve(st.values.latest() ?? null);
    return this.readCache.read(file);
  }

  private forget(file: string): void {
    this.readCache.forget(file);
  }

  /**
   * Queue `data` for `file` (null deletes it); resolves once durable, rejects with
   * StorageBusyError past the backend's byte bound (`bytes`: what it counts, default its length).
   */
  private write(file: string, data: string | null, bytes = data?.length ?? 0): Promise<void> {
    if (this.closed) return Promise.reject(new StorageClosedError());
    this.forget(file);
    let st = this.files.get(file);
    if (!st) {
      const dir = path.dirname(file);
      const mine: FileState = {
        dir,
        name: path.basename(file, EXT),
        // Each batch writes only its newest value.
        values: new ChangeQueue<string | null>(this.queues, {
          write: (batch) => this.persist(dir, file, batch[batch.length - 1] as string | null),
          // Nothing queued: the disk now holds the newest value (or the write failed and reads
          // should see what the disk really has).
          emptied: () => {
            if (this.files.get(file) === mine) this.files.delete(file);
          },
        }, true),
      };
      this.files.set(file, (st = mine));
    }
    const done = st.values.add(data, bytes);
    if (st.values.empty && this.files.get(file) === st) this.files.delete(file); // refused into a new queue
    return done;
  }

  private async persist(dir: string, file: string, data: string | null): Promise<void> {
    if (data === null) {
      try {
        await unlink(file);
      } catch (e) {
        if (isCode(e, 'ENOENT', 'ENOTDIR')) return;
        throw e;
      }
      await syncDir(dir);
      return;
    }
    await this.ensureDir(dir);
    this.maybeCleanup(dir);
    const tmp = `${file}.${randomBytes(8).toString('hex')}${TMP_EXT}`;
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await syncDir(dir);
  }

  /** Create a directory once per process, fsyncing the parents of every level created. */
  private ensureDir(dir: string): Promise<void> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = makeDirDurable(dir);
      p.then(() => this.readCache.dirCreated(dir), () => this.dirs.delete(dir));
      this.dirs.set(dir, p);
    }
    return p;
  }

  /** Remove crash debris (stale temp files) on the first write to a directory, then now and then. */
  private maybeCleanup(dir: string): void {
    const now = Date.now();
    if (now - (this.lastCleanup.get(dir) ?? -Infinity) < CLEANUP_INTERVAL_MS) return;
    this.lastCleanup.set(dir, now);
    const c = removeStaleTmp(dir, now)
      .catch(() => undefined) // best effort: debris is ignored by reads anyway
      .finally(() => this.cleanups.delete(c));
    this.cleanups.add(c);
  }

  private async users(dir: string): Promise<string[]> {
    const names = new Set<string>();
    try {
      for (const e of await readdir(dir)) if (e.endsWith(EXT)) names.add(e.slice(0, -EXT.length));
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    for (const st of this.files.values()) {
      if (st.dir !== dir) continue;
      if (st.values.latest() === null) names.delete(st.name);
      else names.add(st.name);
    }
    const out: string[] = [];
    for (const n of names) {
      if (!isHashedName(n)) out.push(decodeName(n));
      else {
        // A hashed file carries its real name; read() sees queued writes too.
        const long = await this.read(path.join(dir, n + EXT)).then((t) => (t === null ? undefined : longNameOf(JSON.parse(t))), () => undefined);
        if (long !== undefined) out.push(long);
      }
    }
    return out.sort();
  }

  private async withLock<R>(key: string, f: () => Promise<R>): Promise<R> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mine = prev.then(() => gate);
    this.locks.set(key, mine);
    await prev;
    try {
      return await f();
    } finally {
      release();
      if (this.locks.get(key) === mine) this.locks.delete(key);
    }
  }
}

async function removeStaleTmp(dir: string, now: number): Promise<void> {
  for (const e of await readdir(dir)) {
    if (!e.endsWith(TMP_EXT)) continue;
    const p = path.join(dir, e);
    try {
      if (now - (await stat(p)).mtimeMs > STALE_TMP_MS) await unlink(p);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  }
}

/** A user's file: its path, and the real name when the file name is a hash of it. */
interface StoredFile {
  path: string;
  long?: string;
}

function parse<T>(data: string | null, file: StoredFile): T | undefined {
  if (data === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (e) {
    throw new Error(`${file.path}: not valid JSON`, { cause: e });
  }
  return unwrapValue<T>(parsed, file.long);
}

/**
 * A backend storing one JSON file per host, store and user (and a directory per archive owner)
 * under dataPath; `queueLimits` bound the map changes waiting for the disk (default QUEUE_DEFAULTS).
 */
export function createFileBackend(dataPath: string, archiveCache?: ArchiveCacheOptions, queueLimits?: QueueLimits): StorageBackend & MapListing {
  return new FileBackend(dataPath, archiveCache, queueLimits);
}
