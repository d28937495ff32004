// File backend specifics: layout, durability across instances, debris, errors.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileBackend, decodeName, encodeName, STALE_TMP_MS } from '../../../src/storage/file.js';
import { StorageBusyError } from '../../../src/storage/store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clove-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('name encoding', () => {
  it('percent-encodes every byte outside [a-z0-9], like Prosody', () => {
    expect(encodeName('localhost')).toBe('localhost');
    expect(encodeName('a.b')).toBe('a%2eb');
    expect(encodeName('example.com')).toBe('example%2ecom');
    expect(encodeName('é')).toBe('%c3%a9');
    expect(encodeName('A_-')).toBe('%41%5f%2d');
    expect(encodeName('💡')).toBe('%f0%9f%92%a1');
  });
  it('decodes its own names and Prosody-style ones', () => {
    for (const s of ['a.b', 'é', 'A_-', '💡', '%', 'x/y']) expect(decodeName(encodeName(s))).toBe(s);
    expect(decodeName('Alice%2eb')).toBe('Alice.b');
    expect(decodeName('100%')).toBe('100%');
  });
});

describe('file backend', () => {
  it('lays files out as <data>/<host>/<store>/<user>.json', async () => {
    const b = createFileBackend(dir);
    await b.keyval('example.com', 'accounts').set('a.b', { x: 1 });
    await b.map('localhost', 'roster').set('alice', 'bob@example.com', { name: 'Bob' });
    expect(JSON.parse(await readFile(path.join(dir, 'example%2ecom', 'accounts', 'a%2eb.json'), 'utf8'))).toEqual({ x: 1 });
    // A map's change is one checksummed line of <user>.log; a compaction (setAll does one) moves it into <user>.json.
    expect(await readFile(path.join(dir, 'localhost', 'roster', 'alice.log'), 'utf8')).toMatch(/^[0-9a-f]{8} \{"k":"bob@example.com","v":\{"name":"Bob"\}\}\n$/);
    await b.map('localhost', 'roster').setAll('alice', { 'bob@example.com': { name: 'Bob' } });
    expect(JSON.parse(await readFile(path.join(dir, 'localhost', 'roster', 'alice.json'), 'utf8'))).toEqual({
      'bob@example.com': { name: 'Bob' },
    });
    expect(await readdir(path.join(dir, 'localhost', 'roster'))).toEqual(['alice.json']);
    await b.keyval('example.com', 'accounts').set('a.b', undefined);
    expect(await readdir(path.join(dir, 'example%2ecom', 'accounts'))).toEqual([]);
  });

  it('keeps acknowledged writes for the next instance', async () => {
    const b1 = createFileBackend(dir);
    await b1.keyval('localhost', 'kv').set('u', { v: 'saved' });
    const b2 = createFileBackend(dir);
    expect(await b2.keyval('localhost', 'kv').get('u')).toEqual({ v: 'saved' });
    expect(await b2.keyval('localhost', 'kv').users()).toEqual(['u']);
  });

  it('close() waits for writes still queued', async () => {
    const b1 = createFileBackend(dir);
    const kv = b1.keyval<number>('localhost', 'kv');
    for (let i = 0; i < 20; i++) void kv.set(`u${i % 3}`, i);
    await b1.close();
    const b2 = createFileBackend(dir).keyval<number>('localhost', 'kv');
    expect([await b2.get('u0'), await b2.get('u1'), await b2.get('u2')]).toEqual([18, 19, 17]);
  });

  it('ignores temp files and removes stale ones on the first write to a directory', async () => {
    const store = path.join(dir, 'localhost', 'kv');
    await mkdir(store, { recursive: true });
    await writeFile(path.join(store, 'u.json'), '{"ok":true}');
    await writeFile(path.join(store, 'u.json.0123456789abcdef.tmp'), '{"half');
    await writeFile(path.join(store, 'ghost.json.fedcba9876543210.tmp'), '');
    await writeFile(path.join(store, 'fresh.json.1111111111111111.tmp'), '');
    const old = new Date(Date.now() - 2 * STALE_TMP_MS);
    await utimes(path.join(store, 'u.json.0123456789abcdef.tmp'), old, old);
    await utimes(path.join(store, 'ghost.json.fedcba9876543210.tmp'), old, old);

    const b = createFileBackend(dir);
    const kv = b.keyval<unknown>('localhost', 'kv');
    expect(await kv.get('u')).toEqual({ ok: true });
    expect(await kv.users()).toEqual(['u']);
    await kv.set('v', 1);
    await b.close(); // also waits for the clean-up
    // Stale debris is gone; a young temp file may be another process's write in flight.
    expect((await readdir(store)).sort()).toEqual(['fresh.json.1111111111111111.tmp', 'u.json', 'v.json']);
  });

  it('rejects the set() when the write fails and shows what the disk has', async () => {
    await writeFile(path.join(dir, 'blocker'), 'not a directory');
    const b = createFileBackend(path.join(dir, 'blocker'));
    const kv = b.keyval<number>('localhost', 'kv');
    await expect(kv.set('u', 1)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await kv.get('u')).toBeUndefined();
    expect(await kv.users()).toEqual([]);
  });

  it('reports a file damaged by someone else with its path', async () => {
    const store = path.join(dir, 'localhost', 'kv');
    await mkdir(store, { recursive: true });
    await writeFile(path.join(store, 'u.json'), '{"oops"');
    await expect(createFileBackend(dir).keyval('localhost', 'kv').get('u')).rejects.toThrow(/u\.json: not valid JSON/);
  });

  it('creates files readable by the owner only', async () => {
    await createFileBackend(dir).keyval('localhost', 'kv').set('u', 1);
    const { mode } = await stat(path.join(dir, 'localhost', 'kv', 'u.json'));
    expect(mode & 0o077).toBe(0);
  });
});

