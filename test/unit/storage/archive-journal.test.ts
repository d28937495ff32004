// The archive store's journal (src/storage/archive/journal.ts): records durable in the journal
// but missing from their segment (a crash between the journal write and the segment write, or
// segment bytes lost before a checkpoint synced them) are written back at the next open, once;
// a torn journal tail is ignored; a deletion is never undone by a replay; the journal stays
// bounded in bytes. The crash is simulated by copying the data directory while the backend is
// open (what a SIGKILL leaves: the files as written) and editing real segment and journal files.

import { cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeJournalRecord, JOURNAL_FILE } from '../../../src/storage/archive/journal.js';
import { createFileBackend } from '../../../src/storage/file.js';
import type { ArchiveItem, ArchiveStore, StorageBackend } from '../../../src/storage/store.js';

const tmpDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const T0 = Date.UTC(2026, 0, 1);
const LIMITS = { maxItems: 1_000_000, maxBytes: 1 << 30 };
let data: string;
let backend: StorageBackend;
let a: ArchiveStore;
const storeDir = (d: string): string => path.join(d, 'example%2enet', 'archive');

beforeEach(async () => {
  data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-journal-'));
  tmpDirs.push(data);
  backend = createFileBackend(data);
  a = backend.archive('example.net', 'archive', LIMITS);
});

afterEach(async () => {
  await backend.close();
});

/** Open a new backend on `dir` (the old one closed or left as a crash would). */
function openAt(dir: string): void {
  data = dir;
  backend = createFileBackend(dir);
  a = backend.archive('example.net', 'archive', LIMITS);
}

/** What a SIGKILL would leave now: a copy of the files; the running backend is left alone. */
async function crashCopy(): Promise<string> {
  const copy = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-journal-crash-'));
  tmpDirs.push(copy);
  await cp(data, copy, { recursive: true });
  return copy;
}

async function fill(owner: string, n: number, tag = 'm'): Promise<ArchiveItem[]> {
  const ps = [];
  for (let i = 0; i < n; i++) {
    const item = { with: i % 2 === 0 ? 'bob@x/r' : 'carol@y', payload: `<message><body>${tag}${i}</body></message>`, when: T0 + i * 1000 };
    ps.push(a.append(owner, item).then((id) => ({ id, ...item })));
  }
  return Promise.all(ps);
}

const recordSize = (it: ArchiveItem): number => Buffer.byteLength(String(it.payload)) + Buffer.byteLength(it.with) + 28;

/**
 * Close, then move the last `k` records of `owner`'s segment into the journal: the state of a
 * crash after the journal write of those records and before (or during) their segment write.
 * `keep` bytes of the first moved record stay in the segment (a torn segment write).
 */
async function loseFromSegment(owner: string, items: ArchiveItem[], k: number, keep = 0, batched = false): Promise<Buffer[]> {
  await backend.close();
  const seg = path.join(storeDir(data), owner, '00000001.seg');
  const bytes = await readFile(seg);
  const lost = items.slice(items.length - k).reduce((s, it) => s + recordSize(it), 0);
  const cut = bytes.length - lost;
  const recs: Buffer[] = [];
  for (let off = cut, i = items.length - k; i < items.length; i++) {
    recs.push(bytes.subarray(off, off + recordSize(items[i]!)));
    off += recordSize(items[i]!);
  }
  await truncate(seg, cut + keep);
  // One journal record per item, or one for them all (a write batch of the owner).
  const journal = batched ? [encodeJournalRecord(owner, Buffer.concat(recs))] : recs.map((r) => encodeJournalRecord(owner, r));
  await writeFile(path.join(storeDir(data), JOURNAL_FILE), Buffer.concat(journal));
  return recs;
}

