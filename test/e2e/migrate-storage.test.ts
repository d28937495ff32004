// `clove migrate-storage` files → SQL (PostgreSQL, SQLite) → files: every store of the host (accounts, rosters,
// private XML maps, archives with text and byte payloads) comes back identical, read through the
// stores themselves (archive items compared by time, `with` and payload, in order). A copy into
// storage that already holds data is refused. The 10,000-account round trip with its timing is
// bench/migrate-storage.mjs; this test runs 300 accounts to stay quick.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runClove } from '../helpers/child-server.js';
import { freshDatabase, sqlConfigLine } from '../helpers/postgres.js';
import { createFileBackend } from '../../src/storage/file.js';
import { openSqlBackend, type SqlOptions } from '../../src/storage/sql/backend.js';
import { STORE_SHAPES } from '../../src/storage/shapes.js';
import type { MapListing, StorageBackend } from '../../src/storage/store.js';

const ACCOUNTS = 300;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Everything a backend holds for `host`, store by store, in a comparable form. */
async function dump(b: StorageBackend & MapListing, host: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [store, shape] of Object.entries(STORE_SHAPES)) {
    const data: Record<string, unknown> = {};
    if (shape === 'keyval') {
      const kv = b.keyval<unknown>(host, store);
      for (const u of await kv.users()) data[u] = await kv.get(u);
    } else if (shape === 'map') {
      const m = b.map<unknown>(host, store);
      for (const u of await b.mapUsers(host, store)) {
        const all = await m.getAll(u);
        if (Object.keys(all).length) data[u] = all;
      }
    } else {
      const a = b.archive(host, store);
      for (const o of await a.owners()) {
        const page = await a.query(o, { limit: 1000 });
        data[o] = page.items.map((it) => [it.when, it.with, typeof it.payload === 'string' ? it.payload : `bytes:${Buffer.from(it.payload).toString('hex')}`]);
      }
    }
    if (Object.keys(data).length) out[store] = data;
  }
  return out;
}

async function fill(dataPath: string): Promise<void> {
  const b = createFileBackend(dataPath);
  const accounts = b.keyval<unknown>('localhost', 'accounts');
  const roster = b.keyval<unknown>('localhost', 'roster');
  const priv = b.map<unknown>('localhost', 'private');
  const archive = b.archive('localhost', 'archive');
  const users = Array.from({ length: ACCOUNTS }, (_, i) => `user${i}`);
  for (let i = 0; i < users.length; i += 100) {
    await Promise.all(users.slice(i, i + 100).map(async (u, j) => {
      const n = i + j;
      await accounts.set(u, { scram: { sha1: { salt: `s${n}`, iterations: 4096, storedKey: `k${n}`, serverKey: `v${n}` } }, bcrypt: `$2b$04$${n}`, created: 1_700_000_000_000 + n });
      if (n % 5 === 0) await roster.set(u, { version: n, items: { [`friend${n}@example.net`]: { subscription: 'both', groups: ['Ü', 'x'], name: `Friend ${n}` } }, pending: {} });
      if (n % 10 === 0) {
        await priv.set(u, 'storage storage:bookmarks', { n: 'storage', a: { xmlns: 'storage:bookmarks' }, c: [] });
        await priv.set(u, 'x urn:example', { n: 'x', a: { xmlns: 'urn:example' }, c: [`note ${n}`] });
      }
    }));
  }
  for (let o = 0; o < 10; o++) {
    for (let k = 0; k < 30; k++) {
      const payload = k === 7 ? new Uint8Array([0, 1, 2, 255, o]) : `<message to='user${o}@localhost'><body>m ${k} ☃</body></message>`;
      await archive.append(`user${o}`, { with: k % 2 ? `peer${k}@example.net/r` : `peer${k}@example.net`, payload, when: 1_750_000_000_000 + k * 1000.5 });
    }
  }
  await b.close();
}

/** Each SQL database: the options that reach it and the config's sql line, in a fresh place under `dir`. */
const DATABASES: Array<[string, (dir: string) => Promise<[SqlOptions, string]>]> = [
  ['PostgreSQL', async () => {
    const db = await freshDatabase();
    return [db, sqlConfigLine(db).replace('storage = "sql"\n', '')];
  }],
  ['SQLite', async (dir) => {
    const file = path.join(dir, 'clove.sqlite'); // absolute: both configs' data paths reach the same file
    return [{ driver: 'SQLite3', database: file }, `sql = { driver = "SQLite3"; database = ${JSON.stringify(file)} }\n`];
  }],
];

it.each(DATABASES)('files → %s → files gives identical data; a copy into storage that holds data is refused', async (_name, database) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clove-migrate-'));
  dirs.push(dir);
  const [db, sqlLine] = await database(dir);
  const config = (data: string): string => `data_path = ${JSON.stringify(data)}\nrun_as_root = true\nlog = "error"\n${sqlLine}VirtualHost "localhost"\n`;
  const first = path.join(dir, 'data1');
  const second = path.join(dir, 'data2');
  await writeFile(path.join(dir, 'a.cfg.lua'), config(first));
  await writeFile(path.join(dir, 'b.cfg.lua'), config(second));
  await fill(first);

  const t0 = Date.now();
  const toSql = await runClove(['--config', path.join(dir, 'a.cfg.lua'), 'migrate-storage', 'file', 'sql']);
  expect(toSql.code, toSql.stderr).toBe(0);
  expect(toSql.stdout).toContain(`localhost: ${ACCOUNTS} accounts`);
  const t1 = Date.now();
  const back = await runClove(['--config', path.join(dir, 'b.cfg.lua'), 'migrate-storage', 'sql', 'file']);
  expect(back.code, back.stderr).toBe(0);
  console.info(`migrate-storage: ${ACCOUNTS} accounts files → SQL in ${t1 - t0} ms, back in ${Date.now() - t1} ms`);

  const original = createFileBackend(first);
  const sql = await openSqlBackend(db);
  const roundTrip = createFileBackend(second);
  try {
    const want = await dump(original, 'localhost');
    expect(Object.keys(want).sort()).toEqual(['accounts', 'archive', 'private', 'roster']);
    expect(Object.keys(want.accounts as object)).toHaveLength(ACCOUNTS);
    expect(await dump(sql, 'localhost')).toEqual(want);
    expect(await dump(roundTrip, 'localhost')).toEqual(want);
  } finally {
    await Promise.all([original.close(), sql.close(), roundTrip.close()]);
  }

  const again = await runClove(['--config', path.join(dir, 'a.cfg.lua'), 'migrate-storage', 'file', 'sql']);
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/already holds data/);
}, 120_000);
