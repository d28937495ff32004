// The SQL backend's tables, created and upgraded at start. Each migration runs once, in its own
// transaction, under an advisory lock (two servers starting on one database do not race), and
// records its number in clove_schema; a database newer than this Clove is refused.
//
// One table per store shape, as Prosody's `prosody` table: every host's and store's rows together,
// keyed by (host, store, user, …). Values are JSON text, exactly what the file backend writes.
import type { Queryable, SqlPool } from './pool.js';

/** Migrations in order; index + 1 is the schema version each one gives. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE clove_keyval (
     host text NOT NULL, store text NOT NULL, username text NOT NULL, value text NOT NULL,
     PRIMARY KEY (host, store, username));
   CREATE TABLE clove_map (
     host text NOT NULL, store text NOT NULL, username text NOT NULL, key text NOT NULL,
     value text NOT NULL, seq bigserial NOT NULL,
     PRIMARY KEY (host, store, username, key));
   CREATE TABLE clove_archive_owner (
     host text NOT NULL, store text NOT NULL, owner text NOT NULL, id_key bytea NOT NULL,
     next_seq bigint NOT NULL DEFAULT 0, last_when double precision NOT NULL DEFAULT '-Infinity',
     items bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0,
     PRIMARY KEY (host, store, owner));
   CREATE TABLE clove_archive (
     host text NOT NULL, store text NOT NULL, owner text NOT NULL, seq bigint NOT NULL,
     "when" double precision NOT NULL, "with" text NOT NULL, bare text NOT NULL,
     kind smallint NOT NULL, payload bytea NOT NULL, size integer NOT NULL,
     PRIMARY KEY (host, store, owner, seq));
   CREATE INDEX clove_archive_bare ON clove_archive (host, store, owner, bare, seq);
   CREATE INDEX clove_archive_when ON clove_archive (host, store, "when");`,
];

/** The schema version this Clove writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

// An arbitrary constant naming Clove's migration lock among the database's advisory locks.
const LOCK = 0x636c6f76;

/** Bring the database to SCHEMA_VERSION; returns the version found before. */
export async function migrate(pool: SqlPool): Promise<number> {
  return pool.transaction(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
    await q.query('CREATE TABLE IF NOT EXISTS clove_schema (version integer NOT NULL, applied timestamptz NOT NULL DEFAULT now())');
    const found = await version(q);
    if (found > SCHEMA_VERSION) {
      throw new Error(`the database's Clove schema is version ${found}, newer than this Clove's ${SCHEMA_VERSION}: upgrade Clove`);
    }
    for (let v = found + 1; v <= SCHEMA_VERSION; v++) {
      await q.query(MIGRATIONS[v - 1]!);
      await q.query('INSERT INTO clove_schema (version) VALUES ($1)', [v]);
    }
    return found;
  });
}

async function version(q: Queryable): Promise<number> {
  const r = await q.query<{ v: number | null }>('SELECT max(version) AS v FROM clove_schema');
  return r.rows[0]?.v ?? 0;
}
