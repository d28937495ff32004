// Prosody's archive table on PostgreSQL as `clove import-prosody --from-sql` reads it: through a
// cursor, a page at a time, so the rows of every archive are never in memory at once, and still
// each row once, in Prosody's order (store, user, sort_id), for one host's stores only.
import pg from 'pg';
import { expect, it } from 'vitest';
import { openPostgresRows } from '../../../../src/cli/import-prosody/postgres-rows.js';
import { SQL_DEFAULTS } from '../../../../src/storage/sql/pool.js';
import { freshDatabase } from '../../../helpers/postgres.js';

it('reads 2,500 archive rows in pages of 1,000, each once, in store, user and sort_id order, or only the newest per user', async () => {
  const db = await freshDatabase();
  const c = new pg.Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await c.connect();
  try {
    // mod_storage_sql's columns (BIGSERIAL sort_id on PostgreSQL).
    await c.query('CREATE TABLE "prosody" ("host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "type" TEXT, "value" TEXT)');
    await c.query('CREATE TABLE "prosodyarchive" ("sort_id" BIGSERIAL PRIMARY KEY, "host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "when" INTEGER, "with" TEXT, "type" TEXT, "value" TEXT)');
    // Interleaved users and stores, so sort_id order is not the read order; another host and store too.
    await c.query(`INSERT INTO prosodyarchive ("host", "user", "store", "key", "when", "with", "type", "value")
      SELECT 'a.test', 'u' || (i % 3), CASE WHEN i % 5 = 0 THEN 'offline' ELSE 'archive' END, 'k' || i, i, 'x@a.test', 'xml', '<message/>'
      FROM generate_series(1, 2500) AS i`);
    await c.query(`INSERT INTO prosodyarchive ("host", "user", "store", "key", "when", "with", "type", "value") VALUES
      ('b.test', 'u0', 'archive', 'other-host', 1, 'x@b.test', 'xml', '<message/>'), ('a.test', 'u0', 'muc_log', 'other-store', 1, 'x@a.test', 'xml', '<message/>'),
      ('a.test', '', 'archive', 'host-wide', 1, 'x@a.test', 'xml', '<message/>')`);
  } finally {
    await c.end();
  }
  const rows = openPostgresRows({ ...SQL_DEFAULTS, driver: 'PostgreSQL', database: db.database, host: db.host!, port: db.port!, username: db.username!, password: db.password! });
  try {
    const read = async (max: number) => {
      const got: Array<[string, string, number, number]> = [];
      const pages: number[] = [];
      await rows.archive('a.test', ['archive', 'offline'], max, async (page) => {
        pages.push(page.length);
        for (const r of page) got.push([r.store, r.user, r.when, r.total]);
      });
      return { got, pages };
    };
    // Every row of a.test's archive and offline stores, as Prosody ordered them, with the count of each store and user.
    const all: Array<[string, string, number, number]> = [];
    for (const store of ['archive', 'offline']) {
      for (const user of ['u0', 'u1', 'u2']) {
        const mine = [];
        for (let i = 1; i <= 2500; i++) if (`u${i % 3}` === user && (i % 5 === 0 ? 'offline' : 'archive') === store) mine.push(i);
        for (const i of mine) all.push([store, user, i, mine.length]);
      }
    }
    const whole = await read(10_000);
    expect(whole.pages).toEqual([1000, 1000, 500]);
    expect(whole.got).toEqual(all);
    // At most 100 per user of the archive store, the newest; the offline store whole.
    const newest = await read(100);
    const want = all.filter(([store, user, i]) => store !== 'archive' || all.filter((r) => r[0] === 'archive' && r[1] === user && r[2] > i).length < 100);
    expect(newest.got).toEqual(want);
    expect(want.length).toBe(300 + 500);
  } finally {
    await rows.close();
  }
});