describe('read cache', () => {
  // "At once" as src/storage/file-read-cache.ts promises it: every read that starts after the
  // event loop has taken in the change's inotify event, i.e. after one poll (a read between the
  // rename and that poll may still get the old text).
  it('sees a file another process replaced (rename), also with the same size, at once', async () => {
    const poll = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
    const { mkdtemp, rename, writeFile: write, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'clove-readcache-'));
    try {
      const backend = createFileBackend(dir);
      const store = backend.keyval<{ v: string }>('h', 's');
      await store.set('u', { v: 'aaaa' });
      expect(await store.get('u')).toEqual({ v: 'aaaa' });
      expect(await store.get('u')).toEqual({ v: 'aaaa' }); // now from the cache
      // What `clove passwd` in another process does: write a temp file, rename it over.
      const file = join(dir, 'h', 's', 'u.json');
      for (const v of ['bbbb', 'cccc', 'dddd']) {
        await write(`${file}.x.tmp`, JSON.stringify({ v }));
        await rename(`${file}.x.tmp`, file);
        await poll();
        expect(await store.get('u')).toEqual({ v });
      }
      // Removed by someone else: gone.
      await rm(file);
      await poll();
      expect(await store.get('u')).toBeUndefined();
      await backend.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('long names (longer than a file name may be)', () => {
  const longUser = 'é'.repeat(200); // 400 bytes, 1200 encoded
  const longHost = `${'a'.repeat(63)}.`.repeat(15) + 'b'.repeat(63); // 1023 bytes, a valid domain

  it('stores, reads, lists and deletes a 200 × "é" user and a 1023-byte host', async () => {
    const b = createFileBackend(dir);
    const kv = b.keyval<{ v: number }>(longHost, 'accounts');
    await kv.set(longUser, { v: 1 });
    await kv.set('alice', { v: 2 });
    const map = b.map<string>(longHost, 'roster');
    await map.set(longUser, 'k', 'x');
    expect(await map.get(longUser, 'k')).toBe('x');
    expect(await kv.users()).toEqual(['alice', longUser].sort());
    // Another instance (no in-memory state) finds it too.
    const again = createFileBackend(dir).keyval<{ v: number }>(longHost, 'accounts');
    expect(await again.get(longUser)).toEqual({ v: 1 });
    expect(await again.users()).toEqual(['alice', longUser].sort());
    for (const e of await readdir(dir)) expect(Buffer.byteLength(e)).toBeLessThanOrEqual(255);
    await kv.set(longUser, undefined);
    expect(await again.users()).toEqual(['alice']);
    expect(await again.get(longUser)).toBeUndefined();
  });

  it('keeps names that fit readable, where they always were', async () => {
    const fits = 'x'.repeat(229); // 229 + '.json' + a temp suffix of 21 bytes = 255
    const b = createFileBackend(dir);
    await b.keyval('localhost', 'kv').set(fits, 1);
    await b.keyval('localhost', 'kv').set(`${fits}y`, 2);
    const files = (await readdir(path.join(dir, 'localhost', 'kv'))).sort();
    expect(files[1]).toBe(`${fits}.json`);
    expect(files[0]).toMatch(/^_h-[0-9a-f]{64}\.json$/);
    expect(await b.keyval('localhost', 'kv').users()).toEqual([fits, `${fits}y`]);
  });
});

describe('keyval writes waiting for the disk', () => {
  it('count against the byte bound over the backend (with the map logs), the newest value of a file once; past it a write is refused, and taken again once written', async () => {
    const b = createFileBackend(dir, undefined, { keyBytes: 4096, totalBytes: 16_384 });
    const kv = b.keyval<string>('localhost', 'offline');
    const v = 'x'.repeat(1500); // 1,502 bytes of JSON
    // Made in one tick: each file's first value is being written (13,518 bytes for nine)...
    const first = Array.from({ length: 9 }, (_, i) => kv.set(`u${i}`, v));
    // ...newer values of u0 replace one another behind it (1,502 more, counted once)...
    const newer = [kv.set('u0', `${v}a`), kv.set('u0', `${v}b`), kv.set('u0', `${v}c`)];
    // ...and nothing else fits in 16,384.
    const refused = [kv.set('u9', v), b.map<string>('localhost', 'pep').set('u10', 'node', v)];
    const settled = await Promise.allSettled([...first, ...newer, ...refused]);
    expect(settled.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason instanceof StorageBusyError ? 'busy' : String(r.reason)))).toEqual([
      ...Array<string>(12).fill('ok'), 'busy', 'busy',
    ]);
    const fresh = createFileBackend(dir).keyval<string>('localhost', 'offline');
    expect(await fresh.get('u0')).toBe(`${v}c`);
    expect(await fresh.get('u9')).toBeUndefined();
    expect(await fresh.users()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8']);
    await kv.set('u9', v); // written: room again
    expect(await createFileBackend(dir).keyval<string>('localhost', 'offline').get('u9')).toBe(v);
  });
});
