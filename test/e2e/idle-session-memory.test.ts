// Issue 15: what an idle authenticated TLS session costs the server, measured in the server
// process: JavaScript heap per session from two heap snapshots of the child (taken with
// --heapsnapshot-signal; a snapshot collects garbage first, so it counts what stays), and RSS
// per session. Each session logs in over STARTTLS, binds, sends initial presence and answers a
// ping, as the bench's idle sessions do. The young generation is held at 2 MiB, so its growth
// under the logins does not count as session memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, ping } from '../helpers/wire.js';

const SESSIONS = 300;
/** Sessions open before the first snapshot: code paths warm, pools and caches in place. */
const BASE = 20;
const PASS = 'idle-memory-pass';
/**
 * JavaScript heap per idle session, bytes, with the default modules and info logging: 12.4 KB
 * before issue 15's work (four stream objects per TLS connection, closures per stream, the
 * parser's whole root, an empty roster and a Map per account...), 6.6 KB after; 5.6 KB once the
 * TLS socket's listener table is compact, no child logger is kept per session, the parser's
 * stack is re-made between stanzas and the stored presence is a copy with exact-size arrays.
 */
const HEAP_PER_SESSION = 6_400;
/** RSS per idle session, KiB, in this shape (300 sessions on a barely warm server): 50.6 before, 39 after. */
const RSS_PER_SESSION_KIB = 46;

let srv: ChildServer;
let snapDir: string;

beforeAll(async () => {
  snapDir = await mkdtemp(join(tmpdir(), 'clove-snap-'));
  srv = await startChild({
    extra: 'gc_young_generation_max = 2 * 1024 * 1024',
    env: { ...process.env, NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapDir}` },
  });
  await addUsers(srv.configPath, Array.from({ length: SESSIONS + BASE }, (_, i): [string, string] => [`idle${i}@localhost`, PASS]));
}, 60_000);
afterAll(async () => {
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
  await rm(snapDir, { recursive: true, force: true });
});

/** Log accounts [from, to) in, 25 at a time; each sends initial presence and answers a ping. */
async function openSessions(from: number, to: number): Promise<Wire[]> {
  const out: Wire[] = [];
  for (let i = from; i < to; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, to - i) }, async (_, j) => {
        const w = await Wire.login({ port: srv.port, username: `idle${i + j}`, password: PASS, resource: 'r', timeoutMs: 30_000 });
        w.send('<presence/>');
        await ping(w, 30_000);
        return w;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/** Bytes of everything in a heap snapshot but compiled code (which JIT timing moves). */
function heapBytes(snapshot: string): number {
  const s = JSON.parse(snapshot) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[] };
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const sizeAt = fields.indexOf('self_size');
  const code = s.snapshot.meta.node_types[0].indexOf('code');
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) if (s.nodes[i + typeAt] !== code) total += s.nodes[i + sizeAt] as number;
  return total;
}

/** Ask the child for a heap snapshot; resolves with its total once written (a ping through `probe` answers only after). */
async function snapshot(probe: Wire): Promise<number> {
  const before = new Set(await readdir(snapDir));
  process.kill(srv.pid, 'SIGUSR2');
  const until = Date.now() + 30_000;
  let file: string | undefined;
  while (!file) {
    if (Date.now() > until) throw new Error('the child wrote no heap snapshot');
    await new Promise((r) => setTimeout(r, 100));
    file = (await readdir(snapDir)).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
  }
  // The child writes the snapshot on its main thread: once it answers, the file is complete.
  await ping(probe, 30_000);
  const path = join(snapDir, file);
  expect((await stat(path)).size).toBeGreaterThan(0);
  const bytes = heapBytes(await readFile(path, 'utf8'));
  await rm(path);
  return bytes;
}

describe('idle authenticated TLS sessions', () => {
  it(`cost the server under ${HEAP_PER_SESSION} bytes of heap and ${RSS_PER_SESSION_KIB} KiB of RSS each (${SESSIONS} sessions)`, async () => {
    const base = await openSessions(SESSIONS, SESSIONS + BASE);
    const probe = base[0] as Wire;
    await new Promise((r) => setTimeout(r, 1000));
    // RSS first: writing a heap snapshot leaves the child tens of MiB larger.
    const rssBefore = await srv.rss();
    const idle = await openSessions(0, SESSIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const rssAfter = await srv.rss();
    const heapWith = await snapshot(probe);
    // Still alive and answering after the snapshot: idle sessions work.
    await ping(idle[SESSIONS - 1] as Wire, 30_000);
    await Promise.all(idle.map((w) => w.close()));
    // A closed stream is let go once its close grace (5 s) is over.
    await new Promise((r) => setTimeout(r, 6500));
    const heapWithout = await snapshot(probe);
    await Promise.all(base.map((w) => w.close()));
    const heapPer = (heapWith - heapWithout) / SESSIONS;
    const rssPerKiB = (rssAfter - rssBefore) / 1024 / SESSIONS;
    expect(heapPer, `heap per session ${heapPer.toFixed(0)} B, RSS per session ${rssPerKiB.toFixed(1)} KiB`).toBeLessThan(HEAP_PER_SESSION);
    expect(rssPerKiB, `RSS per session ${rssPerKiB.toFixed(1)} KiB, heap per session ${heapPer.toFixed(0)} B`).toBeLessThan(RSS_PER_SESSION_KIB);
  }, 150_000);
});
