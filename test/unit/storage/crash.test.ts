// Atomicity: a writer killed with SIGKILL mid-write leaves only whole JSON files, and every
// write it saw acknowledged is still there. The same for archive appends: the archive opens
// (a torn final record is cut away) with every acknowledged item, and takes appends again.

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFileBackend, STALE_TMP_MS } from '../../../src/storage/file.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
let tmp: string;
let compiled: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clove-crash-'));
  // Compile the backend to plain JS so a bare `node` child can run it.
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [
    tsc,
    path.join(root, 'src/storage/file.ts'),
    path.join(root, 'src/storage/store.ts'),
    '--outDir', path.join(tmp, 'build'),
    '--rootDir', path.join(root, 'src'),
    '--module', 'nodenext',
    '--moduleResolution', 'nodenext',
    '--target', 'es2022',
    '--skipLibCheck',
    '--types', 'node',
    '--typeRoots', path.join(root, 'node_modules', '@types'),
  ]);
  // nodenext treats .js as ESM only under a package.json with "type": "module".
  await writeFile(path.join(tmp, 'build', 'package.json'), '{"type":"module"}');
  compiled = pathToFileURL(path.join(tmp, 'build', 'storage', 'file.js')).href;
}, 60_000);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Run a writer child (`script` with `args`), handing each stdout line to `onLine`; once it
 * returns true, SIGKILL the child `extraMs` later. Resolves when the child is killed.
 */
function runUntilKilled(script: string, args: string[], extraMs: number, onLine: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, script), compiled, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let killing = false;
    let buf = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.stdout.on('data', (d: Buffer) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (onLine(line) && !killing) {
          killing = true;
          setTimeout(() => child.kill('SIGKILL'), extraMs);
        }
      }
    });
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`${script} exited on its own: ${err}`));
      else resolve();
    });
  });
}

/** Run the writer until it has acknowledged `minAcks` rounds plus a little, then SIGKILL it. */
async function runAndKill(data: string, minAcks: number, extraMs: number): Promise<number> {
  let lastAck = -1;
  let acks = 0;
  await runUntilKilled('crash-writer.mjs', [data], extraMs, (line) => {
    lastAck = Number(line.slice(4));
    return ++acks >= minAcks;
  });
  return lastAck;
}

