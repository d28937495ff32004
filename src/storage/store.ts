// Storage as the rest of the server sees it: stores opened by host, name and shape.
// Values are JSON: what goes in comes back as JSON.parse(JSON.stringify(value)).

/** One value per user (accounts, vCards, …). */
export interface KeyValStore<T> {
  get(user: string): Promise<T | undefined>;
  /** Store a value; undefined deletes. Resolves once the value is durable. */
  set(user: string, value: T | undefined): Promise<void>;
  /** Users that currently have a value. */
  users(): Promise<string[]>;
}

/** A map of keys to values per user (roster items, private XML, …). */
export interface MapStore<T> {
  get(user: string, key: string): Promise<T | undefined>;
  /** Store one key; undefined deletes it. Resolves once the change is durable. */
  set(user: string, key: string, value: T | undefined): Promise<void>;
  /** The whole map ({} when the user has none). */
  getAll(user: string): Promise<Record<string, T>>;
  /** Replace the whole map; undefined or {} deletes it. */
  setAll(user: string, all: Record<string, T> | undefined): Promise<void>;
}

/** A storage backend; the configuration picks one. */
export interface StorageBackend {
  keyval<T>(host: string, store: string): KeyValStore<T>;
  map<T>(host: string, store: string): MapStore<T>;
  /** Wait for pending writes, then refuse new ones. */
  close(): Promise<void>;
}

/** Store names become directory names, so they are restricted to a safe alphabet. */
export function checkStoreName(store: string): void {
  if (!/^[a-z0-9_][a-z0-9_-]*$/.test(store)) throw new Error(`invalid store name '${store}'`);
}

/** Error thrown by writes after close(). */
export class StorageClosedError extends Error {
  override name = 'StorageClosedError';
  constructor() {
    super('storage is closed');
  }
}
