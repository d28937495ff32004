// The SQLite database's tables, created and upgraded at start, as ../sql/schema.ts does for
// PostgreSQL: the same tables and columns in SQLite's types (a map's rows keep their order by
// rowid: an upsert keeps a row's rowid, a new row gets a larger one; an archive row's payload
// comes last, so reading the columns before it never reads a large payload's overflow pages). The worker applies the migrations not
// yet recorded in clove_schema inside one write transaction, which holds SQLite's write lock
// from its start, so two servers starting on one file apply each migration once.
import type { SqliteConnection } from './connection.js';

/** Migrations in order; index + 1 is the schema version each one gives; one statement per entry. */
const MIGRATIONS: ReadonlyArray<readonly string[]> = [
  [
    `CREATE TABLE clove_keyval (
       host text NOT NULL, store text NOT NULL, username text NOT NULL, value text NOT NULL,
       PRIMARY KEY (host, store, username))`,
    `CREATE TABLE clove_map (
       host text NOT NULL, store text NOT NULL, username text NOT NULL, key text NOT NULL, value text NOT NULL,
       PRIMARY KEY (host, store, username, key))`,
    `CREATE TABLE clove_archive_owner (
       host text NOT NULL, store text NOT NULL, owner text NOT NULL, id_key blob NOT NULL,
       next_seq integer NOT NULL DEFAULT 0, last_when real NOT NULL DEFAULT (-1e999),
       items integer NOT NULL DEFAULT 0, bytes integer NOT NULL DEFAULT 0,
       PRIMARY KEY (host, store, owner))`,
    `CREATE TABLE clove_archive (
       host text NOT NULL, store text NOT NULL, owner text NOT NULL, seq integer NOT NULL,
       "when" real NOT NULL, "with" text NOT NULL, bare text NOT NULL,
       kind integer NOT NULL, size integer NOT NULL, payload blob NOT NULL,
       PRIMARY KEY (host, store, owner, seq))`,
    'CREATE INDEX clove_archive_bare ON clove_archive (host, store, owner, bare, seq)',
    'CREATE INDEX clove_archive_when ON clove_archive (host, store, "when")',
  ],
];

/** Bring the file to this Clove's schema, version MIGRATIONS.length (a newer one is refused). */
export function migrateSqlite(db: SqliteConnection): Promise<void> {
  return db.migrate(MIGRATIONS);
}
