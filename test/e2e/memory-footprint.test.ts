// Issue 15: what a real child server keeps in memory and on disk for logins.
// - With gc_young_generation_max at its least (2 MiB), V8's young generation stays at its
//   initial 2 MiB (two 1 MiB semi-spaces) through a burst of logins: left to grow (Node's
//   default) it reaches 8 MiB while Clove's code loads and 32 MiB under load, which RSS per idle
//   session then carries. (test/unit/cli/heap.test.ts checks larger limits.)
// - An account made by `clove adduser --batch` holds SCRAM keys only: no bcrypt hash, whose
//   ~45 ms of CPU per account made batch creation 10x slower.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire } from '../helpers/wire.js';

const USERS = 20;
const LOGINS = 60;
const PASS = 'footprint-pass';
let srv: ChildServer;
let statsDir: string;

interface Stats {
  youngGenerationKiB: number;
  sessions: number;
}

beforeAll(async () => {
  statsDir = await mkdtemp(join(tmpdir(), 'clove-stats-'));
  // The child inherits this: it then writes its own stats (JSON) once a second.
  process.env.CLOVE_STATS_FILE = join(statsDir, 'stats.json');
  srv = await startChild({ extra: 'gc_young_generation_max = 2 * 1024 * 1024' });
  delete process.env.CLOVE_STATS_FILE;
  await addUsers(srv.configPath, Array.from({ length: USERS }, (_, i): [string, string] => [`fp${i}@localhost`, PASS]));
}, 60_000);
afterAll(async () => {
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
  await rm(statsDir, { recursive: true, force: true });
});

/** The next stats the child writes once `test` passes (it rewrites the file every second). */
async function statsWhen(test: (s: Stats) => boolean, timeoutMs = 15_000): Promise<Stats> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = JSON.parse(await readFile(join(statsDir, 'stats.json'), 'utf8')) as Stats;
      if (test(s) || Date.now() > until) return s;
    } catch {
      if (Date.now() > until) throw new Error('the child wrote no stats file');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('memory footprint', () => {
  it('keeps V8 young generation at 2 MiB through a burst of logins when gc_young_generation_max says so', async () => {
    const held: Wire[] = [];
    for (let i = 0; i < LOGINS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, (_, j) => Wire.login({ port: srv.port, username: `fp${(i + j) % USERS}`, password: PASS, resource: `r${i + j}`, timeoutMs: 20_000 })),
      );
      held.push(...batch);
    }
    const s = await statsWhen((x) => x.sessions >= LOGINS);
    expect(s.sessions).toBeGreaterThanOrEqual(LOGINS);
    expect(s.youngGenerationKiB).toBeGreaterThan(0);
    expect(s.youngGenerationKiB).toBeLessThanOrEqual(2048);
    await Promise.all(held.map((w) => w.close()));
  }, 60_000);

  it('stores SCRAM keys and no bcrypt hash for accounts made by adduser --batch', async () => {
    const rec = JSON.parse(await readFile(join(srv.dataPath, 'localhost', 'accounts', 'fp0.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(rec)).not.toContain(PASS);
    expect(rec).toHaveProperty('scram.sha1.storedKey');
    expect(rec).toHaveProperty('scram.sha256.storedKey');
    expect(rec).not.toHaveProperty('bcrypt');
  });
});
