// The file backend's read cache (src/storage/file-read-cache.ts): a repeated read costs no file
// system call, for files that exist and files that do not; what another backend on the same
// directory (another process's view: `clove passwd`, `adduser`, `deluser`) writes becomes visible;
// the directory watches show in the kernel's inotify table and are gone after close().

import { readdir, readFile, readlink, rm, stat, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** Every call into node:fs/promises, and every node:fs readFile, made by the code under test (the backend's only file I/O besides fs.watch). */
const fsCalls = vi.hoisted(() => ({ count: 0, hold: undefined as Promise<void> | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const counted: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fs)) {
    counted[name] =
      typeof value === 'function' && name !== 'default'
        ? async (...args: unknown[]) => {
            fsCalls.count++;
            return (value as (...a: unknown[]) => unknown)(...args);
          }
        : value;
  }
  return counted;
});
/**
 * The read cache reads files with node:fs's callback readFile (src/storage/file-read-cache.ts):
 * counted, and a test may hold a finished read back, as a slow disk would.
 */
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  type Done = (err: NodeJS.ErrnoException | null, data?: string | Buffer) => void;
  const readFile = (file: string, options: unknown, done: Done): void => {
    fsCalls.count++;
    fs.readFile(file, options as BufferEncoding, (err, data) => {
      if (fsCalls.hold) void fsCalls.hold.then(() => done(err, data));
      else done(err, data);
    });
  };
  return { ...fs, default: { ...fs, readFile }, readFile };
});

const { createFileBackend } = await import('../../../src/storage/file.js');
const { FileReadCache, WATCHED_DIRS_MAX } = await import('../../../src/storage/file-read-cache.js');

type Rec = { v: string };
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clove-readcache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Calls into node:fs/promises made while `f` runs. */
async function callsDuring(f: () => Promise<unknown>): Promise<number> {
  const before = fsCalls.count;
  await f();
  return fsCalls.count - before;
}

/** Let the event loop poll once, so the inotify events already queued by the kernel are taken in. */
const poll = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

/** Inodes of the directories this process watches through inotify, from /proc/self/fdinfo. */
async function watchedInodes(): Promise<Set<number>> {
  const out = new Set<number>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== 'anon_inode:inotify') continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+) /gm)) out.add(parseInt(m[1]!, 16));
  }
  return out;
}

