import bcrypt from 'bcryptjs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PLAIN } from '../../../src/sasl/plain.js';
import { SCRAM_SHA_1, SCRAM_SHA_256 } from '../../../src/sasl/scram.js';
import { deriveScram } from '../../../src/sasl/credentials.js';
import { AccountError, Accounts, type AccountRecord } from '../../../src/storage/accounts.js';
import { BcryptPool } from '../../../src/storage/bcrypt-pool.js';
import { createFileBackend } from '../../../src/storage/file.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import type { KeyValStore, StorageBackend } from '../../../src/storage/store.js';
import { eachBackend } from './backends.js';
import { ScramClient } from '../sasl/scram-client.js';

const pool = new BcryptPool(2);
const tmpDirs: string[] = [];
afterAll(async () => {
  await pool.close();
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The backend the running describe block tests (memory, files, PostgreSQL). */
let backend: () => Promise<StorageBackend> = async () => createMemoryBackend();

/** Accounts over a fresh accounts store of the backend under test. */
async function fresh(opts: { bcryptCost?: number; iterations?: number; storeBcrypt?: boolean } = {}): Promise<{ accounts: Accounts; store: KeyValStore<AccountRecord> }> {
  const store = (await backend()).keyval<AccountRecord>('localhost', 'accounts');
  return { accounts: new Accounts(store, { bcryptCost: 4, hasher: pool, ...opts }), store };
}
function storeOf() {
  return createMemoryBackend().keyval<AccountRecord>('localhost', 'accounts');
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AccountError) return e.code;
    throw e;
  }
  throw new Error('expected an AccountError');
}

