// Segment write-behind of the file archive (src/storage/archive/segment-writer.ts): appends are
// acknowledged once durable in the journal, their segment bytes are written later in larger
// writes. Every read path sees records not written yet, held bytes stay within their bounds,
// and a failed delayed write keeps the records in the journal (no checkpoint drops them), is
// reported to later uses, and the records come back at the next start.

import { cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileOwner } from '../../../src/storage/archive/file-owner.js';
import { Journal, JOURNAL_FILE, JournalFullError } from '../../../src/storage/archive/journal.js';
import { resolveLimits } from '../../../src/storage/archive/owner.js';
import { WriteBehind, type WriteBehindOptions } from '../../../src/storage/archive/segment-writer.js';
import { createFileBackend } from '../../../src/storage/file.js';
import { ArchiveWriteError, type ArchiveItem, type ArchiveStore, type StorageBackend } from '../../../src/storage/store.js';

const tmpDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const T0 = Date.UTC(2026, 0, 1);
const LIMITS = { maxItems: 1_000_000, maxBytes: 1 << 30 };
/** Long enough that nothing is written by the timer while a test runs. */
const NEVER = 3_600_000;
let data: string;
let backend: StorageBackend | undefined;
let a: ArchiveStore;
const storeDir = (): string => path.join(data, 'example%2enet', 'archive');

afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

async function start(writeBehind: WriteBehindOptions, cache: { cacheOwners?: number } = {}): Promise<void> {
  data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-'));
  tmpDirs.push(data);
  open(writeBehind, cache);
}

function open(writeBehind: WriteBehindOptions = {}, cache: { cacheOwners?: number } = {}): void {
  backend = createFileBackend(data, { writeBehind, ...cache });
  a = backend.archive('example.net', 'archive', LIMITS);
}

let clock = 0;
async function fill(owner: string, n: number, tag = 'm', size = 0): Promise<ArchiveItem[]> {
  const ps = [];
  for (let i = 0; i < n; i++) {
    const item = { with: i % 2 === 0 ? 'bob@x/r' : 'carol@y', payload: `<message><body>${tag}${i}${'z'.repeat(size)}</body></message>`, when: T0 + ++clock * 1000 };
    ps.push(a.append(owner, item).then((id) => ({ id, ...item })));
  }
  return Promise.all(ps);
}

/** Bytes of an owner's segment files on disk now. */
async function onDisk(owner: string): Promise<number> {
  const dir = path.join(storeDir(), owner);
  let n = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.seg')) n += (await stat(path.join(dir, f))).size;
  return n;
}

