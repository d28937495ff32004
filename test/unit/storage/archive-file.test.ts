// The file backend's archive on disk: reopening after a restart, a torn or damaged final
// record (cut and garbled bytes at the end of a real segment file), segment rotation and
// deletion across segments, leftovers of an interrupted deletion, and dropping idle owners.

import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SEGMENT_MAX } from '../../../src/storage/archive/segments.js';
import { createFileBackend } from '../../../src/storage/file.js';
import type { ArchiveItem, ArchiveStore, StorageBackend } from '../../../src/storage/store.js';

const tmpDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const T0 = Date.UTC(2026, 0, 1);
let data: string;
let backend: StorageBackend;
let a: ArchiveStore;
/** alice's directory: <data>/<host>/<store>/<owner>. */
let ownerDir: string;

beforeEach(async () => {
  data = await mkdtemp(path.join(os.tmpdir(), 'clove-archive-file-'));
  tmpDirs.push(data);
  backend = createFileBackend(data);
  a = backend.archive('example.net', 'archive', { maxItems: 1_000_000, maxBytes: 1 << 30 });
  ownerDir = path.join(data, 'example%2enet', 'archive', 'alice');
});

afterEach(async () => {
  await backend.close();
});

/** Restart: close the backend and open a new one on the same directory. */
async function reopen(): Promise<void> {
  await backend.close();
  backend = createFileBackend(data);
  a = backend.archive('example.net', 'archive', { maxItems: 1_000_000, maxBytes: 1 << 30 });
}

async function fill(n: number, payload = (i: number) => `<message><body>${i}</body></message>`, t = T0): Promise<ArchiveItem[]> {
  const ps = [];
  for (let i = 0; i < n; i++) {
    const item = { with: i % 2 === 0 ? 'bob@x/r' : 'carol@y', payload: payload(i), when: t + i * 1000 };
    ps.push(a.append('alice', item).then((id) => ({ id, ...item })));
  }
  return Promise.all(ps); // concurrent appends: group-committed in batches
}

async function segments(): Promise<string[]> {
  return (await readdir(ownerDir)).filter((f) => f.endsWith('.seg')).sort();
}

