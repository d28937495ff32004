// The file backend's map store as a base file plus a change log (src/storage/file-map.ts): a
// change costs bytes in proportion to itself, data written by the old layout (one JSON file per
// user map) reads as it is, a torn last line is ignored and cut off, compaction folds the log
// into the base, a crash between the two steps of a compaction loses and changes nothing, and
// the changes waiting for the disk are bounded in bytes.
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileBackend } from '../../../src/storage/file.js';
import { COMPACT_MIN_BYTES } from '../../../src/storage/file-map.js';
import { encodeRecord } from '../../../src/storage/map-log.js';
import { StorageBusyError } from '../../../src/storage/store.js';

let dir: string;
const store = (): string => path.join(dir, 'localhost', 'pep');
const base = (): string => path.join(store(), 'alice.json');
const log = (): string => path.join(store(), 'alice.log');

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clove-map-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A map of `n` nodes of `bytes` each, written as the old layout did: one JSON file, no log. */
async function oldLayout(n: number, bytes: number): Promise<Record<string, { items: string[] }>> {
  const all: Record<string, { items: string[] }> = {};
  for (let i = 0; i < n; i++) all[`node${i}`] = { items: ['x'.repeat(bytes)] };
  await mkdir(store(), { recursive: true });
  await writeFile(base(), JSON.stringify(all));
  return all;
}

