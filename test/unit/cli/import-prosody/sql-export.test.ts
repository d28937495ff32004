// Prosody's SQL rows written out as its internal storage (what the data-directory import reads):
// keyval rows merged into one table per user and store, archive rows appended to one .list per
// user a chunk at a time, in order, however long the archive.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { DataTable, parseDat, parseList } from '../../../../src/config/lua/data-file.js';
import { exportProsodySql } from '../../../../src/cli/import-prosody/sql-export.js';
import type { ArchiveRow, KeyvalRow, ProsodyRows } from '../../../../src/cli/import-prosody/sql-rows.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function rowsOf(keyval: KeyvalRow[], archive: ArchiveRow[]): ProsodyRows {
  return {
    label: 'test rows',
    tables: async () => ({ keyval: true, archive: true }),
    keyval: async () => keyval,
    // Pages of 700 rows, so one user's items span several pages.
    async archive(_host, _stores, _max, page) {
      for (let i = 0; i < archive.length; i += 700) await page(archive.slice(i, i + 700));
    },
    close: async () => {},
  };
}

it('writes each user a table per keyval store and a .list per archive, several MiB long, in order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clove-sql-export-'));
  dirs.push(dir);
  const body = 'x'.repeat(600);
  const archive: ArchiveRow[] = [];
  for (let i = 0; i < 4000; i++) {
    archive.push({ store: 'archive', user: 'alice', key: `a${i}`, when: 1000 + i, with: 'bob@a.test', type: 'xml', value: `<message id='m${i}'><body>${body}</body></message>`, total: 4000 });
  }
  archive.push({ store: 'archive', user: 'bob', key: 'b0', when: 5, with: 'alice@a.test', type: 'xml', value: "<message id='b'/>", total: 1 });
  const keyval: KeyvalRow[] = [
    { store: 'roster', user: 'alice', key: 'bob@a.test', type: 'json', value: '{"subscription":"both","groups":{"Friends":true}}' },
    { store: 'roster', user: 'alice', key: '', type: 'json', value: '{"__hash":[false,{"version":"3"}]}' },
  ];
  expect(await exportProsodySql(rowsOf(keyval, archive), ['a.test'], dir, () => 10_000)).toEqual({ hosts: ['a.test'], cut: [] });

  const hostDir = join(dir, 'a%2etest');
  expect((await readdir(join(hostDir, 'archive'))).sort()).toEqual(['alice.list', 'bob.list']);
  const text = await readFile(join(hostDir, 'archive', 'alice.list'), 'utf8');
  expect(text.length).toBeGreaterThan(2 * (1 << 20)); // more than one chunk
  const items = parseList(text) as DataTable[];
  expect(items.map((t) => [t.get('key'), t.get('when')])).toEqual(archive.slice(0, 4000).map((r) => [r.key, r.when]));
  expect(((items[3999]!.get('attr') as DataTable).get('id'))).toBe('m3999');
  expect(parseList(await readFile(join(hostDir, 'archive', 'bob.list'), 'utf8'))).toHaveLength(1);

  const roster = parseDat(await readFile(join(hostDir, 'roster', 'alice.dat'), 'utf8')) as DataTable;
  expect((roster.get('bob@a.test') as DataTable).get('subscription')).toBe('both');
  expect(((roster.get(false) as DataTable).get('version'))).toBe('3');
});

it('names each user whose archive held more than Clove keeps', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clove-sql-export-'));
  dirs.push(dir);
  // The driver hands over the newest rows only (its query), with how many there were.
  const archive: ArchiveRow[] = [5, 6].map((i) => ({ store: 'archive', user: 'alice', key: `a${i}`, when: i, with: 'bob@a.test', type: 'xml', value: '<message/>', total: 7 }));
  const offline: ArchiveRow = { store: 'offline', user: 'bob', key: 'o', when: 1, with: 'alice@a.test', type: 'xml', value: '<message/>', total: 9 };
  const out = await exportProsodySql(rowsOf([], [...archive, offline]), ['a.test'], dir, (host) => (host === 'a.test' ? 2 : 0));
  expect(out).toEqual({ hosts: ['a.test'], cut: ['alice@a.test: the newest 2 of 7 archived messages (storage_archive_item_limit)'] });
});

it('writes nothing more once stopped, and says so by throwing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clove-sql-export-'));
  dirs.push(dir);
  const stop = new AbortController();
  const row = (user: string): ArchiveRow => ({ store: 'archive', user, key: user, when: 1, with: 'x@a.test', type: 'xml', value: '<message/>', total: 1 });
  const rows: ProsodyRows = {
    ...rowsOf([{ store: 'roster', user: 'alice', key: 'bob@a.test', type: 'json', value: '{"subscription":"both"}' }], []),
    async archive(_host, _stores, _max, page) {
      await page([row('alice')]);
      stop.abort(); // Ctrl-C while the next page is read
      await page([row('bob')]);
    },
  };
  await expect(exportProsodySql(rows, ['a.test'], dir, () => 10, stop.signal)).rejects.toMatchObject({ name: 'AbortError' });
  // Written before the stop: the roster. Not after it: alice's archive items, still gathered when bob's came.
  expect(await readdir(join(dir, 'a%2etest', 'roster'))).toEqual(['alice.dat']);
  expect(await readdir(join(dir, 'a%2etest', 'archive'))).toEqual([]);
});

it('names the row whose value cannot be read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clove-sql-export-'));
  dirs.push(dir);
  const bad: KeyvalRow = { store: 'roster', user: 'alice', key: 'bob@a.test', type: 'json', value: '{"subscription":' };
  await expect(exportProsodySql(rowsOf([bad], []), ['a.test'], dir, () => 10)).rejects.toThrow(/^Prosody's roster store of alice@a\.test, key 'bob@a\.test': .*JSON/);
});