describe('file archive', () => {
  it('is append-only segment files, and everything acknowledged is there after a restart', async () => {
    const all = await fill(50);
    expect(await segments()).toEqual(['00000001.seg']);
    const seg = path.join(ownerDir, '00000001.seg');
    // Acknowledged records may still be held for the segment (write-behind: they are durable in
    // the journal); a query reaching them writes them, so the segment holds them all after it.
    expect((await a.query('alice')).items).toEqual(all);
    const size = (await stat(seg)).size;
    expect(size).toBe((await a.metadata('alice')).bytes);
    await reopen();
    expect((await a.query('alice')).items).toEqual(all);
    expect((await a.query('alice', { with: 'bob@x', before: true, limit: 3 })).items).toEqual([all[44], all[46], all[48]]);
    // New ids after a restart do not repeat old ones; the file only grew.
    const more = await fill(5, (i) => `again ${i}`, T0 + 100_000);
    expect(new Set([...all, ...more].map((i) => i.id)).size).toBe(55);
    await a.query('alice'); // the new records written (see above)
    expect((await stat(seg)).size).toBeGreaterThan(size);
    expect((await readFile(seg)).subarray(0, size)).toEqual((await readFile(seg)).subarray(0, size));
  });

  it('acknowledges appends awaited one after the other (each starts a new write batch)', async () => {
    for (let i = 0; i < 300; i++) await a.append('alice', { with: 'bob@x', payload: `m${i}`, when: T0 + i });
    expect((await a.metadata('alice')).count).toBe(300);
  }, 15_000);

  it.each([
    ['cut inside the last record', 7],
    ['cut inside the last frame', 3],
  ])('drops a torn final record (%s) and keeps every earlier one', async (_what, keep) => {
    const all = await fill(20);
    await backend.close();
    const seg = path.join(ownerDir, '00000001.seg');
    const size = (await stat(seg)).size;
    const lastSize = Buffer.byteLength(all[19]!.payload) + Buffer.byteLength(all[19]!.with) + 28;
    await truncate(seg, size - lastSize + keep);
    await reopen();
    expect((await a.query('alice')).items).toEqual(all.slice(0, 19));
    expect((await stat(seg)).size).toBe(size - lastSize); // the torn bytes were cut away
    const id = await a.append('alice', { payload: 'after repair', when: T0 + 50_000 });
    await reopen();
    const items = (await a.query('alice')).items;
    expect(items.slice(0, 19)).toEqual(all.slice(0, 19));
    expect(items[19]).toMatchObject({ id, payload: 'after repair' });
  });

  it('drops a final record whose bytes were garbled, and garbage after the last record', async () => {
    const all = await fill(10);
    await backend.close();
    const seg = path.join(ownerDir, '00000001.seg');
    const bytes = await readFile(seg);
    bytes[bytes.length - 3] ^= 0x55; // inside the last payload: the CRC no longer matches
    await writeFile(seg, bytes);
    await reopen();
    expect((await a.query('alice')).items).toEqual(all.slice(0, 9));
    await backend.close();
    await appendFile(seg, Buffer.from([0x20, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]));
    await reopen();
    expect((await a.query('alice')).items).toEqual(all.slice(0, 9));
  });

  it('skips a record damaged in the middle of the last segment and keeps the ones after it', async () => {
    const all = await fill(10);
    await backend.close();
    const seg = path.join(ownerDir, '00000001.seg');
    const bytes = await readFile(seg);
    const sizes = all.map((it) => Buffer.byteLength(it.payload) + Buffer.byteLength(it.with) + 28);
    const fourth = sizes.slice(0, 3).reduce((x, y) => x + y, 0);
    bytes[fourth + sizes[3]! - 2] ^= 0xff; // the 4th record's payload
    await writeFile(seg, bytes);
    await reopen();
    expect((await a.query('alice')).items).toEqual([...all.slice(0, 3), ...all.slice(4)]);
    expect((await stat(seg)).size).toBe(bytes.length); // nothing cut
    const id = await a.append('alice', { payload: 'next', when: T0 + 50_000 });
    await reopen();
    expect((await a.query('alice', { before: true, limit: 2 })).items.map((i) => i.id)).toEqual([all[9]!.id, id]);
  });

  it('leaves a record damaged on disk after the open out of pages instead of failing them', async () => {
    const all = await fill(5);
    await a.query('alice'); // writes the records still held for the segment (write-behind), so the file has them all
    const seg = path.join(ownerDir, '00000001.seg');
    const bytes = await readFile(seg);
    const sizes = all.map((it) => Buffer.byteLength(it.payload) + Buffer.byteLength(it.with) + 28);
    bytes[sizes[0]! + sizes[1]! - 3] ^= 0x01; // inside the 2nd record's payload
    await writeFile(seg, bytes);
    const page = await a.query('alice');
    expect(page.items.map((i) => i.id)).toEqual([all[0]!.id, ...all.slice(2).map((i) => i.id)]);
    expect(page.count).toBe(5);
    expect(await a.get('alice', all[1]!.id)).toBeUndefined();
  });

  it('rotates segments and deletes by age across them, removing the bytes from disk', async () => {
    const big = (i: number): string => `${i}:`.padEnd(64 * 1024, 'x');
    const all = await fill(100, big);
    const segs = await segments();
    expect(segs.length).toBeGreaterThanOrEqual(2);
    for (const s of segs) expect((await stat(path.join(ownerDir, s))).size).toBeLessThanOrEqual(SEGMENT_MAX + 64 * 1024);
    const perSeg = Math.floor(SEGMENT_MAX / (64 * 1024 + 40));
    // Everything of the first segment and a few of the second go.
    const cut = perSeg + 5;
    expect(await a.deleteOlderThan(all[cut]!.when)).toBe(cut);
    expect(await segments()).not.toContain(segs[0]);
    const left = (await a.query('alice')).items;
    expect(left.map((i) => i.id)).toEqual(all.slice(cut).map((i) => i.id));
    expect(left[0]!.payload).toBe(big(cut));
    let onDisk = 0;
    for (const s of await segments()) onDisk += (await stat(path.join(ownerDir, s))).size;
    expect(onDisk).toBe((await a.metadata('alice')).bytes);
    // Still right after a restart, and appends continue in the last segment.
    await reopen();
    expect((await a.query('alice')).items.map((i) => i.id)).toEqual(all.slice(cut).map((i) => i.id));
    await a.truncate('alice', 3);
    await reopen();
    expect((await a.query('alice')).items.map((i) => i.id)).toEqual(all.slice(97).map((i) => i.id));
    const id = await a.append('alice', { payload: 'tail', when: T0 + 10 ** 7 });
    expect((await a.query('alice', { before: true, limit: 1 })).items[0]!.id).toBe(id);
  });

  it('expires by age owners that are not open (an owner with nothing old enough is skipped)', async () => {
    await fill(10);
    const recent = await a.append('bob', { payload: 'new', when: T0 + 60_000 });
    await reopen();
    expect(await a.deleteOlderThan(T0 + 5000)).toBe(5);
    expect((await a.metadata('alice')).count).toBe(5);
    expect((await a.query('bob')).items.map((i) => i.id)).toEqual([recent]);
    await reopen();
    expect(await a.deleteOlderThan(T0 + 60_001)).toBe(6);
    expect(await a.owners()).toEqual([]);
  });

  it('opens closed segments from their summary files, and scans one whose summary is bad', async () => {
    await fill(80, (i) => `${i}:`.padEnd(64 * 1024, 'x')); // two segments; even items are with bob@x/r
    expect((await segments()).length).toBeGreaterThanOrEqual(2);
    expect(await readdir(ownerDir)).toContain('00000001.idx');
    await backend.close();
    // Change the first record's `with` on disk (bob → zob): a scan of the closed segment (which
    // skips CRCs at open) would index the changed name, its summary still has the original.
    const seg1 = path.join(ownerDir, '00000001.seg');
    const bytes = await readFile(seg1);
    expect(bytes.toString('utf8', 28, 35)).toBe('bob@x/r');
    bytes[28] = 'z'.charCodeAt(0);
    await writeFile(seg1, bytes);
    await reopen();
    expect((await a.query('alice', { with: 'bob@x', limit: 0 })).count).toBe(40);
    await backend.close();
    const idx = path.join(ownerDir, '00000001.idx');
    const ib = await readFile(idx);
    ib[ib.length - 1] ^= 1; // its CRC no longer matches: ignored, the segment is scanned
    await writeFile(idx, ib);
    await reopen();
    expect((await a.query('alice', { with: 'bob@x', limit: 0 })).count).toBe(39);
    expect((await a.query('alice', { with: 'zob@x', limit: 0 })).count).toBe(1);
  });

  it('deleting the owner removes its directory; a directory without meta.json is no archive', async () => {
    await fill(3);
    await a.deleteOwner('alice');
    await expect(stat(ownerDir)).rejects.toMatchObject({ code: 'ENOENT' });
    // Debris of a deletion interrupted after meta.json went: ignored and cleaned.
    const debris = path.join(data, 'example%2enet', 'archive', 'bob');
    await mkdir(debris, { recursive: true });
    await writeFile(path.join(debris, '00000001.seg'), 'junk');
    await reopen();
    expect(await a.owners()).toEqual([]);
    expect((await a.query('bob')).count).toBe(0);
    await a.append('bob', { payload: 'fresh' });
    expect((await a.query('bob')).items.map((i) => i.payload)).toEqual(['fresh']);
  });

  it('drops idle owners from memory past the cache budget and reads them back', async () => {
    await backend.close();
    backend = createFileBackend(data, { cacheBytes: 1, cacheOwners: 1 });
    a = backend.archive('example.net', 'archive');
    const ids: Record<string, string> = {};
    for (const o of ['o1', 'o2', 'o3']) ids[o] = await a.append(o, { payload: o, with: 'w@x' });
    for (const o of ['o1', 'o2', 'o3']) expect(await a.get(o, ids[o]!)).toMatchObject({ payload: o });
    for (const o of ['o3', 'o1']) expect((await a.query(o, { with: 'w@x' })).count).toBe(1);
  });
});
