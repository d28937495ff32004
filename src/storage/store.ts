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
  /** An append-only archive per owner (./archive/); `limits` are per owner. */
  archive(host: string, store: string, limits?: ArchiveLimits): ArchiveStore;
  /** Wait for pending writes, then refuse new ones. */
  close(): Promise<void>;
  /** Archive journal writes so far, for the stats (backends with a journal: file). */
  journalWrites?(): JournalWrites;
}

/** Durable journal writes, and the entries they carried (one per owner and write: its new records). */
export interface JournalWrites {
  writes: number;
  entries: number;
}

/** Listing the users of a map store (clove migrate-storage copies every store). */
export interface MapListing {
  /** Users that may have a map in this store (some may be empty). */
  mapUsers(host: string, store: string): Promise<string[]>;
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

/** A payload as stored in an archive: opaque text (a serialised stanza) or bytes. */
export type ArchivePayload = string | Uint8Array;

/** One archived item. */
export interface ArchiveItem {
  /** Stable, unique within the owner's archive, opaque and URL-safe (22 characters). */
  id: string;
  /** Milliseconds since the epoch; never less than the previous item's (see ArchiveStore.append). */
  when: number;
  /** The other party, as given to append() (a full or bare JID); '' when none. */
  with: string;
  payload: ArchivePayload;
}

/**
 * A query in the shape of XEP-0313 with XEP-0059 paging. Filters (`with`, `start`, `end`,
 * `ids`) choose the result set; `after`/`before` choose a page inside it.
 */
export interface ArchiveQuery {
  /** A bare JID matches every item whose `with` has that bare JID; a full JID matches exactly. */
  with?: string;
  /** Items with `when` ≥ start (ms, inclusive). */
  start?: number;
  /** Items with `when` ≤ end (ms, inclusive). */
  end?: number;
  /** Only these ids (XEP-0313 §4.1.3 `ids`); unknown ids are ignored. */
  ids?: readonly string[];
  /** Items after this id. Unknown id: ArchiveItemNotFoundError. */
  after?: string;
  /** Items before this id; `true` = the last page (RSM `<before/>` with no id). */
  before?: string | true;
  /** Page size (0 = count only); capped at ARCHIVE_QUERY_MAX, which is also the default. */
  limit?: number;
}

/** A page of results, always oldest first. */
export interface ArchivePage {
  items: ArchiveItem[];
  /** Items matching the filters, ignoring after/before/limit (RSM `<count>`; exact). */
  count: number;
  /** Position of the page's first item among those `count` (RSM `<first index>`). */
  index: number;
  /** No more items in the paging direction (backwards for `before`, else forwards) — XEP-0313 `complete`. */
  complete: boolean;
}

/** What an owner's archive holds (XEP-0313 metadata: first and last item). */
export interface ArchiveMetadata {
  count: number;
  /** Bytes of the stored records (payload, `with` and framing). */
  bytes: number;
  first?: { id: string; when: number };
  last?: { id: string; when: number };
}

/** Per-owner quotas; an append past either is refused with ArchiveQuotaError. */
export interface ArchiveLimits {
  /** Items per owner (default ARCHIVE_DEFAULT_MAX_ITEMS). */
  maxItems?: number;
  /** Record bytes per owner (default ARCHIVE_DEFAULT_MAX_BYTES). */
  maxBytes?: number;
}

/** Items per owner when the caller sets no limit (Prosody's storage_archive_item_limit for internal storage). */
export const ARCHIVE_DEFAULT_MAX_ITEMS = 10_000;
/** Record bytes per owner when the caller sets no limit. */
export const ARCHIVE_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Largest page a query returns (and the page size when none is asked for). */
export const ARCHIVE_QUERY_MAX = 1000;
/** Largest payload one item may have, in bytes (twice the largest s2s stanza). */
export const ARCHIVE_PAYLOAD_MAX = 1024 * 1024;
/** Longest `with`, in UTF-8 bytes (a JID is at most 3 × 1023 bytes plus separators). */
export const ARCHIVE_WITH_MAX = 3071;

/**
 * An append-only archive per owner (a user's messages, a room's history). Items are kept in
 * the order appended; deletion only removes the oldest items (by age or count) or a whole owner.
 */
export interface ArchiveStore {
  /**
   * Append an item; resolves with its id once it is durable. `when` defaults to now and is
   * raised to the previous item's time if older, so time order is append order.
   * Throws ArchiveQuotaError when the owner's archive is full (nothing is dropped).
   * `queued` is called once the item's place in the owner's order is fixed (an append made
   * after that comes after it), at the latest when the promise resolves; never when it rejects.
   */
  append(owner: string, item: { with?: string; payload: ArchivePayload; when?: number }, queued?: () => void): Promise<string>;
  /** One page of the owner's items; an empty archive gives an empty page. */
  query(owner: string, q?: ArchiveQuery): Promise<ArchivePage>;
  /** One item by id, or undefined. */
  get(owner: string, id: string): Promise<ArchiveItem | undefined>;
  metadata(owner: string): Promise<ArchiveMetadata>;
  /** Delete the owner's whole archive (account deleted, room destroyed). */
  deleteOwner(owner: string): Promise<void>;
  /** Delete every owner's items older than `before` (ms, exclusive); resolves with how many went. */
  deleteOlderThan(before: number): Promise<number>;
  /** Delete the owner's oldest items until at most `keep` remain; resolves with how many went. */
  truncate(owner: string, keep: number): Promise<number>;
  /** Owners that have an archive in this store. */
  owners(): Promise<string[]>;
}

/** An append refused because the owner's archive is at its item or byte limit ("quota-limit" in Prosody). */
export class ArchiveQuotaError extends Error {
  override name = 'ArchiveQuotaError';
  readonly code = 'quota-limit';
  constructor(
    readonly owner: string,
    readonly limit: 'items' | 'bytes',
    readonly max: number,
  ) {
    super(`archive of '${owner}' is full (${limit} limit ${max})`);
  }
}

/** An after/before id that is not in the owner's archive (XEP-0313: item-not-found). */
export class ArchiveItemNotFoundError extends Error {
  override name = 'ArchiveItemNotFoundError';
  readonly code = 'item-not-found';
  constructor(readonly id: string) {
    super(`no archived item '${id}'`);
  }
}

/**
 * A write of the owner's records to its segment file failed (a disk error). The records are
 * durable in the store's journal and come back at the next start; until then the owner's
 * archive refuses every use with this error.
 */
export class ArchiveWriteError extends Error {
  override name = 'ArchiveWriteError';
  readonly code = 'internal-server-error';
  constructor(
    readonly owner: string,
    cause: unknown,
  ) {
    super(`archive of '${owner}': a segment write failed (${cause instanceof Error ? cause.message : String(cause)}); its records are kept in the journal and restored at the next start`, { cause });
  }
}

/**
 * A write refused at once because too much already waits for the disk or the database (it is
 * slow or unreachable); nothing was changed. Stanza handlers answer it with resource-constraint
 * (type wait): the peer may try again later.
 */
export class StorageBusyError extends Error {
  override name = 'StorageBusyError';
  readonly code = 'resource-constraint';
}

/** An append refused because the owner's writes are backlogged past their bound (the disk is too slow). */
export class ArchiveBusyError extends StorageBusyError {
  override name = 'ArchiveBusyError';
  constructor(readonly owner: string) {
    super(`archive of '${owner}' has too many writes waiting`);
  }
}