describe.each(eachBackend('clove-accounts-'))('Accounts on %s storage', (_name, make) => {
  beforeEach(() => {
    backend = make;
  });

  it('creates an account with SCRAM keys only by default: no bcrypt hash, no bcrypt worker', async () => {
    let bcryptCalls = 0;
    const store = (await backend()).keyval<AccountRecord>('localhost', 'accounts');
    const accounts = new Accounts(store, { hasher: { hash: async () => String(++bcryptCalls) } });
    await accounts.create('Zed', 'pw');
    await accounts.setPassword('zed', 'pw2');
    const rec = (await store.get('zed'))!;
    expect(rec.bcrypt).toBeUndefined();
    expect(bcryptCalls).toBe(0);
    expect(await accounts.verifyPlain('zed', 'pw2')).toBe(true);
    expect(rec.scram.sha1.iterations).toBe(10000);
  });

  it('creates an account with SCRAM keys and (clove_store_bcrypt) a bcrypt hash, never the password', async () => {
    const { accounts, store } = await fresh({ storeBcrypt: true });
    const before = Date.now();
    await accounts.create('Alice', 'correct horse');
    expect(await accounts.exists('alice')).toBe(true);
    expect(await accounts.exists('ALICE')).toBe(true);
    expect(await accounts.list()).toEqual(['alice']);
    const rec = (await store.get('alice'))!;
    expect(JSON.stringify(rec)).not.toContain('correct horse');
    expect(rec.bcrypt).toMatch(/^\$2b\$04\$/);
    expect(await bcrypt.compare('correct horse', rec.bcrypt!)).toBe(true);
    expect(rec.scram.sha1.iterations).toBe(10000);
    expect(Buffer.from(rec.scram.sha256.storedKey, 'base64')).toHaveLength(32);
    expect(rec.created).toBeGreaterThanOrEqual(before);
    expect(await accounts.getScram('alice', 'sha256')).toEqual(rec.scram.sha256);
    expect(await accounts.getScram('nobody', 'sha1')).toBeUndefined();
    expect(await accounts.getScram('not valid', 'sha1')).toBeUndefined();
  });

  it('refuses to create an account twice, also under concurrency', async () => {
    const { accounts } = await fresh();
    await accounts.create('bob', 'pw1');
    expect(await code(accounts.create('BOB', 'pw2'))).toBe('exists');
    expect(await accounts.verifyPlain('bob', 'pw1')).toBe(true);
    const results = await Promise.allSettled([accounts.create('carol', 'a'), accounts.create('Carol', 'b'), accounts.create('carol', 'c')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && (r.reason as AccountError).code === 'exists')).toHaveLength(2);
  });

  it('verifies plain passwords against the SCRAM keys', async () => {
    const { accounts } = await fresh();
    await accounts.create('dave', '\u2168 lives');
    expect(await accounts.verifyPlain('dave', 'IX lives')).toBe(true); // SASLprep: NFKC
    expect(await accounts.verifyPlain('Dave', '\u2168 lives')).toBe(true);
    expect(await accounts.verifyPlain('dave', 'ix lives')).toBe(false);
    expect(await accounts.verifyPlain('dave', '')).toBe(false);
    expect(await accounts.verifyPlain('dave', 'a\u0000')).toBe(false);
    expect(await accounts.verifyPlain('nobody', 'IX lives')).toBe(false);
    expect(await accounts.verifyPlain('no body', 'IX lives')).toBe(false);
  });

  it('falls back to the SHA-1 key for records that only have one', async () => {
    const { accounts, store } = await fresh();
    const sha1 = await deriveScram('legacy', 'sha1');
    await store.set('old', { scram: { sha1 } as AccountRecord['scram'], bcrypt: '', created: 0 });
    expect(await accounts.verifyPlain('old', 'legacy')).toBe(true);
    expect(await accounts.verifyPlain('old', 'other')).toBe(false);
  });

  it('changes passwords and keeps the creation time', async () => {
    const { accounts, store } = await fresh();
    await accounts.create('erin', 'old');
    const created = (await store.get('erin'))!.created;
    await accounts.setPassword('Erin', 'new');
    expect(await accounts.verifyPlain('erin', 'new')).toBe(true);
    expect(await accounts.verifyPlain('erin', 'old')).toBe(false);
    expect((await store.get('erin'))!.created).toBe(created);
    expect(await code(accounts.setPassword('nobody', 'x'))).toBe('not-found');
  });

  it('removes accounts', async () => {
    const { accounts } = await fresh();
    await accounts.create('frank', 'pw');
    await accounts.create('grace', 'pw');
    await accounts.remove('FRANK');
    expect(await accounts.exists('frank')).toBe(false);
    expect(await accounts.list()).toEqual(['grace']);
    expect(await code(accounts.remove('frank'))).toBe('not-found');
  });

  it('rejects invalid usernames and passwords with typed errors', async () => {
    const { accounts } = await fresh();
    for (const u of ['', 'a b', 'a@b', 'a/b', 'x'.repeat(1024)]) expect(await code(accounts.create(u, 'pw'))).toBe('invalid-username');
    expect(await code(accounts.create('henry', ''))).toBe('invalid-password');
    expect(await code(accounts.create('henry', '\u00AD'))).toBe('invalid-password'); // maps to nothing
    expect(await code(accounts.create('henry', 'a\u0007'))).toBe('invalid-password');
    expect(await accounts.exists('a b')).toBe(false);
    expect(await accounts.list()).toEqual([]);
  });

  it('validates its options', () => {
    expect(() => new Accounts(storeOf(), { bcryptCost: 3 })).toThrow(RangeError);
    expect(() => new Accounts(storeOf(), { iterations: 0 })).toThrow(RangeError);
    expect(new Accounts(storeOf(), { hasher: pool }).scramIterations).toBe(10000);
  });

  it('uses the configured iteration count for keys and for the SCRAM decoy', async () => {
    const { accounts } = await fresh({ iterations: 5000 });
    await accounts.create('ivan', 'pw');
    expect((await accounts.getScram('ivan', 'sha1'))!.iterations).toBe(5000);
    expect(accounts.scramIterations).toBe(5000);
  });

  it.each([
    ['SCRAM-SHA-1', 'sha1'],
    ['SCRAM-SHA-256', 'sha256'],
  ] as const)('serves %s logins from a file-backed store', async (_name, hash) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clove-accounts-'));
    tmpDirs.push(dir);
    const accounts = new Accounts(createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts'), { bcryptCost: 4, hasher: pool });
    await accounts.create('judy', 'sw0rdf1sh');
    // A second instance reads what the first wrote.
    const again = new Accounts(createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts'), { hasher: pool });
    const mech = hash === 'sha1' ? SCRAM_SHA_1 : SCRAM_SHA_256;
    const s = mech.start(again, 'localhost');
    const c = new ScramClient(hash, 'judy', 'sw0rdf1sh', 'clientnonce');
    const first = await s.step(Buffer.from(c.first()));
    const sf = first.kind === 'challenge' ? first.data.toString() : '';
    const done = await s.step(Buffer.from(c.final(sf)));
    expect(done).toMatchObject({ kind: 'success', username: 'judy' });
    expect(c.serverFinalOk(done.kind === 'success' ? done.data!.toString() : '')).toBe(true);
    expect(await PLAIN.start(again, 'localhost').step(Buffer.from('\0judy\0sw0rdf1sh'))).toMatchObject({ kind: 'success' });
  });

  it('keeps the event loop responsive while hashing at a high bcrypt cost', async () => {
    const { accounts } = await fresh({ bcryptCost: 12, storeBcrypt: true });
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    await accounts.create('kim', 'pw');
    const took = performance.now() - t0;
    clearInterval(timer);
    // A cost-12 hash takes ~300 ms of CPU here; run on the event loop it would show as one gap.
    expect(took).toBeGreaterThan(100);
    expect(maxGap).toBeLessThan(took / 2);
  }, 20_000);
});

describe('BcryptPool', () => {
  it('hashes in parallel and produces verifiable hashes', async () => {
    const hashes = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((p) => pool.hash(p, 4)));
    expect(new Set(hashes).size).toBe(5);
    expect(bcrypt.compareSync('c', hashes[2]!)).toBe(true);
  });

  it('rejects bad costs and work after close()', async () => {
    const p = new BcryptPool(1);
    await expect(p.hash('x', 3)).rejects.toThrow(RangeError);
    const pending = p.hash('x', 10);
    await p.close();
    await expect(pending).rejects.toThrow();
    await expect(p.hash('x', 4)).rejects.toThrow(/closed/);
  });
});
