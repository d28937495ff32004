// The SQLite database file and the queue to its worker thread (src/storage/sqlite/connection.ts):
// the file is created (or narrowed) owner-only in WAL mode, a file that is not SQLite or has a
// newer schema stops the open with the reason, the queue refuses past its bounds at once while
// what it took still commits, a job that fails in a batch changes nothing while the others in the
// same transaction commit, and a full disk fails the whole batch without stopping the next.
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteBusyError, SqliteConnection } from '../../../src/storage/sqlite/connection.js';
import { openSqlBackend } from '../../../src/storage/sql/backend.js';
import { StorageBusyError } from '../../../src/storage/store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'clove-sqlite-'));
  dirs.push(d);
  return d;
}

/** A connection to a new file with one table `t (v text)`. */
async function withTable(options: { queueMax?: number; queueBytes?: number } = {}): Promise<[SqliteConnection, string]> {
  const file = path.join(await tmp(), 't.sqlite');
  const c = new SqliteConnection({ driver: 'SQLite3', database: file, ...options });
  await c.open();
  await c.run([{ sql: 'CREATE TABLE t (v text NOT NULL)' }], true);
  return [c, file];
}

const values = (file: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT v FROM t ORDER BY rowid').all() as Array<{ v: string }>).map((r) => r.v);
  } finally {
    db.close();
  }
};

