// The SQL backend's changes waiting for a commit are bounded in bytes (src/storage/sql/pending.ts
// over src/storage/change-queue.ts). Commits are stalled for real: another connection holds an
// EXCLUSIVE lock on the table (reads go on, writes wait), so the queues fill as they would with
// a slow database. A change past a bound is refused at once with StorageBusyError, the changes
// already queued commit once the lock goes, and afterwards changes are accepted again.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlBackend } from '../../../src/storage/sql/backend.js';
import type { PostgresOptions as SqlOptions } from '../../../src/storage/sql/pool.js';
import { StorageBusyError, type StorageBackend } from '../../../src/storage/store.js';
import { freshSchema } from '../../helpers/postgres.js';

const LIMITS = { keyBytes: 4096, totalBytes: 16_384 };

/** A promise's outcome, or 'pending' when it has not settled within `ms`. */
async function outcome(p: Promise<unknown>, ms = 2000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((r) => (timer = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([p.then(() => 'committed', (e: unknown) => e), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client on the backend's schema. */
async function client(opts: SqlOptions): Promise<pg.Client> {
  const c = new pg.Client({ host: opts.host, port: opts.port, user: opts.username, password: opts.password, database: opts.database, options: `-c search_path=${opts.schema}` });
  await c.connect();
  return c;
}

/** Stall every write to `table` (reads go on) until the returned function is called. */
async function stall(opts: SqlOptions, table: string): Promise<() => Promise<void>> {
  const c = await client(opts);
  await c.query('BEGIN');
  await c.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
  return async () => {
    await c.query('COMMIT');
    await c.end();
  };
}

/** Wait until PostgreSQL shows `n` statements of ours waiting for a lock (the writes really stalled). */
async function waitingForLock(opts: SqlOptions, n: number): Promise<void> {
  const c = await client(opts);
  try {
    for (let i = 0; i < 200; i++) {
      const r = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'clove'");
      if (Number(r.rows[0]!.n) >= n) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${n} writes never waited for the lock`);
  } finally {
    await c.end();
  }
}

let backend: StorageBackend | undefined;
let release: (() => Promise<void>) | undefined;
afterEach(async () => {
  await release?.();
  release = undefined;
  await backend?.close();
  backend = undefined;
});

describe('SQL storage: changes waiting for a commit are bounded in bytes', () => {
  it('refuses a map change past the per-user bound at once; the queued ones commit, and later ones are taken again', async () => {
    const opts = await freshSchema();
    backend = await openSqlBackend(opts, LIMITS);
    const roster = backend.map<string>('localhost', 'roster');
    release = await stall(opts, 'clove_map');
    const v = 'x'.repeat(1500); // one change is ~1,520 bytes of JSON
    const inFlight = roster.set('alice', 'k0', v);
    await waitingForLock(opts, 1);
    // Waiting behind it: two fit in 4,096 bytes, a third does not.
    const queued = [roster.set('alice', 'k1', v), roster.set('alice', 'k2', v)];
    const refused = roster.set('alice', 'refused', v);
    const err = await outcome(refused);
    expect(err).toBeInstanceOf(StorageBusyError);
    expect((err as StorageBusyError).code).toBe('resource-constraint');
    // Another user's map is not held up by alice's, and reads see what waits.
    const bob = roster.set('bob', 'k0', v);
    expect(Object.keys(await roster.getAll('alice')).sort()).toEqual(['k0', 'k1', 'k2']);
    expect(await outcome(inFlight, 200)).toBe('pending');

    await release();
    release = undefined;
    await Promise.all([inFlight, ...queued, bob]);
    // Drained: the same change is taken now.
    await roster.set('alice', 'refused', 'later');
    const c = await client(opts);
    try {
      const rows = await c.query<{ username: string; key: string; value: string }>('SELECT username, key, value FROM clove_map ORDER BY username, key');
      expect(rows.rows.map((r) => [r.username, r.key, JSON.parse(r.value) === v ? 'v' : JSON.parse(r.value)])).toEqual([
        ['alice', 'k0', 'v'], ['alice', 'k1', 'v'], ['alice', 'k2', 'v'], ['alice', 'refused', 'later'], ['bob', 'k0', 'v'],
      ]);
    } finally {
      await c.end();
    }
  });

  it('refuses any change past the bound over all users (keyvals and maps share it); a keyval waits as its newest value only', async () => {
    const opts = await freshSchema();
    backend = await openSqlBackend(opts, LIMITS);
    const offline = backend.keyval<string>('localhost', 'offline');
    const priv = backend.map<string>('localhost', 'private');
    release = await stall(opts, 'clove_keyval');
    const v = 'y'.repeat(3000); // 3,002 bytes of JSON
    const accepted = ['u1', 'u2', 'u3', 'u4'].map((u) => offline.set(u, v)); // 12,008 of 16,384 being written
    await waitingForLock(opts, 4);
    // Newer values of u1 wait behind its write in flight, each replacing the last: 3,003 bytes counted once (15,011).
    const newer = [offline.set('u1', `${v}1`), offline.set('u1', `${v}2`), offline.set('u1', `${v}3`)];
    const refusedKv = offline.set('u6', v);
    const refusedMap = priv.set('u7', 'storage', v);
    for (const p of [refusedKv, refusedMap]) expect(await outcome(p)).toBeInstanceOf(StorageBusyError);
    expect(await offline.get('u1')).toBe(`${v}3`);
    expect(await offline.get('u6')).toBeUndefined();

    await release();
    release = undefined;
    await Promise.all([...accepted, ...newer]);
    await offline.set('u6', v); // drained: room again
    await priv.set('u7', 'storage', v);
    const c = await client(opts);
    try {
      const rows = await c.query<{ username: string; value: string }>('SELECT username, value FROM clove_keyval ORDER BY username');
      expect(rows.rows.map((r) => [r.username, (JSON.parse(r.value) as string).length])).toEqual([
        ['u1', 3001], ['u2', 3000], ['u3', 3000], ['u4', 3000], ['u6', 3000],
      ]);
      expect(JSON.parse((await c.query<{ value: string }>('SELECT value FROM clove_keyval WHERE username = $1', ['u1'])).rows[0]!.value)).toBe(`${v}3`);
      expect((await c.query('SELECT 1 FROM clove_map WHERE username = $1', ['u7'])).rowCount).toBe(1);
    } finally {
      await c.end();
    }
  });
});