describe('archive segment write-behind', () => {
  it('acknowledges appends before their segment write, and every read path sees them', async () => {
    await start({ delayMs: NEVER });
    const all = await fill('alice', 20);
    expect(await onDisk('alice')).toBe(0); // acknowledged, durable in the journal only
    expect(await a.metadata('alice')).toMatchObject({ count: 20, last: { id: all[19]!.id } });
    expect(await a.get('alice', all[7]!.id)).toEqual(all[7]); // a read writes what is held
    expect(await onDisk('alice')).toBe((await a.metadata('alice')).bytes);
    const more = await fill('alice', 5, 'n');
    expect((await a.query('alice', { before: true, limit: 3 })).items).toEqual(more.slice(2));
    // Deletions, and appends after them, with records held at the time.
    const again = await fill('alice', 4, 'o');
    expect(await a.truncate('alice', 6)).toBe(23);
    expect((await a.query('alice')).items).toEqual([...more.slice(3), ...again]);
    const last = await fill('alice', 3, 'p');
    await backend!.close();
    open({ delayMs: NEVER });
    expect((await a.query('alice')).items).toEqual([...more.slice(3), ...again, ...last]);
    // An owner whose records are held is dropped from memory only once they are written.
    await a.deleteOwner('alice');
    expect(await a.owners()).toEqual([]);
  });

  it('writes held records after the delay on its own, in few writes', async () => {
    await start({ delayMs: 30 });
    await fill('alice', 40);
    const bytes = (await a.metadata('alice')).bytes;
    for (let i = 0; i < 100 && (await onDisk('alice')) < bytes; i++) await sleep(20);
    expect(await onDisk('alice')).toBe(bytes);
  });

  it('keeps an owner holding records in memory past the cache bound, and reads them after it is dropped', async () => {
    await start({ delayMs: NEVER }, { cacheOwners: 1 });
    const ids = new Map<string, ArchiveItem[]>();
    for (const o of ['o1', 'o2', 'o3']) ids.set(o, await fill(o, 3, o));
    for (const o of ['o1', 'o2', 'o3']) expect((await a.query(o)).items).toEqual(ids.get(o));
    for (const o of ['o3', 'o1', 'o2']) expect((await a.query(o, { with: 'bob@x' })).items).toEqual(ids.get(o)!.filter((i) => i.with === 'bob@x/r'));
  });

  it('writes and syncs held records across a segment rotation and at a checkpoint', async () => {
    data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-'));
    tmpDirs.push(data);
    backend = createFileBackend(data, { writeBehind: { delayMs: NEVER }, journalBytes: 256 * 1024 });
    a = backend.archive('example.net', 'archive', LIMITS);
    const all = await fill('alice', 90, 'big', 64 * 1024); // > 4 MiB: two segments, several checkpoints
    expect((await readdir(path.join(storeDir(), 'alice'))).filter((f) => f.endsWith('.seg')).length).toBe(2);
    // Whatever the journal no longer holds is in the segments (a SIGKILL now loses nothing).
    const copy = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-crash-'));
    tmpDirs.push(copy);
    await cp(data, copy, { recursive: true });
    const b2 = createFileBackend(copy);
    try {
      expect((await b2.archive('example.net', 'archive', LIMITS).query('alice', { limit: 100 })).items).toEqual(all);
    } finally {
      await b2.close();
    }
  });

  it('keeps held bytes within the per-owner and the total bound', async () => {
    await start({ delayMs: NEVER, flushBytes: 1 << 30, ownerBytes: 4096, totalBytes: 10 * 1024 });
    // One append at a time per owner (each batch is one record of ~1 KiB), four owners at once.
    const owners = ['o1', 'o2', 'o3', 'o4'];
    await Promise.all(
      owners.map(async (o) => {
        for (let i = 0; i < 30; i++) await a.append(o, { with: 'x@y', payload: `${i}`.padEnd(1000, 'q') });
      }),
    );
    let held = 0;
    for (const o of owners) {
      const h = (await a.metadata(o)).bytes - (await onDisk(o));
      expect(h).toBeLessThanOrEqual(4096);
      held += h;
    }
    expect(held).toBeLessThanOrEqual(10 * 1024);
    expect(held).toBeGreaterThan(0);
  });

  it('reports a failed delayed write, keeps its records in the journal, and a restart brings them back', async () => {
    data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-'));
    tmpDirs.push(data);
    await mkdir(storeDir(), { recursive: true });
    const journal = new Journal(storeDir(), 8 * 1024);
    const wb = new WriteBehind({ delayMs: NEVER });
    const lim = resolveLimits(LIMITS);
    const alice = new FileOwner(path.join(storeDir(), 'alice'), 'alice', Promise.resolve(), journal, wb);
    const items = Array.from({ length: 10 }, (_, i) => ({ with: 'bob@x', payload: `<message><body>${i}</body></message>`, when: T0 + i }));
    const ids = await Promise.all(items.map((it) => alice.append(it, lim)));
    expect(await onDisk('alice')).toBe(0);
    // A disk fault under the delayed write: its file handle is closed.
    await (await alice.writer.handle(1, () => Promise.reject(new Error('not open')))).close();
    await expect(alice.query({})).rejects.toBeInstanceOf(ArchiveWriteError);
    // Reported to every later use, clearly.
    await expect(alice.append({ payload: 'later' }, lim)).rejects.toThrow(/alice.*segment write failed.*journal/);
    await expect(alice.get(ids[0]!)).rejects.toBeInstanceOf(ArchiveWriteError);
    await expect(alice.metadata()).rejects.toBeInstanceOf(ArchiveWriteError);
    await expect(alice.dropOldest({ keep: 1 })).rejects.toBeInstanceOf(ArchiveWriteError);
    expect(alice.idle()).toBe(false); // never dropped from the cache: a new instance would not know them
    // No checkpoint empties the journal now; it stops growing at twice its bound.
    await expect(journal.checkpoint()).rejects.toBeInstanceOf(ArchiveWriteError);
    expect((await stat(path.join(storeDir(), JOURNAL_FILE))).size).toBeGreaterThan(0);
    const bob = new FileOwner(path.join(storeDir(), 'bob'), 'bob', Promise.resolve(), journal, wb);
    let refused: unknown;
    for (let i = 0; i < 40 && refused === undefined; i++) await bob.append({ payload: 'y'.repeat(1000) }, lim).catch((e: unknown) => (refused = e));
    expect(refused).toBeInstanceOf(JournalFullError);
    expect((await stat(path.join(storeDir(), JOURNAL_FILE))).size).toBeLessThan(2 * 8 * 1024 + 2 * 1100);
    // A restart (what the process leaves now) replays them from the journal.
    const copy = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-crash-'));
    tmpDirs.push(copy);
    await cp(data, copy, { recursive: true });
    await journal.close().catch(() => undefined); // its checkpoint fails: the journal keeps its records
    expect((await stat(path.join(storeDir(), JOURNAL_FILE))).size).toBeGreaterThan(0);
    for (const dir of [copy, data]) {
      const b = createFileBackend(dir);
      try {
        const page = await b.archive('example.net', 'archive', LIMITS).query('alice');
        expect(page.items.map((i) => i.id)).toEqual(ids);
        expect(page.items.map((i) => i.payload)).toEqual(items.map((i) => i.payload));
      } finally {
        await b.close();
      }
    }
  });

  it('deletes the archive of an owner whose delayed write failed', async () => {
    data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-wb-'));
    tmpDirs.push(data);
    await mkdir(storeDir(), { recursive: true });
    const journal = new Journal(storeDir());
    const wb = new WriteBehind({ delayMs: NEVER });
    const alice = new FileOwner(path.join(storeDir(), 'alice'), 'alice', Promise.resolve(), journal, wb);
    await alice.append({ payload: 'x' }, resolveLimits(LIMITS));
    await (await alice.writer.handle(1, () => Promise.reject(new Error('not open')))).close();
    await expect(alice.query({})).rejects.toBeInstanceOf(ArchiveWriteError);
    await alice.destroy();
    await journal.close();
    expect((await stat(path.join(storeDir(), JOURNAL_FILE))).size).toBe(0);
    const b = createFileBackend(data);
    try {
      expect(await b.archive('example.net', 'archive').owners()).toEqual([]);
    } finally {
      await b.close();
    }
  });
});
