// The test run's PostgreSQL cluster (started by vitest's globalSetup, test/global-setup.ts, with
// bench/lib/postgres.mjs, and announced in CLOVE_TEST_PG); each test takes a fresh database.
import pg from 'pg';
import type { PostgresOptions as SqlOptions } from '../../src/storage/sql/pool.js';
import type { TestPostgres } from '../../bench/lib/postgres.mjs';

export { startPostgres, type TestPostgres } from '../../bench/lib/postgres.mjs';

export const PG_ENV = 'CLOVE_TEST_PG';

/** The cluster the global setup started (throws when there is none: a config error, not a skip). */
export function testPostgres(): TestPostgres {
  const raw = process.env[PG_ENV];
  if (!raw) throw new Error(`${PG_ENV} is not set: vitest's globalSetup (test/global-setup.ts) starts PostgreSQL for the tests`);
  return JSON.parse(raw) as TestPostgres;
}

let made = 0;

/** A new empty database on the test cluster; the SqlOptions that reach it (by TCP, with the password). */
export async function freshDatabase(): Promise<SqlOptions> {
  const t = testPostgres();
  const name = `clove_${process.pid}_${Date.now().toString(36)}_${made++}`;
  const c = new pg.Client({ host: t.host, port: t.port, user: t.username, password: t.password, database: 'postgres' });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return { driver: 'PostgreSQL', database: name, host: t.host, port: t.port, username: t.username, password: t.password };
}

let shared: Promise<SqlOptions> | undefined;

/**
 * A new empty schema in a database this test process shares (much cheaper than a database):
 * SqlOptions whose connections put Clove's tables there. For backends in unit tests.
 */
export async function freshSchema(): Promise<SqlOptions> {
  shared ??= freshDatabase();
  const db = await shared;
  const schema = `s${made++}`;
  const c = new pg.Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await c.end();
  }
  return { ...db, schema };
}

/** The Lua `sql = { … }` line for a database (for a Clove config file). */
export function sqlConfigLine(o: SqlOptions): string {
  return `storage = "sql"\nsql = { driver = "PostgreSQL"; database = "${o.database}"; host = "${o.host}"; port = ${o.port}; username = "${o.username}"; password = "${o.password}" }\n`;
}


/**
 * The storage backends e2e tests run a real server on, as [name, extra config lines]: files
 * (the child's default), PostgreSQL (a fresh database each call) and SQLite (a file in the
 * child's own data directory).
 */
export const CHILD_STORAGES: Array<[string, () => Promise<string>]> = [
  ['file', async () => ''],
  ['postgresql', async () => sqlConfigLine(await freshDatabase())],
  ['sqlite', async () => `storage = "sql"\nsql = { driver = "SQLite3"; database = "${SQLITE_TEST_FILE}" }\n`],
];

/** The SQLite file of CHILD_STORAGES' sqlite entry, in the child's data_path. */
export const SQLITE_TEST_FILE = 'clove-test.sqlite';