describe('file map store: base file and change log', () => {
  it('reads a map written by the old layout, and a change to one key leaves the base file alone', async () => {
    const all = await oldLayout(100, 10_000); // ~1 MB of other nodes
    const before = await stat(base());
    const m = createFileBackend(dir).map<{ items: string[] }>('localhost', 'pep');
    expect(await m.get('alice', 'node7')).toEqual(all.node7);
    await m.set('alice', 'mine', { items: ['hello'] });
    // The base is the same file, untouched; the change is one short line of the log.
    const after = await stat(base());
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect((await stat(log())).size).toBe(Buffer.byteLength(encodeRecord({ k: 'mine', v: { items: ['hello'] } })));
    const again = createFileBackend(dir).map<{ items: string[] }>('localhost', 'pep');
    expect(Object.keys(await again.getAll('alice'))).toEqual([...Object.keys(all), 'mine']);
    expect(await again.get('alice', 'mine')).toEqual({ items: ['hello'] });
  });

  it('ignores a torn last line, cuts it off at the next change, and keeps every acknowledged one', async () => {
    const m = createFileBackend(dir).map<number>('localhost', 'pep');
    await m.set('alice', 'a', 1);
    await m.set('alice', 'b', 2);
    const good = (await stat(log())).size;
    await appendFile(log(), '1234abcd {"k":"c","v":'); // a crash in the middle of a write
    const reopened = createFileBackend(dir).map<number>('localhost', 'pep');
    expect(await reopened.getAll('alice')).toEqual({ a: 1, b: 2 });
    await reopened.set('alice', 'd', 4);
    expect((await stat(log())).size).toBe(good + Buffer.byteLength(encodeRecord({ k: 'd', v: 4 })));
    expect(await createFileBackend(dir).map<number>('localhost', 'pep').getAll('alice')).toEqual({ a: 1, b: 2, d: 4 });
  });

  it('folds the log into the base once it outgrows max(64 KiB, the base), and reads the same after', async () => {
    const m = createFileBackend(dir).map<string>('localhost', 'pep');
    const value = 'v'.repeat(1000);
    const rounds = Math.ceil(COMPACT_MIN_BYTES / 1000) + 5;
    for (let i = 0; i < 3; i++) await m.set('alice', `k${i % 10}`, `${i}${value}`);
    // Below the threshold: only the log, no base yet.
    expect((await stat(log())).size).toBeGreaterThan(3000);
    await expect(stat(base())).rejects.toThrow();
    for (let i = 3; i < rounds; i++) await m.set('alice', `k${i % 10}`, `${i}${value}`);
    // Compacted at least once: the log holds only what came after, the base the rest.
    expect((await stat(log()).catch(() => ({ size: 0 }))).size).toBeLessThan(COMPACT_MIN_BYTES);
    const all = await createFileBackend(dir).map<string>('localhost', 'pep').getAll('alice');
    expect(Object.keys(all).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
    expect(all[`k${(rounds - 1) % 10}`]).toBe(`${rounds - 1}${value}`);
    expect(Object.keys(JSON.parse(await readFile(base(), 'utf8')) as object)).toHaveLength(10);
  });

  it('a crash after a compaction wrote the base but before it removed the log changes nothing', async () => {
    const m = createFileBackend(dir).map<number>('localhost', 'pep');
    await m.set('alice', 'a', 1);
    await m.set('alice', 'b', 2);
    await m.set('alice', 'a', 3);
    await m.set('alice', 'b', undefined);
    const logText = await readFile(log(), 'utf8');
    // What compaction writes first: the base with the log applied; the log is still there.
    await writeFile(base(), JSON.stringify({ a: 3 }));
    expect(await readFile(log(), 'utf8')).toBe(logText);
    const reopened = createFileBackend(dir).map<number>('localhost', 'pep');
    expect(await reopened.getAll('alice')).toEqual({ a: 3 });
    await reopened.set('alice', 'c', 5);
    expect(await createFileBackend(dir).map<number>('localhost', 'pep').getAll('alice')).toEqual({ a: 3, c: 5 });
  });

  it('setAll replaces the whole map in the base at once; setAll(undefined) removes both files', async () => {
    const m = createFileBackend(dir).map<number>('localhost', 'pep');
    await m.set('alice', 'a', 1);
    await m.setAll('alice', { z: 26 });
    expect(JSON.parse(await readFile(base(), 'utf8'))).toEqual({ z: 26 });
    expect(await readdir(store())).toEqual(['alice.json']);
    await m.set('alice', 'y', 25);
    await m.setAll('alice', undefined);
    expect(await readdir(store())).toEqual([]);
    expect(await createFileBackend(dir).map<number>('localhost', 'pep').getAll('alice')).toEqual({});
  });

  it('loses no change when 100 are made to one map at once (they share appends)', async () => {
    const m = createFileBackend(dir).map<number>('localhost', 'pep');
    await Promise.all(Array.from({ length: 100 }, (_, i) => m.set('alice', `k${i}`, i)));
    const all = await createFileBackend(dir).map<number>('localhost', 'pep').getAll('alice');
    expect(Object.keys(all)).toHaveLength(100);
    expect(all.k99).toBe(99);
  });
});

describe('file map store: changes waiting for the disk are bounded in bytes', () => {
  const limits = { keyBytes: 4096, totalBytes: 16_384 };
  const v = 'x'.repeat(1500); // one change is ~1,530 bytes of log line

  /** Settles every promise; the refusals (StorageBusyError) by index. */
  async function refusals(ps: Array<Promise<void>>): Promise<number[]> {
    const out = await Promise.allSettled(ps);
    return out.flatMap((r, i) => (r.status === 'rejected' && r.reason instanceof StorageBusyError ? [i] : []));
  }

  it('refuses a change past the per-user bound at once; those before it are written, and later ones are taken again', async () => {
    const m = createFileBackend(dir, undefined, limits).map<string>('localhost', 'pep');
    // Made in one tick, before any write starts: they all wait for the disk together.
    const sets = ['k0', 'k1', 'k2', 'k3'].map((k) => m.set('alice', k, v));
    const bob = m.set('bob', 'k0', v); // another user's map has its own bound
    expect(await refusals([...sets, bob])).toEqual([2, 3]);
    const again = createFileBackend(dir).map<string>('localhost', 'pep');
    expect(Object.keys(await again.getAll('alice'))).toEqual(['k0', 'k1']);
    expect(Object.keys(await again.getAll('bob'))).toEqual(['k0']);
    // Written: there is room again.
    await Promise.all([m.set('alice', 'k2', v), m.set('alice', 'k3', v)]);
    expect(Object.keys(await createFileBackend(dir).map<string>('localhost', 'pep').getAll('alice'))).toEqual(['k0', 'k1', 'k2', 'k3']);
  });

  it('refuses a change past the bound over all maps; those before it are written, and later ones are taken again', async () => {
    const m = createFileBackend(dir, undefined, limits).map<string>('localhost', 'pep');
    const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10', 'u11'];
    const sets = users.map((u) => m.set(u, 'k', v)); // ten fit in 16,384 bytes
    expect(await refusals(sets)).toEqual([10, 11]);
    const again = createFileBackend(dir).map<string>('localhost', 'pep');
    for (const u of users) expect(await again.get(u, 'k'), u).toBe(['u10', 'u11'].includes(u) ? undefined : v);
    await Promise.all([m.set('u10', 'k', v), m.set('u11', 'k', v)]);
    expect(await createFileBackend(dir).map<string>('localhost', 'pep').get('u11', 'k')).toBe(v);
  });
});