describe('SQLite connection', () => {
  it('creates the file owner-only in a new owner-only directory, in WAL mode', async () => {
    const dir = path.join(await tmp(), 'data', 'db');
    const file = path.join(dir, 'clove.sqlite');
    const b = await openSqlBackend({ driver: 'SQLite3', database: file });
    await b.keyval('localhost', 'accounts').set('alice', { scram: 'keys' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT value FROM clove_keyval WHERE username = ?').get('alice')).toEqual({ value: '{"scram":"keys"}' });
    db.close();
    await b.close();
  });

  it('a file that is not SQLite stops the open with the reason', async () => {
    const file = path.join(await tmp(), 'not.sqlite');
    await writeFile(file, 'this is not a database, it is a text file of some length to be read'.repeat(20));
    await expect(openSqlBackend({ driver: 'SQLite3', database: file })).rejects.toThrow(/^SQLite storage: file is not a database/);
  });

  it('refuses past the request and byte bounds at once; what it took commits', async () => {
    const [c, file] = await withTable({ queueMax: 2 });
    const write = (v: string): Promise<unknown> => c.run([{ sql: 'INSERT INTO t (v) VALUES (?)', params: [v] }], true);
    // The first goes to the worker at once; two may wait behind it; the rest are refused.
    const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map(write));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    const refused = (results[3] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(SqliteBusyError);
    expect(refused).toBeInstanceOf(StorageBusyError); // stanza handlers answer it with resource-constraint
    expect(values(file)).toEqual(['a', 'b', 'c']);
    await write('f'); // taken again once the queue drained
    expect(values(file)).toEqual(['a', 'b', 'c', 'f']);
    c.close();

    const [d, file2] = await withTable({ queueBytes: 1000 });
    const big = 'x'.repeat(300); // 600 bytes as the queue counts a string
    const sized = await Promise.allSettled([big, big, big].map((v) => d.run([{ sql: 'INSERT INTO t (v) VALUES (?)', params: [v] }], true)));
    // One in flight, one waiting (a first waiting job is always taken), the third past 1,000 bytes.
    expect(sized.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(values(file2)).toHaveLength(2);
    d.close();
  });

  it('a job that fails in a batch changes nothing; the jobs around it commit', async () => {
    const [c, file] = await withTable();
    const insert = (v: string): { sql: string; params: string[] } => ({ sql: 'INSERT INTO t (v) VALUES (?)', params: [v] });
    const first = c.run([insert('first')], true); // in flight alone
    // These three wait together and go as one batch, one transaction.
    const batch = await Promise.allSettled([
      c.run([insert('a')], true),
      c.run([insert('half'), { sql: 'INSERT INTO t (v) VALUES (NULL)' }], true),
      c.run([insert('c')], true),
    ]);
    await first;
    expect(batch.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((batch[1] as PromiseRejectedResult).reason)).toMatch(/NOT NULL constraint failed/);
    expect(values(file)).toEqual(['first', 'a', 'c']);
    c.close();
  });

  it('a full disk ends the whole batch: every write in it fails with the reason, none stays, the next batch runs', async () => {
    const [c, file] = await withTable();
    const insert = (v: string): { sql: string; params: string[] } => ({ sql: 'INSERT INTO t (v) VALUES (?)', params: [v] });
    await c.run([{ sql: 'PRAGMA max_page_count = 8' }], true); // a disk this small: a 100 KB row does not fit
    const first = c.run([insert('first')], true);
    const batch = await Promise.allSettled([
      c.run([insert('a')], true),
      c.run([{ sql: 'INSERT INTO t (v) VALUES (hex(randomblob(50000)))' }], true),
      c.run([insert('c')], true),
    ]);
    await first;
    expect(batch.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of batch) expect(String((r as PromiseRejectedResult).reason)).toMatch(/^Error: SQLite storage: database or disk is full/);
    expect(values(file)).toEqual(['first']);
    await c.run([insert('after')], true);
    expect(values(file)).toEqual(['first', 'after']);
    c.close();
  });

  /** A new SQLite file holding what `sql` makes, and the backend's refusal to open it. */
  async function refusal(sql: string, mode = 0o600): Promise<[string, string]> {
    const file = path.join(await tmp(), 'given.sqlite');
    const db = new Database(file);
    db.exec(sql);
    db.close();
    await chmod(file, mode);
    const e = await openSqlBackend({ driver: 'SQLite3', database: file }).then(() => new Error('opened'), (err: Error) => err);
    return [file, e.message];
  }

  it('refuses a file whose schema is newer than this Clove', async () => {
    const [, message] = await refusal("CREATE TABLE clove_schema (version integer NOT NULL, applied text NOT NULL DEFAULT (datetime('now'))); INSERT INTO clove_schema (version) VALUES (99)");
    expect(message).toBe("SQLite storage: the database's Clove schema is version 99, newer than this Clove's 1: upgrade Clove");
  });

  it("refuses Prosody's own database untouched (a config copied from Prosody names its prosody.sqlite)", async () => {
    const [file, message] = await refusal('CREATE TABLE prosody (host TEXT, user TEXT, store TEXT, key TEXT, type TEXT, value TEXT)', 0o644);
    expect(message).toMatch(/^SQLite storage: the file holds Prosody's tables \(prosody, prosodyarchive\), which Clove does not read/);
    expect((await stat(file)).mode & 0o777).toBe(0o644); // Prosody's user may need to read it
    const after = new Database(file, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'clove%'").all()).toEqual([]); // nothing was added to it
    expect(after.pragma('journal_mode', { simple: true })).toBe('delete'); // not switched to WAL
    after.close();
  });

  it('narrows a file found with a wider mode (a restored copy) to owner-only', async () => {
    const file = path.join(await tmp(), 'restored.sqlite');
    await writeFile(file, '');
    await chmod(file, 0o644);
    const b = await openSqlBackend({ driver: 'SQLite3', database: file });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await b.close();
  });

  it("while another process holds the write lock past the timeout, a batch's writes fail with SqliteBusyError and its reads are answered", async () => {
    const file = path.join(await tmp(), 'locked.sqlite');
    const c = new SqliteConnection({ driver: 'SQLite3', database: file, busyTimeoutMs: 300 });
    await c.open();
    await c.run([{ sql: 'CREATE TABLE t (v text NOT NULL)' }, { sql: "INSERT INTO t (v) VALUES ('x')" }], true);
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const insert = (v: string): Promise<unknown> => c.run([{ sql: 'INSERT INTO t (v) VALUES (?)', params: [v] }], true);
      const first = insert('w1').catch((e: unknown) => e); // in flight alone, waits out the timeout
      const [w2, read] = await Promise.allSettled([insert('w2'), c.run([{ sql: 'SELECT v FROM t' }], false)]); // one batch
      expect(await first).toBeInstanceOf(SqliteBusyError);
      expect(w2.status === 'rejected' && w2.reason).toBeInstanceOf(SqliteBusyError);
      expect(read).toEqual({ status: 'fulfilled', value: [[{ v: 'x' }]] });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    c.close();
  });

  it('expires a large archive in several transactions, with the counts right', async () => {
    const b = await openSqlBackend({ driver: 'SQLite3', database: path.join(await tmp(), 'expiry.sqlite') });
    const a = b.archive('localhost', 'archive', { maxItems: 20_000 });
    for (let i = 0; i < 12_000; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => a.append('alice', { with: 'bob@localhost', payload: `m${i + j}`, when: 1_000_000 + i + j })));
    }
    expect(await a.deleteOlderThan(1_000_000 + 11_000)).toBe(11_000); // more than two chunks of 5,000
    const left = await a.metadata('alice');
    expect(left.count).toBe(1000);
    expect(left.first?.when).toBe(1_000_000 + 11_000);
    const all = await a.query('alice', { limit: 1000 });
    expect(all.items.map((it) => it.payload)).toEqual(Array.from({ length: 1000 }, (_, k) => `m${11_000 + k}`));
    expect(await a.deleteOlderThan(Number.MAX_SAFE_INTEGER)).toBe(1000);
    expect(await a.owners()).toEqual([]);
    expect(await a.metadata('alice')).toEqual({ count: 0, bytes: 0 });
    await b.close();
  });

  it('answers reads after close (the worker starts again)', async () => {
    const [c] = await withTable();
    await c.run([{ sql: "INSERT INTO t (v) VALUES ('kept')" }], true);
    c.close();
    expect(await c.run([{ sql: 'SELECT v FROM t' }], false)).toEqual([[{ v: 'kept' }]]);
  });
});
