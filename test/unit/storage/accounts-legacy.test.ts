// Accounts imported from Prosody with SCRAM-SHA-1 keys only: the per-host list of such accounts
// (what decides whether SCRAM-SHA-256 is offered), how account changes keep it right, and that it
// survives a new Accounts instance on the same file storage.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { deriveScram } from '../../../src/sasl/credentials.js';
import { SaslFailure } from '../../../src/sasl/mechanism.js';
import { SCRAM_SHA_1, SCRAM_SHA_256 } from '../../../src/sasl/scram.js';
import { Accounts, SHA1_ONLY_KEY, sha1OnlyUsers, type AccountRecord } from '../../../src/storage/accounts.js';
import { BcryptPool } from '../../../src/storage/bcrypt-pool.js';
import { createFileBackend } from '../../../src/storage/file.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import type { KeyValStore } from '../../../src/storage/store.js';
import { noteSha1OnlyAccounts, offeredMechanisms, type SaslHost } from '../../../src/stream/sasl.js';
import { ScramClient } from '../sasl/scram-client.js';

const pool = new BcryptPool(1);
const tmpDirs: string[] = [];
afterAll(async () => {
  await pool.close();
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const memStore = (): KeyValStore<AccountRecord> => createMemoryBackend().keyval<AccountRecord>('localhost', 'accounts');
const open = (store: KeyValStore<AccountRecord>, readOnly = false): Accounts => new Accounts(store, { bcryptCost: 4, iterations: 64, hasher: pool, readOnly });
const sha1Of = (password: string): ReturnType<typeof deriveScram> => deriveScram(password, 'sha1', 64);
const storedList = async (store: KeyValStore<AccountRecord>): Promise<unknown> => ((await store.get(SHA1_ONLY_KEY)) as unknown as { users: string[] } | undefined)?.users;

async function tmpDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'clove-legacy-'));
  tmpDirs.push(d);
  return d;
}