it('leaves only valid JSON and keeps acknowledged writes after kill -9', async () => {
  const data = path.join(tmp, 'data');
  const kvDir = path.join(data, 'localhost', 'crash');
  for (const [round, extraMs] of [0, 3, 7, 13, 1].entries()) {
    const lastAck = await runAndKill(data, 5 + round, extraMs);
    expect(lastAck).toBeGreaterThanOrEqual(0);
    for (const sub of ['crash', 'crashmap']) {
      const d = path.join(data, 'localhost', sub);
      for (const f of await readdir(d)) {
        if (f.endsWith('.json')) JSON.parse(await readFile(path.join(d, f), 'utf8')); // throws if torn
        else if (sub === 'crashmap' && f.endsWith('.log')) continue; // a map's change log: a torn last line is cut off at the next append
        else expect(f).toMatch(/\.json\.[0-9a-f]{16}\.tmp$/);
      }
    }
    const kv = createFileBackend(data).keyval<{ n: number }>('localhost', 'crash');
    for (let u = 0; u < 4; u++) expect((await kv.get(`u${u}`))!.n).toBeGreaterThanOrEqual(lastAck);
    const m = await createFileBackend(data).map<{ n: number }>('localhost', 'crashmap').get('m', `k${lastAck % 50}`);
    expect(m!.n).toBeGreaterThanOrEqual(lastAck);
  }
  // Debris left by the kills is ignored by reads and removed once stale.
  const old = new Date(Date.now() - 2 * STALE_TMP_MS);
  for (const f of await readdir(kvDir)) if (f.endsWith('.tmp')) await utimes(path.join(kvDir, f), old, old);
  const b = createFileBackend(data);
  expect(await b.keyval('localhost', 'crash').users()).toEqual(['u0', 'u1', 'u2', 'u3']);
  await b.keyval('localhost', 'crash').set('u0', { n: -1 });
  await b.close();
  expect((await readdir(kvDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}, 30_000);

/** Run the archive writer until `minAcks` appends are acknowledged, wait `extraMs`, SIGKILL it; resolves the acks seen. */
async function runArchiveAndKill(data: string, round: number, minAcks: number, extraMs: number): Promise<Map<string, string>> {
  const acks = new Map<string, string>();
  await runUntilKilled('archive-crash-writer.mjs', [data, String(round)], extraMs, (line) => {
    const [, id, tag] = line.split(' ');
    acks.set(id!, tag!);
    return acks.size >= minAcks;
  });
  return acks;
}

it('keeps every acknowledged archive append after kill -9, and appends after repair', async () => {
  const data = path.join(tmp, 'archive-data');
  const acked = new Map<string, string>();
  for (const [round, extraMs] of [0, 2, 5, 11].entries()) {
    for (const [id, tag] of await runArchiveAndKill(data, round, 100 + 50 * round, extraMs)) acked.set(id, tag);
    const b = createFileBackend(data);
    const a = b.archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
    const all = [];
    for (let page = await a.query('alice'); ; page = await a.query('alice', { after: page.items[page.items.length - 1]!.id })) {
      all.push(...page.items);
      if (page.complete) break;
    }
    const byId = new Map(all.map((it) => [it.id, String(it.payload)]));
    for (const [id, tag] of acked) expect(byId.get(id)?.startsWith(`${tag}:`), id).toBe(true);
    // Order is append order: within a round the counter only grows.
    const counters = all.filter((it) => String(it.payload).startsWith(`r${round}-`)).map((it) => Number(/^r\d+-(\d+):/.exec(String(it.payload))![1]));
    expect(counters).toEqual([...counters].sort((x, y) => x - y));
    expect((await a.metadata('alice')).count).toBe(all.length);
    await b.close();
  }
}, 60_000);

it('keeps every acknowledged append of many owners appending at once after kill -9, each once', async () => {
  const data = path.join(tmp, 'archive-journal-data');
  const OWNERS = 60;
  const acked = new Map<string, Map<string, string>>(); // owner → id → tag
  for (const [round, extraMs] of [1, 7, 13].entries()) {
    let acks = 0;
    await runUntilKilled('archive-journal-writer.mjs', [data, String(round), String(OWNERS)], extraMs, (line) => {
      const [, owner, id, tag] = line.split(' ');
      if (!acked.has(owner!)) acked.set(owner!, new Map());
      acked.get(owner!)!.set(id!, tag!);
      return ++acks >= 400 + 300 * round;
    });
    const b = createFileBackend(data);
    const a = b.archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
    for (const [owner, ids] of acked) {
      const all = [];
      for (let page = await a.query(owner); ; page = await a.query(owner, { after: page.items[page.items.length - 1]!.id })) {
        all.push(...page.items);
        if (page.complete) break;
      }
      const tags = all.map((it) => String(it.payload).slice(0, String(it.payload).indexOf(':')));
      expect(new Set(tags).size, owner).toBe(tags.length); // each append once
      const byId = new Map(all.map((it, i) => [it.id, tags[i]]));
      for (const [id, tag] of ids) expect(byId.get(id), `${owner} ${id}`).toBe(tag);
    }
    await b.close();
  }
}, 60_000);

it('keeps appends acknowledged but not yet written to their segments at kill -9 (write-behind)', async () => {
  const data = path.join(tmp, 'archive-held-data');
  const OWNERS = 20;
  const PER_OWNER = 40;
  const acked = new Map<string, Map<string, string>>(); // owner → id → tag
  let segBytesAfterRound0 = 0;
  for (const round of [0, 1]) {
    let held = false;
    await runUntilKilled('archive-held-writer.mjs', [data, String(round), String(OWNERS), String(PER_OWNER)], 0, (line) => {
      if (line === 'held') return (held = true);
      const [, owner, id, tag] = line.split(' ');
      if (!acked.has(owner!)) acked.set(owner!, new Map());
      acked.get(owner!)!.set(id!, tag!);
      return false;
    });
    expect(held).toBe(true);
    // At the kill the segments held nothing of this round: its records were in the journal only.
    const store = path.join(data, 'localhost', 'archive');
    let segBytes = 0;
    for (let o = 0; o < OWNERS; o++) {
      const dir = path.join(store, `u${o}`);
      for (const f of await readdir(dir)) if (f.endsWith('.seg')) segBytes += (await stat(path.join(dir, f))).size;
    }
    expect(segBytes).toBe(round === 0 ? 0 : segBytesAfterRound0);
    const b = createFileBackend(data);
    const a = b.archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
    for (const [owner, ids] of acked) {
      const page = await a.query(owner, { limit: 1000 });
      expect(page.complete).toBe(true);
      const tags = page.items.map((it) => String(it.payload).slice(0, String(it.payload).indexOf(':')));
      expect(new Set(tags).size, owner).toBe(tags.length); // each append once
      expect(page.items.length).toBe((round + 1) * PER_OWNER);
      const byId = new Map(page.items.map((it, i) => [it.id, tags[i]]));
      for (const [id, tag] of ids) expect(byId.get(id), `${owner} ${id}`).toBe(tag);
    }
    await b.close();
    if (round === 0) {
      segBytesAfterRound0 = 0;
      for (let o = 0; o < OWNERS; o++) {
        const dir = path.join(store, `u${o}`);
        for (const f of await readdir(dir)) if (f.endsWith('.seg')) segBytesAfterRound0 += (await stat(path.join(dir, f))).size;
      }
      expect(segBytesAfterRound0).toBeGreaterThan(0); // the replay wrote them
    }
  }
}, 60_000);
