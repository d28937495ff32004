// What the SQL backend needs of a database, one method per statement or transaction, so the
// store logic (./keyval-map.ts, ./archive.ts: queues, validation, ids, paging) is written once
// and each database gives only its SQL: PostgreSQL (./postgres-tables.ts) and SQLite
// (../sqlite/tables.ts). Every write method resolves once its transaction is committed.

/** The keyval and map tables (clove_keyval, clove_map). Values are JSON text. */
export interface KvMapTables {
  readKv(host: string, store: string, user: string): Promise<string | null>;
  /** Set (`value` JSON text) or delete (null) one keyval value. */
  writeKv(host: string, store: string, user: string, value: string | null): Promise<void>;
  kvUsers(host: string, store: string): Promise<string[]>;
  /** A user's map rows, in the order their keys were first set. */
  readMap(host: string, store: string, user: string): Promise<Array<{ key: string; value: string }>>;
  /** One transaction: all rows deleted first when `replace`, else the `gone` keys; then `up` upserted in order. */
  writeMap(host: string, store: string, user: string, change: { replace: boolean; gone: string[]; up: Array<[string, string]> }): Promise<void>;
  mapUsers(host: string, store: string): Promise<string[]>;
}

/** One archived row. `kind` 0: the payload is UTF-8 text; 1: bytes. */
export interface ArchiveRow {
  seq: number;
  when: number;
  with: string;
  kind: number;
  payload: Uint8Array;
}

/** A new row for ArchiveTables.append, with the owner's quotas. */
export interface ArchiveAppend {
  with: string;
  /** The bare JID of `with` (a bare `with` filter matches it). */
  bare: string;
  kind: number;
  payload: Uint8Array;
  size: number;
  when: number;
  maxItems: number;
  maxBytes: number;
}

/** The filters of a query, with sequence numbers for the ids. */
export interface ArchiveFilter {
  /** `full`: the whole `with` matches; else its bare JID. */
  with?: { jid: string; full: boolean };
  start?: number;
  end?: number;
  ids?: number[];
  /** Rows strictly after / before these sequence numbers (-1 and MAX_SAFE_INTEGER when unset). */
  after: number;
  before: number;
  limit: number;
  /** The newest `limit` rows before `before` instead of the oldest after `after`. */
  backwards: boolean;
  /** Sequence numbers that must exist (the after/before ids asked for). */
  bounds: number[];
}

/** What one query read, in one consistent snapshot. */
export interface ArchiveQueryResult {
  /** Which of `bounds` exist. */
  found: number[];
  /** Rows matching the filters; of them at or before `after`; before `before`. */
  total: number;
  nfrom: number;
  nto: number;
  /** The page, oldest first. */
  rows: ArchiveRow[];
}

/** The archive tables (clove_archive_owner, clove_archive). */
export interface ArchiveTables {
  /** The owner's id key; with `create`, made from it when the owner has none yet. */
  ownerKey(host: string, store: string, owner: string, create?: Uint8Array): Promise<Uint8Array | undefined>;
  /** Append under the quotas: the new row's sequence number, or undefined when refused (a quota, or no owner row). */
  append(host: string, store: string, owner: string, row: ArchiveAppend): Promise<number | undefined>;
  /** The owner's item and byte counts, or undefined when it has no owner row. */
  counts(host: string, store: string, owner: string): Promise<{ items: number; bytes: number } | undefined>;
  query(host: string, store: string, owner: string, f: ArchiveFilter): Promise<ArchiveQueryResult>;
  get(host: string, store: string, owner: string, seq: number): Promise<ArchiveRow | undefined>;
  /** Counts, id key and the first and last rows; undefined when the owner has no rows. */
  metadata(host: string, store: string, owner: string): Promise<{ items: number; bytes: number; idKey: Uint8Array; first: { seq: number; when: number }; last: { seq: number; when: number } } | undefined>;
  /** The owner's rows and owner row, in one transaction. */
  deleteOwner(host: string, store: string, owner: string): Promise<void>;
  /**
   * Rows older than `before` over every owner, counts updated and emptied owner rows dropped.
   * PostgreSQL does it in one transaction; SQLite in chunks of 5,000 rows, each one transaction,
   * so a failure part-way leaves earlier chunks done (expiring again finishes the job).
   */
  deleteOlderThan(host: string, store: string, before: number): Promise<{ deleted: number; emptied: string[] }>;
  /** The owner's oldest rows past `keep`, counts updated (an emptied owner row dropped), in one transaction. */
  truncate(host: string, store: string, owner: string, keep: number): Promise<{ deleted: number; emptied: boolean }>;
  /** Owners with at least one row. */
  owners(host: string, store: string): Promise<string[]>;
}