describe('accounts lacking SCRAM-SHA-256 keys', () => {
  it('is conservative until loaded, then true for a host of native accounts', async () => {
    const accounts = open(memStore());
    expect(accounts.allHaveSha256()).toBe(false); // not loaded yet: do not offer SCRAM-SHA-256
    await accounts.ready;
    expect(accounts.allHaveSha256()).toBe(true);
    expect(accounts.sha1OnlyCount()).toBe(0);
    await accounts.create('native', 'pw');
    expect(accounts.allHaveSha256()).toBe(true);
  });

  it('import adds the user; the bookkeeping record is not an account', async () => {
    const store = memStore();
    const accounts = open(store);
    await accounts.importSha1Only('Alice', await sha1Of('old-pw'));
    expect(accounts.allHaveSha256()).toBe(false);
    expect(accounts.sha1OnlyCount()).toBe(1);
    expect(await storedList(store)).toEqual(['alice']);
    expect(await accounts.list()).toEqual(['alice']);
    expect(await accounts.exists(SHA1_ONLY_KEY)).toBe(false);
    expect(await accounts.getScram(SHA1_ONLY_KEY, 'sha1')).toBeUndefined();
    expect(await accounts.getScram('alice', 'sha256')).toBeUndefined();
    expect(await accounts.verifyPlain('alice', 'wrong')).toBe(false);
    expect(accounts.allHaveSha256()).toBe(false);
    await expect(accounts.importSha1Only('alice', await sha1Of('x'))).rejects.toMatchObject({ code: 'exists' });
  });

  it('a PLAIN login completes the record and removes the user', async () => {
    const store = memStore();
    const accounts = open(store);
    await accounts.importSha1Only('bob', await sha1Of('bob-pw'));
    await accounts.importSha1Only('carol', await sha1Of('carol-pw'));
    expect(await accounts.verifyPlain('bob', 'bob-pw')).toBe(true);
    await expect.poll(() => accounts.sha1OnlyCount()).toBe(1);
    expect(await storedList(store)).toEqual(['carol']);
    expect(await accounts.getScram('bob', 'sha256')).toBeDefined();
    expect(await accounts.verifyPlain('carol', 'carol-pw')).toBe(true);
    await expect.poll(() => accounts.allHaveSha256()).toBe(true);
    expect(await storedList(store)).toEqual([]);
  });

  it('a password change or a deletion removes the user', async () => {
    const store = memStore();
    const accounts = open(store);
    await accounts.importSha1Only('dave', await sha1Of('d'));
    await accounts.importSha1Only('erin', await sha1Of('e'));
    await accounts.setPassword('dave', 'new');
    expect(accounts.sha1OnlyCount()).toBe(1);
    await accounts.remove('erin');
    expect(accounts.allHaveSha256()).toBe(true);
    expect(await storedList(store)).toEqual([]);
  });

  it('persists across a new Accounts instance on the same file storage', async () => {
    const dir = await tmpDir();
    const a1 = open(createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts'));
    await a1.importSha1Only('frank', await sha1Of('f'));
    await a1.importSha1Only('grace', await sha1Of('g'));
    await a1.create('native', 'n');
    const a2 = open(createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts'));
    await a2.ready;
    expect(a2.sha1OnlyCount()).toBe(2);
    expect(a2.allHaveSha256()).toBe(false);
    expect(await a2.list()).toEqual(['frank', 'grace', 'native']);
    await a2.setPassword('frank', 'x');
    await a2.remove('grace');
    const a3 = open(createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts'));
    await a3.ready;
    expect(a3.allHaveSha256()).toBe(true);
  });

  it('drops stale entries on load (a crash between the two writes) and finds records no list names', async () => {
    const store = memStore();
    const raw = store as unknown as KeyValStore<unknown>;
    // An entry whose record was completed, one with no record, and a SHA-1-only record imported
    // before the list existed (the list absent means "never built": every record is checked).
    const full = open(store);
    await full.create('done', 'pw');
    await store.set('old', { scram: { sha1: await sha1Of('o') } as AccountRecord['scram'], bcrypt: '', created: 0 });
    await raw.set(SHA1_ONLY_KEY, undefined); // as an older Clove left it: no list at all
    const scanned = open(store);
    await scanned.ready;
    expect(scanned.sha1OnlyCount()).toBe(1);
    expect(await storedList(store)).toEqual(['old']);
    await raw.set(SHA1_ONLY_KEY, { users: ['done', 'gone', 'old'] });
    const checked = open(store);
    await checked.ready;
    expect(checked.sha1OnlyCount()).toBe(1);
    expect(await storedList(store)).toEqual(['old']);
  });

  it('an empty store gets an empty list at once, so the next start reads one record, not every account', async () => {
    const store = memStore();
    const first = open(store);
    await first.ready;
    expect(await storedList(store)).toEqual([]);
    await first.create('new1', 'pw');
    await first.create('new2', 'pw');
    const gets: string[] = [];
    const counting: KeyValStore<AccountRecord> = Object.create(store, {
      get: { value: (user: string) => (gets.push(user), store.get(user)) },
    });
    const next = open(counting);
    await next.ready;
    expect(next.allHaveSha256()).toBe(true);
    expect(gets).toEqual([SHA1_ONLY_KEY]);
  });

  it('read-only instances and sha1OnlyUsers(store, false) write nothing', async () => {
    const dir = await tmpDir();
    const store = createFileBackend(dir).keyval<AccountRecord>('localhost', 'accounts');
    await store.set('old', { scram: { sha1: await sha1Of('o') } as AccountRecord['scram'], bcrypt: '', created: 0 });
    expect(await sha1OnlyUsers(store, false)).toEqual(['old']);
    const ro = open(store, true);
    await ro.ready;
    expect(ro.sha1OnlyCount()).toBe(1);
    expect(await readdir(path.join(dir, 'localhost', 'accounts'))).toEqual(['old.json']);
  });

  it('the host offers SCRAM-SHA-256 only while every account has its keys', async () => {
    const accounts = open(memStore());
    const host: SaslHost = { log: pino({ level: 'silent' }), accounts };
    await accounts.ready;
    expect(offeredMechanisms(true, host)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    expect(offeredMechanisms(false, host)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1']);
    await accounts.importSha1Only('henry', await sha1Of('h'));
    expect(offeredMechanisms(true, host)).toEqual(['SCRAM-SHA-1', 'PLAIN']);
    expect(offeredMechanisms(false, host)).toEqual(['SCRAM-SHA-1']);
    await accounts.setPassword('henry', 'h2');
    expect(offeredMechanisms(true, host)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  });

  it('says once per host why SCRAM-SHA-256 is not offered', async () => {
    const accounts = open(memStore());
    await accounts.importSha1Only('jack', await sha1Of('j'));
    await accounts.importSha1Only('kate', await sha1Of('k'));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l).msg as string) });
    const host: SaslHost = { log, accounts };
    noteSha1OnlyAccounts(host);
    offeredMechanisms(true, host);
    offeredMechanisms(true, host);
    await accounts.ready;
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual(['2 imported accounts lack SCRAM-SHA-256 keys; offering SCRAM-SHA-1 and PLAIN until they log in with PLAIN or change password']);
  });

  it('SCRAM-SHA-256 for an account without those keys fails with not-authorized; SCRAM-SHA-1 works', async () => {
    const accounts = open(memStore());
    await accounts.importSha1Only('ivy', await sha1Of('ivy-pw'));
    const run = async (hash: 'sha1' | 'sha256'): Promise<string> => {
      const s = (hash === 'sha1' ? SCRAM_SHA_1 : SCRAM_SHA_256).start(accounts, 'localhost');
      const c = new ScramClient(hash, 'ivy', 'ivy-pw', 'nonce123');
      try {
        const first = await s.step(Buffer.from(c.first()));
        const done = await s.step(Buffer.from(c.final(first.kind === 'challenge' ? first.data.toString() : '')));
        return done.kind;
      } catch (e) {
        if (e instanceof SaslFailure) return e.condition;
        throw e;
      }
    };
    expect(await run('sha256')).toBe('not-authorized');
    expect(await run('sha1')).toBe('success');
  });
});
