// The SQL backend's schema migration at open: tables made once and recorded by version, a second
// open (or two at once) changes nothing, and a database written by a newer Clove is refused.
import pg from 'pg';
import { expect, it } from 'vitest';
import { openSqlBackend } from '../../../src/storage/sql/backend.js';
import { SCHEMA_VERSION } from '../../../src/storage/sql/schema.js';
import { freshSchema } from '../../helpers/postgres.js';

it('migrates once, reopens without change, and refuses a newer schema', async () => {
  const opts = await freshSchema();
  // Two servers starting on one database at once: the advisory lock lets one migrate.
  const [a, b] = await Promise.all([openSqlBackend(opts), openSqlBackend(opts)]);
  await a.keyval('h', 'accounts').set('u', { n: 1 });
  await Promise.all([a.close(), b.close()]);
  const again = await openSqlBackend(opts);
  expect(await again.keyval('h', 'accounts').get('u')).toEqual({ n: 1 });
  await again.close();

  const c = new pg.Client({ host: opts.host, port: opts.port, user: opts.username, password: opts.password, database: opts.database, options: `-c search_path=${opts.schema}` });
  await c.connect();
  try {
    expect((await c.query<{ version: number }>('SELECT version FROM clove_schema ORDER BY version')).rows.map((r) => r.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    await c.query('INSERT INTO clove_schema (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
  } finally {
    await c.end();
  }
  await expect(openSqlBackend(opts)).rejects.toThrow(/newer than this Clove's/);
});
