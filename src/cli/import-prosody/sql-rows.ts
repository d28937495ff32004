// The rows of Prosody's SQL storage (mod_storage_sql) that `clove import-prosody --from-sql`
// reads, and where they come from: Prosody's `sql` option names PostgreSQL (read through `pg`,
// ./postgres-rows.ts) or SQLite3, Prosody's default driver (its database file read through sql.js,
// ./sqlite-rows.ts). MySQL is not read.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../config/errors.js';
import { isSqliteDriver, postgresSettings, type PostgresSettings } from '../../config/sql.js';

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
  /** Rows Prosody holds for this store and user (more than were read when the newest were kept). */
  total: number;
}

/** Why Prosody's database cannot be read (the message names it and what to do). */
export class ProsodyDatabaseError extends Error {
  override name = 'ProsodyDatabaseError';
}

/** Prosody's tables, read one host at a time. */
export interface ProsodyRows {
  /** What the database is, for messages (never a password). */
  readonly label: string;
  /** Which of Prosody's two tables exist. */
  tables(): Promise<{ keyval: boolean; archive: boolean }>;
  /** The `prosody` rows of `host` in `stores`, ordered by store and user. */
  keyval(host: string, stores: readonly string[]): Promise<KeyvalRow[]>;
  /**
   * The `prosodyarchive` rows of `host` in `stores`, ordered by store, user and sort_id, handed to
   * `page` a page at a time: the next page is read once `page` has resolved. Of the 'archive'
   * store only each user's newest `archiveMax` rows (what Clove would keep of more).
   */
  archive(host: string, stores: readonly string[], archiveMax: number, page: (rows: ArchiveRow[]) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** Where Prosody's SQL storage is, from its config. */
export type ProsodySqlSource = { driver: 'PostgreSQL'; settings: PostgresSettings } | { driver: 'SQLite3'; file: string };

/** Prosody's data directory when its config sets no data_path (Debian's and most packages' build). */
export const PROSODY_DEFAULT_DATA_PATH = '/var/lib/prosody';

/**
 * The SQL storage a Prosody config (loaded with `foreign: true`) uses: its global `sql` option,
 * or Prosody's default `{ driver = "SQLite3"; database = "prosody.sqlite" }` when it sets none
 * but stores something in "sql". A relative SQLite database is in Prosody's data_path (a relative
 * data_path is taken from the config file's directory; /var/lib/prosody when unset).
 */
export function prosodySqlSource(prosody: Config): ProsodySqlSource {
  const found = prosody.lookup('sql');
  if (found === undefined && !usesSql(prosody)) {
    const storage = prosody.lookup('storage');
    const said = storage && typeof storage.value === 'string' ? `storage = "${storage.value}"` : 'no storage option';
    throw new ConfigError(storage?.file ?? prosody.file, storage?.line ?? 0, `Prosody keeps its data in files here (${said}, no sql option): import its data directory instead (clove import-prosody DATA_DIR)`, 'storage');
  }
  const t = found?.value;
  const fields = typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Record<string, unknown>) : undefined;
  const driver = found === undefined ? 'SQLite3' : fields?.driver;
  const fail = (what: string): never => {
    throw new ConfigError(prosody.file, found?.line ?? 0, what, 'sql');
  };
  if (typeof driver === 'string' && /^mysql$/i.test(driver)) fail('sql.driver "MySQL" is not read: convert the data to Prosody\'s files with prosody-migrator and import that directory (clove import-prosody DATA_DIR)');
  if (!isSqliteDriver(driver)) return { driver: 'PostgreSQL', settings: postgresSettings(prosody) };
  const database = fields?.database ?? 'prosody.sqlite';
  if (typeof database !== 'string' || database === '') return fail('sql.database must be the SQLite database file');
  if (database === ':memory:') return fail('sql.database ":memory:" keeps nothing: there is nothing to import');
  if (isAbsolute(database)) return { driver: 'SQLite3', file: database };
  const dataPath = prosody.lookup('data_path')?.value;
  const dataDir = typeof dataPath === 'string' ? resolve(dirname(resolve(prosody.file)), dataPath) : PROSODY_DEFAULT_DATA_PATH;
  return { driver: 'SQLite3', file: resolve(dataDir, database) };
}

/** Whether Prosody's `storage` or `default_storage` sends any store to "sql" (a table maps stores to backends). */
function usesSql(prosody: Config): boolean {
  const sql = (v: unknown): boolean => v === 'sql' || (typeof v === 'object' && v !== null && Object.values(v).includes('sql'));
  return sql(prosody.lookup('storage')?.value) || sql(prosody.lookup('default_storage')?.value);
}

/** Open the rows of `source` (the SQLite reader is loaded only when it is needed). */
export async function openProsodyRows(source: ProsodySqlSource): Promise<ProsodyRows> {
  if (source.driver === 'SQLite3') return (await import('./sqlite-rows.js')).openSqliteRows(source.file);
  return (await import('./postgres-rows.js')).openPostgresRows(source.settings);
}
