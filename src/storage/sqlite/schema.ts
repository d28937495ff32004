// The SQLite database's tables, created and upgraded at start, as ../sql/schema.ts does for
// PostgreSQL: the same tables and columns in SQLite's types. A map's rows keep their order by
// rowid (an upsert keeps a row's rowid; a new row gets a larger one). Each migration is written
// so that running it twice changes nothing (two servers starting on one file may both run it),
// and runs in one transaction with the version it gives recorded in clove_schema.
import type { SqliteConnection } from './connection.js';

/** Migrations in order; index + 1 is the schema version each one gives; one statement per entry. */
const MIGRATIONS: ReadonlyArray<readonly string[]> = [
  [
    `CREATE TABLE IF NOT EXISTS clove_keyval (
       host text NOT NULL, store text NOT NULL, username text NOT NULL, value text NOT NULL,
       PRIMARY KEY (host, store, username))`,
    `CREATE TABLE IF NOT EXISTS clove_map (
       host text NOT NULL, store text NOT NULL, username text NOT NULL, key text NOT NULL, value text NOT NULL,
       PRIMARY KEY (host, store, username, key))`,
    `CREATE TABLE IF NOT EXISTS clove_archive_owner (
       host text NOT NULL, store text NOT NULL, owner text NOT NULL, id_key blob NOT NULL,
       next_seq integer NOT NULL DEFAULT 0, last_when real NOT NULL DEFAULT (-1e999),
       items integer NOT NULL DEFAULT 0, bytes integer NOT NULL DEFAULT 0,
       PRIMARY KEY (host, store, owner))`,
    `CREATE TABLE IF NOT EXISTS clove_archive (
       host text NOT NULL, store text NOT NULL, owner text NOT NULL, seq integer NOT NULL,
       "when" real NOT NULL, "with" text NOT NULL, bare text NOT NULL,
       kind integer NOT NULL, payload blob NOT NULL, size integer NOT NULL,
       PRIMARY KEY (host, store, owner, seq))`,
    'CREATE INDEX IF NOT EXISTS clove_archive_bare ON clove_archive (host, store, owner, bare, seq)',
    'CREATE INDEX IF NOT EXISTS clove_archive_when ON clove_archive (host, store, "when")',
  ],
];

/** The schema version this Clove writes. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the file to SQLITE_SCHEMA_VERSION; returns the version found before. */
export async function migrateSqlite(db: SqliteConnection): Promise<number> {
  const [, rows] = await db.run([
    { sql: "CREATE TABLE IF NOT EXISTS clove_schema (version integer NOT NULL, applied text NOT NULL DEFAULT (datetime('now')))" },
    { sql: 'SELECT max(version) AS v FROM clove_schema' },
  ], true);
  const found = ((rows as Array<{ v: number | null }>)[0]?.v) ?? 0;
  if (found > SQLITE_SCHEMA_VERSION) {
    throw new Error(`the database's Clove schema is version ${found}, newer than this Clove's ${SQLITE_SCHEMA_VERSION}: upgrade Clove`);
  }
  const steps = [];
  for (let v = found + 1; v <= SQLITE_SCHEMA_VERSION; v++) {
    for (const sql of MIGRATIONS[v - 1]!) steps.push({ sql });
    steps.push({ sql: 'INSERT INTO clove_schema (version) SELECT @v WHERE NOT EXISTS (SELECT 1 FROM clove_schema WHERE version = @v)', params: { v } });
  }
  if (steps.length) await db.run(steps, true);
  return found;
}
