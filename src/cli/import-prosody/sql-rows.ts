// The rows of Prosody's SQL storage (mod_storage_sql) that `clove import-prosody --from-sql`
// reads, and where they come from: Prosody's `sql` option names PostgreSQL (read through `pg`,
// ./postgres-rows.ts) or SQLite3, Prosody's default driver (its database file read through sql.js,
// ./sqlite-rows.ts). MySQL is not read.
import { isAbsolute, resolve } from 'node:path';
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../config/errors.js';
import { sqlSettings, type SqlSettings } from '../../config/sql.js';

/** A row of the `prosody` table: one key of a user's keyval store. */
export interface KeyvalRow {
  user: string;
  store: string;
  key: string;
  type: string;
  value: string;
}

/** A row of the `prosodyarchive` table: one archived item. */
export interface ArchiveRow extends KeyvalRow {
  /** Seconds since the epoch. */
  when: number;
  with: string;
}

/** Prosody's tables, read one host at a time. */
export interface ProsodyRows {
  /** What the database is, for messages (never a password). */
  readonly label: string;
  /** Which of Prosody's two tables exist. */
  tables(): Promise<{ keyval: boolean; archive: boolean }>;
  /** The `prosody` rows of `host` in `stores`, ordered by store and user. */
  keyval(host: string, stores: readonly string[]): Promise<KeyvalRow[]>;
  /** The `prosodyarchive` rows of `host` in `stores`, ordered by store, user and sort_id. */
  archive(host: string, stores: readonly string[]): Promise<ArchiveRow[]>;
  close(): Promise<void>;
}

/** Where Prosody's SQL storage is, from its config. */
export type ProsodySqlSource = { driver: 'PostgreSQL'; settings: SqlSettings } | { driver: 'SQLite3'; file: string };

/** Prosody's data directory when its config sets no data_path (Debian's and most packages' build). */
export const PROSODY_DEFAULT_DATA_PATH = '/var/lib/prosody';

/**
 * The SQL storage a Prosody config uses: its global `sql` option, or Prosody's default
 * `{ driver = "SQLite3"; database = "prosody.sqlite" }` when it sets none. A relative SQLite
 * database is in Prosody's data_path (a relative data_path is taken from the config file's
 * directory; /var/lib/prosody when unset).
 */
export function prosodySqlSource(prosody: Config): ProsodySqlSource {
  const found = prosody.lookup('sql');
  const t = found?.value;
  const fields = typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Record<string, unknown>) : undefined;
  const driver = found === undefined ? 'SQLite3' : fields?.driver;
  if (typeof driver !== 'string' || !/^sqlite3?$/i.test(driver)) return { driver: 'PostgreSQL', settings: sqlSettings(prosody) };
  const fail = (what: string): never => {
    throw new ConfigError(prosody.file, found?.line ?? 0, what, 'sql');
  };
  const database = fields?.database ?? 'prosody.sqlite';
  if (typeof database !== 'string' || database === '') return fail('sql.database must be the SQLite database file');
  if (database === ':memory:') return fail('sql.database ":memory:" keeps nothing: there is nothing to import');
  if (isAbsolute(database)) return { driver: 'SQLite3', file: database };
  const dataPath = prosody.lookup('data_path')?.value;
  return { driver: 'SQLite3', file: resolve(typeof dataPath === 'string' ? dataPath : PROSODY_DEFAULT_DATA_PATH, database) };
}

/** Open the rows of `source` (the SQLite reader is loaded only when it is needed). */
export async function openProsodyRows(source: ProsodySqlSource): Promise<ProsodyRows> {
  if (source.driver === 'SQLite3') return (await import('./sqlite-rows.js')).openSqliteRows(source.file);
  return (await import('./postgres-rows.js')).openPostgresRows(source.settings);
}
