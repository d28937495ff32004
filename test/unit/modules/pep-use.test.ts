// The per-user task runner that bookmarks and vcard_legacy queue their PEP work on: in order per
// user, and bounded in count and bytes per user and overall, refusing (never running) what does
// not fit, and taking new work again once the queue drains.
import { describe, it, expect } from 'vitest';
import { StanzaError } from '../../../src/core/errors.js';
import { DEFAULT_TASK_LIMITS, perUser, TASK_OVERHEAD_BYTES } from '../../../src/modules/pep-use.js';

/** A gate the queued tasks wait on, so the queue fills as a flood would fill it. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const p = new Promise<void>((r) => { open = r; });
  return { wait: () => p, open };
}

/** Queue `n` tasks for `user`, each holding `bytes`; how many were refused with resource-constraint, and which ran. */
async function flood(run: ReturnType<typeof perUser>, user: string, n: number, bytes: number, held: Promise<void>): Promise<{ refused: number; ran: number[]; done: Promise<unknown> }> {
  const ran: number[] = [];
  let refused = 0;
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    all.push(run(user, async () => { await held; ran.push(i); }, bytes).catch((err: unknown) => {
      if (err instanceof StanzaError && err.condition === 'resource-constraint') refused += 1;
      else throw err;
    }));
  }
  await Promise.resolve();
  return { get refused() { return refused; }, ran, done: Promise.all(all) };
}

describe('the per-user PEP task runner', () => {
  it('refuses a flood past the per-user count, runs the rest in order, and takes work again after', async () => {
    const run = perUser();
    const g = gate();
    const f = await flood(run, 'alice', 1000, 0, g.wait());
    expect(f.refused).toBe(1000 - DEFAULT_TASK_LIMITS.perUserTasks);
    // Another user is not held up by alice's flood.
    expect(await run('bob', async () => 'bob ran')).toBe('bob ran');
    g.open();
    await f.done;
    expect(f.ran).toEqual([...Array(DEFAULT_TASK_LIMITS.perUserTasks).keys()]);
    expect(await run('alice', async () => 'again')).toBe('again');
  });

  it('bounds the bytes one user has waiting', async () => {
    const run = perUser();
    const g = gate();
    const vcard = 300 * 1024; // what a vcard_legacy task holds: the vCard it converts
    const f = await flood(run, 'alice', 10, vcard, g.wait());
    const fits = Math.floor(DEFAULT_TASK_LIMITS.perUserBytes / (vcard + TASK_OVERHEAD_BYTES));
    expect(f.refused).toBe(10 - fits);
    g.open();
    await f.done;
    expect(f.ran).toHaveLength(fits);
  });

  it('bounds tasks and bytes over all users', async () => {
    const limits = { perUserTasks: 16, perUserBytes: 1 << 20, totalTasks: 100, totalBytes: 200 * 1024 };
    const run = perUser(limits);
    const g = gate();
    let refused = 0;
    const floods = [];
    for (let u = 0; u < 20; u++) floods.push(await flood(run, `u${u}`, 10, 0, g.wait()));
    refused = floods.reduce((s, f) => s + f.refused, 0);
    expect(200 - refused).toBe(limits.totalTasks);
    g.open();
    await Promise.all(floods.map((f) => f.done));
    const g2 = gate();
    const big = await flood(run, 'big', 16, 20 * 1024, g2.wait());
    expect(big.refused).toBe(16 - Math.floor(limits.totalBytes / (20 * 1024 + TASK_OVERHEAD_BYTES)));
    g2.open();
    await big.done;
  });
});