describe('read cache', () => {
  it('answers a repeated read of an existing file without any file system call', async () => {
    const b = createFileBackend(dir);
    const kv = b.keyval<Rec>('h', 'accounts');
    await kv.set('alice', { v: 'a' });
    // The first read goes to the disk (it proves the counter sees the backend's calls)…
    expect(await callsDuring(async () => expect(await kv.get('alice')).toEqual({ v: 'a' }))).toBeGreaterThan(0);
    // …the next ones do not: no stat, no open, no read.
    for (let i = 0; i < 3; i++) expect(await callsDuring(async () => expect(await kv.get('alice')).toEqual({ v: 'a' }))).toBe(0);
    await b.close();
  });

  it('answers a repeated read of a missing file (a negative entry) without any file system call', async () => {
    const b = createFileBackend(dir);
    const kv = b.keyval<Rec>('h', 'roster');
    await kv.set('someone', { v: 'x' }); // the store directory exists
    expect(await callsDuring(async () => expect(await kv.get('nobody')).toBeUndefined())).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) expect(await callsDuring(async () => expect(await kv.get('nobody')).toBeUndefined())).toBe(0);
    await b.close();
  });

  it('keeps checking with a stat where nothing can be watched (neither the directory nor its near parents exist)', async () => {
    const c = new FileReadCache();
    const file = path.join(dir, 'a', 'b', 'c', 'd', 'u.json');
    for (let i = 0; i < 3; i++) expect(await callsDuring(async () => expect(await c.read(file)).toBeNull())).toBeGreaterThan(0);
    expect(c.watchers).toBe(0);
    c.close();
  });

  it('sees what another backend on the same directory changed: a changed, a new and a deleted file', async () => {
    const ours = createFileBackend(dir);
    const theirs = createFileBackend(dir);
    const kv = ours.keyval<Rec>('h', 'accounts');
    const other = theirs.keyval<Rec>('h', 'accounts');
    await other.set('alice', { v: 'old' });
    expect(await kv.get('alice')).toEqual({ v: 'old' });
    expect(await kv.get('alice')).toEqual({ v: 'old' }); // cached
    expect(await kv.get('bob')).toBeUndefined();
    expect(await kv.get('bob')).toBeUndefined(); // cached as missing

    await other.set('alice', { v: 'new' }); // `clove passwd`
    await other.set('bob', { v: 'created' }); // `clove adduser`
    await poll();
    expect(await kv.get('alice')).toEqual({ v: 'new' });
    expect(await kv.get('bob')).toEqual({ v: 'created' });

    await other.set('alice', undefined); // `clove deluser`
    await poll();
    expect(await kv.get('alice')).toBeUndefined();
    expect(await kv.get('bob')).toEqual({ v: 'created' });
    await Promise.all([ours.close(), theirs.close()]);
  });

  it('sees files in a directory that did not exist at the first read (watched through its parent until made)', async () => {
    const ours = createFileBackend(dir);
    const theirs = createFileBackend(dir);
    const kv = ours.keyval<Rec>('h', 'roster');
    const other = theirs.keyval<Rec>('h', 'roster');
    await theirs.keyval<Rec>('h', 'accounts').set('alice', { v: 'account' }); // the host's directory exists
    expect(await kv.get('alice')).toBeUndefined(); // no h/roster yet: h is watched instead
    expect(await callsDuring(async () => expect(await kv.get('alice')).toBeUndefined())).toBe(0);
    await other.set('alice', { v: 'first' }); // creates h/roster
    await poll();
    expect(await kv.get('alice')).toEqual({ v: 'first' });
    // Now h/roster itself is watched: a missing file is cached as missing, and its creation by
    // the other backend is still seen.
    expect(await kv.get('bob')).toBeUndefined();
    expect(await callsDuring(async () => expect(await kv.get('bob')).toBeUndefined())).toBe(0);
    expect((await watchedInodes()).has((await stat(path.join(dir, 'h', 'roster'))).ino)).toBe(true);
    await other.set('bob', { v: 'later' });
    await other.set('alice', { v: 'second' });
    await poll();
    expect(await kv.get('bob')).toEqual({ v: 'later' });
    expect(await kv.get('alice')).toEqual({ v: 'second' });
    await Promise.all([ours.close(), theirs.close()]);
  });

  it('answers the first read of any file in a store directory not made yet without a file system call, and sees the directory made by this backend or another', async () => {
    const ours = createFileBackend(dir);
    const theirs = createFileBackend(dir);
    const kv = ours.keyval<Rec>('h', 'roster');
    await ours.keyval<Rec>('h', 'accounts').set('alice', { v: 'account' }); // the host's directory exists
    expect(await kv.get('u0')).toBeUndefined(); // h/roster is missing: h is watched instead
    // A login storm reads a different user's roster each time: none of them costs a syscall.
    expect(await callsDuring(async () => {
      for (let i = 1; i <= 50; i++) expect(await kv.get(`u${i}`)).toBeUndefined();
    })).toBe(0);
    // This backend makes the directory: its own value is seen at once, with no event awaited.
    await kv.set('u1', { v: 'ours' });
    expect(await kv.get('u1')).toEqual({ v: 'ours' });
    // Another backend makes a directory this one knows missing: seen once its event is in.
    const prefs = ours.keyval<Rec>('h', 'prefs');
    expect(await prefs.get('u2')).toBeUndefined();
    expect(await callsDuring(async () => expect(await prefs.get('u3')).toBeUndefined())).toBe(0);
    await theirs.keyval<Rec>('h', 'prefs').set('u3', { v: 'theirs' });
    await poll();
    expect(await prefs.get('u3')).toEqual({ v: 'theirs' });
    await Promise.all([ours.close(), theirs.close()]);
  });

  it('sees a store directory removed and made again by someone else', async () => {
    const ours = createFileBackend(dir);
    const kv = ours.keyval<Rec>('h', 'accounts');
    const other = () => createFileBackend(dir).keyval<Rec>('h', 'accounts');
    await other().set('alice', { v: 'one' });
    expect(await kv.get('alice')).toEqual({ v: 'one' });
    expect(await kv.get('carol')).toBeUndefined();
    await rm(path.join(dir, 'h', 'accounts'), { recursive: true });
    await poll();
    expect(await kv.get('alice')).toBeUndefined();
    const again = other();
    await again.set('alice', { v: 'two' });
    await again.set('carol', { v: 'new' });
    await poll();
    expect(await kv.get('alice')).toEqual({ v: 'two' });
    expect(await kv.get('carol')).toEqual({ v: 'new' });
    await ours.close();
  });

  it('closes its directory watches at close()', async () => {
    const b = createFileBackend(dir);
    await b.keyval<Rec>('h', 'accounts').set('alice', { v: 'a' });
    await b.keyval<Rec>('h', 'roster').set('alice', { v: 'r' });
    await b.keyval<Rec>('h', 'accounts').get('alice');
    await b.keyval<Rec>('h', 'roster').get('bob');
    const inodes = await Promise.all(['accounts', 'roster'].map(async (s) => (await stat(path.join(dir, 'h', s))).ino));
    let watched = await watchedInodes();
    for (const ino of inodes) expect(watched.has(ino)).toBe(true);
    await b.close();
    await poll();
    watched = await watchedInodes();
    for (const ino of inodes) expect(watched.has(ino)).toBe(false);
  });

  it('watches at most WATCHED_DIRS_MAX directories; reads in others are checked with a stat and stay correct', async () => {
    const { mkdir, writeFile, rename } = await import('node:fs/promises');
    const c = new FileReadCache();
    const files: string[] = [];
    for (let i = 0; i <= WATCHED_DIRS_MAX; i++) {
      const d = path.join(dir, `s${i}`);
      await mkdir(d);
      files.push(path.join(d, 'u.json'));
      await writeFile(files[i]!, `${i}`);
    }
    for (const f of files) await c.read(f);
    expect(c.watchers).toBe(WATCHED_DIRS_MAX);
    const last = files[WATCHED_DIRS_MAX]!;
    expect(await callsDuring(() => c.read(last))).toBeGreaterThan(0); // one stat a read
    expect(await callsDuring(() => c.read(files[0]!))).toBe(0);
    await writeFile(`${last}.tmp`, '"changed"');
    await rename(`${last}.tmp`, last);
    expect(await c.read(last)).toBe('"changed"');
    c.close();
    expect(c.watchers).toBe(0);
  });

  it('does not cache a read that was in flight when its file changed', async () => {
    const c = new FileReadCache();
    const file = path.join(dir, 'u.json');
    const { writeFile, rename } = await import('node:fs/promises');
    await writeFile(file, '"old"');
    // A read has got the old text but not returned yet; meanwhile the file is replaced and the
    // event is taken in. The old text may be returned, but must not stay cached.
    let release!: () => void;
    fsCalls.hold = new Promise<void>((r) => (release = r));
    const inFlight = c.read(file);
    await poll();
    fsCalls.hold = undefined;
    await writeFile(`${file}.tmp`, '"new"');
    await rename(`${file}.tmp`, file);
    await poll();
    release();
    expect(await inFlight).toBe('"old"');
    expect(await c.read(file)).toBe('"new"');
    c.close();
    expect(c.watchers).toBe(0);
  });
});