describe('archive journal', () => {
  it.each([
    ['a journal record per item', false],
    ['one journal record for a write batch', true],
  ])('writes journal records missing from the segment back at the next open, once (%s)', async (_what, batched) => {
    const all = await fill('alice', 12);
    await loseFromSegment('alice', all, 4, 0, batched);
    openAt(data);
    expect((await a.query('alice')).items).toEqual(all);
    expect(await stat(path.join(storeDir(data), JOURNAL_FILE)).then((s) => s.size)).toBe(0); // emptied after the replay
    // Appends go on after the replayed ones, and a second open adds nothing.
    const id = await a.append('alice', { payload: 'after', when: T0 + 99_000 });
    await backend.close();
    openAt(data);
    const items = (await a.query('alice')).items;
    expect(items.slice(0, 12)).toEqual(all);
    expect(items.slice(12)).toEqual([expect.objectContaining({ id, payload: 'after' })]);
  });

  it('replays over a torn segment write, and ignores records already in the segment', async () => {
    const all = await fill('alice', 10);
    const recs = await loseFromSegment('alice', all, 3, 11); // 11 bytes of the first lost record stay
    // The journal also holds two records that did reach the segment (before the lost ones).
    const seg = await readFile(path.join(storeDir(data), 'alice', '00000001.seg'));
    const sizes = all.map(recordSize);
    const at5 = sizes.slice(0, 5).reduce((x, y) => x + y, 0);
    const both = [seg.subarray(at5, at5 + sizes[5]!), seg.subarray(at5 + sizes[5]!, at5 + sizes[5]! + sizes[6]!), ...recs];
    await writeFile(path.join(storeDir(data), JOURNAL_FILE), Buffer.concat(both.map((r) => encodeJournalRecord('alice', r))));
    openAt(data);
    expect((await a.query('alice')).items).toEqual(all);
    expect((await a.metadata('alice')).count).toBe(10);
  });

  it.each([
    ['cut short', (b: Buffer): Buffer => b.subarray(0, b.length - 5)],
    ['with a garbled byte', (b: Buffer): Buffer => (b[b.length - 2]! ^= 0x5a, b)],
  ])('ignores a torn journal tail (%s: a write a crash cut, never acknowledged)', async (_what, tear) => {
    const all = await fill('alice', 8);
    await loseFromSegment('alice', all, 3);
    const j = path.join(storeDir(data), JOURNAL_FILE);
    await writeFile(j, tear(await readFile(j)));
    openAt(data);
    expect((await a.query('alice')).items).toEqual(all.slice(0, 7));
  });

  it('never brings back an archive deleted after its appends were journaled', async () => {
    await fill('alice', 10, 'old');
    await fill('bob', 5);
    await a.deleteOwner('alice');
    const fresh = await fill('alice', 3, 'new');
    const copy = await crashCopy();
    await backend.close();
    openAt(copy);
    expect((await a.query('alice')).items).toEqual(fresh);
    expect((await a.metadata('bob')).count).toBe(5);
  });

  it('never brings back items deleted by age or truncation after their appends were journaled', async () => {
    await fill('alice', 10, 'old');
    expect(await a.deleteOlderThan(T0 + 1e9)).toBe(10); // every item: the archive goes
    const fresh = await fill('alice', 2, 'new');
    await fill('carol', 6);
    expect(await a.truncate('carol', 0)).toBe(6);
    const copy = await crashCopy();
    await backend.close();
    openAt(copy);
    expect((await a.query('alice')).items).toEqual(fresh);
    expect((await a.metadata('carol')).count).toBe(0);
  });

  it('keeps the journal bounded in bytes (checkpoints empty it), and loses nothing across them', async () => {
    await backend.close();
    backend = createFileBackend(data, { journalBytes: 64 * 1024 });
    a = backend.archive('example.net', 'archive', LIMITS);
    const owners = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const want = new Map<string, string[]>();
    let maxSeen = 0;
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        owners.map(async (o) => {
          const id = await a.append(o, { with: 'x@y', payload: `${o} ${round} ${'z'.repeat(500)}` });
          want.set(o, [...(want.get(o) ?? []), id]);
        }),
      );
      maxSeen = Math.max(maxSeen, (await stat(path.join(storeDir(data), JOURNAL_FILE))).size);
    }
    // 20 × 30 records of ~560 bytes went through it (~330 KiB); it never held much more than the bound.
    expect(maxSeen).toBeLessThan(64 * 1024 + 20 * 600);
    const copy = await crashCopy();
    await backend.close();
    openAt(copy);
    for (const o of owners) expect((await a.query(o)).items.map((i) => i.id)).toEqual(want.get(o));
    expect((await readdir(storeDir(copy))).filter((f) => !f.startsWith('u')).sort()).toEqual([JOURNAL_FILE]);
  });
});

