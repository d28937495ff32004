// In-memory storage backend for tests and throwaway servers. Values are kept as JSON text so
// they behave exactly like the file backend's: callers never share objects with the store.

import { checkStoreName, StorageClosedError, type ArchiveLimits, type ArchiveStore, type KeyValStore, type MapListing, type MapStore, type StorageBackend } from './store.js';
import { memoryArchive, type MemoryArchiveTable } from './archive/memory-archive.js';

function serialise(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new TypeError('value cannot be stored as JSON');
  return s;
}

class MemoryBackend implements StorageBackend, MapListing {
  private readonly stores = new Map<string, Map<string, string>>();
  private readonly archives = new Map<string, MemoryArchiveTable>();
  private closed = false;

  private table(host: string, store: string): Map<string, string> {
    checkStoreName(store);
    const id = `${host}\0${store}`;
    let t = this.stores.get(id);
    if (!t) this.stores.set(id, (t = new Map()));
    return t;
  }

  private put(t: Map<string, string>, user: string, data: string | undefined): void {
    if (this.closed) throw new StorageClosedError();
    if (user === '') throw new Error('empty user name');
    if (data === undefined) t.delete(user);
    else t.set(user, data);
  }

  keyval<T>(host: string, store: string): KeyValStore<T> {
    const t = this.table(host, store);
    return {
      get: async (user) => {
        const s = t.get(user);
        return s === undefined ? undefined : (JSON.parse(s) as T);
      },
      set: async (user, value) => this.put(t, user, value === undefined ? undefined : serialise(value)),
      users: async () => [...t.keys()].sort(),
    };
  }

  map<T>(host: string, store: string): MapStore<T> {
    const t = this.table(host, store);
    const getAll = async (user: string): Promise<Record<string, T>> => {
      const s = t.get(user);
      return s === undefined ? {} : (JSON.parse(s) as Record<string, T>);
    };
    const setAll = async (user: string, all: Record<string, T> | undefined): Promise<void> =>
      this.put(t, user, all === undefined || Object.keys(all).length === 0 ? undefined : serialise(all));
    return {
      get: async (user, key) => {
        const all = await getAll(user);
        return Object.hasOwn(all, key) ? all[key] : undefined;
      },
      getAll,
      set: async (user, key, value) => {
        // No await between read and write: updates to one map cannot interleave.
        const s = t.get(user);
        const all = s === undefined ? {} : (JSON.parse(s) as Record<string, T>);
        if (value === undefined) delete all[key];
        else Object.defineProperty(all, key, { value, enumerable: true, writable: true, configurable: true });
        return setAll(user, all);
      },
      setAll,
    };
  }

  async mapUsers(host: string, store: string): Promise<string[]> {
    return [...this.table(host, store).keys()].sort();
  }

  archive(host: string, store: string, limits?: ArchiveLimits): ArchiveStore {
    checkStoreName(store);
    const id = `${host}\0${store}`;
    let t = this.archives.get(id);
    if (!t) this.archives.set(id, (t = new Map()));
    return memoryArchive(t, limits, () => this.closed);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A backend that keeps everything in memory (lost at exit). */
export function createMemoryBackend(): StorageBackend & MapListing {
  return new MemoryBackend();
}
