// gc_young_generation_max: V8's new space doubles under load up to the limit and stops there
// (one doubling over it is possible in a burst, as src/cli/heap.ts says). Runs in a child Node
// process: V8's flags are the whole process's, and the test runner's own heap must not change.
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const HEAP_JS = pathToFileURL(fileURLToPath(new URL('../../../dist/cli/heap.js', import.meta.url))).href;
const MiB = 1024 * 1024;

/** Largest new space seen while a child allocates 3 million short-lived objects under `limit`. */
async function youngGenerationUnderLoad(limit: number): Promise<{ max: number; start: number }> {
  const script = `
    import { setFlagsFromString } from 'node:v8';
    setFlagsFromString('--semi-space-growth-factor=1'); // as bin/clove.js does before loading
    const { limitYoungGeneration, youngGenerationBytes } = await import(${JSON.stringify(HEAP_JS)});
    const start = youngGenerationBytes();
    const stop = limitYoungGeneration(${limit});
    let kept = [], n = 0, max = 0;
    const chunk = () => {
      for (let j = 0; j < 200; j++, n++) { kept.push({ n, s: 'x' + n }); if (kept.length > 50000) kept = []; }
      max = Math.max(max, youngGenerationBytes());
      if (n < 3000000) setImmediate(chunk); else { stop(); console.log(JSON.stringify({ max, start })); }
    };
    chunk();`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
  return JSON.parse(stdout) as { max: number; start: number };
}

describe('limitYoungGeneration', () => {
  it('lets new space grow to a 4 MiB limit and stops it there', async () => {
    const { max, start } = await youngGenerationUnderLoad(4 * MiB);
    expect(start).toBeLessThan(4 * MiB);
    expect(max).toBeGreaterThanOrEqual(4 * MiB);
    expect(max).toBeLessThanOrEqual(8 * MiB);
  }, 60_000);

  it('stops at 8 MiB where V8 alone would go on to 32 MiB', async () => {
    const { max } = await youngGenerationUnderLoad(8 * MiB);
    expect(max).toBeGreaterThanOrEqual(8 * MiB);
    expect(max).toBeLessThanOrEqual(16 * MiB);
    const free = await youngGenerationUnderLoad(32 * MiB);
    expect(free.max).toBeGreaterThan(16 * MiB);
  }, 90_000);
});

/**
 * A child grows new space to 16 MiB with a burst of short-lived objects, then goes idle: how long
 * until new space is back at 2 MiB or less (null: not within `waitMs`), and how many collections
 * releaseYoungGenerationWhenQuiet ran (`release`: watch; `busy`: keep allocating ~4 MB/s instead).
 */
type AfterBurst = { grown: number; releasedAfterMs: number | null; forced: number; final: number; start: number; timers: number; started: number };
async function afterBurst(opts: { release: boolean; busy?: boolean; late?: boolean; waitMs: number }): Promise<AfterBurst> {
  const script = `
    import { setFlagsFromString } from 'node:v8';
    import { runInNewContext } from 'node:vm';
    setFlagsFromString('--semi-space-growth-factor=1');
    // Timers the watcher has running (it should have none once new space is back).
    const live = new Set(), setI = globalThis.setInterval, clearI = globalThis.clearInterval;
    let started = 0;
    globalThis.setInterval = (...a) => { const t = setI(...a); live.add(t); started++; return t; };
    globalThis.clearInterval = (t) => { live.delete(t); clearI(t); };
    const { limitYoungGeneration, releaseYoungGenerationWhenQuiet, youngGenerationBytes } = await import(${JSON.stringify(HEAP_JS)});
    const start = youngGenerationBytes();
    limitYoungGeneration(${16 * MiB});
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc');
    let forced = 0;
    if (${opts.release} && !${opts.late === true}) releaseYoungGenerationWhenQuiet(() => { forced++; gc({ type: 'minor' }); });
    let kept = [], n = 0;
    const burst = () => { for (let j = 0; j < 20000; j++, n++) { kept.push({ n, s: 'x' + n }); if (kept.length > 50000) kept = []; } };
    while (youngGenerationBytes() < ${16 * MiB}) { burst(); await new Promise((r) => setImmediate(r)); }
    // late: watching starts with new space grown already, with V8's own minor collection.
    if (${opts.late === true}) releaseYoungGenerationWhenQuiet();
    const grown = youngGenerationBytes();
    kept = [];
    const t0 = performance.now();
    let releasedAfterMs = null;
    const busy = ${opts.busy === true} ? setInterval(() => { for (let j = 0; j < 4000; j++) kept[j] = { j, s: 'y' + j + n }; }, 10) : null;
    while (performance.now() - t0 < ${opts.waitMs}) {
      await new Promise((r) => setTimeout(r, 100));
      if (releasedAfterMs === null && youngGenerationBytes() <= ${2 * MiB}) releasedAfterMs = performance.now() - t0;
    }
    if (busy) clearInterval(busy);
    if (busy) live.delete(busy);
    console.log(JSON.stringify({ grown, releasedAfterMs, forced, final: youngGenerationBytes(), start, timers: live.size, started }));
    process.exit(0);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
  return JSON.parse(stdout) as AfterBurst;
}

describe('releaseYoungGenerationWhenQuiet', () => {
  // V8's own memory reducer shrinks it too, 8 s after its last major collection: the test
  // watches for 7 s.
  it('gives a grown new space back ~6 s after allocation stops, where V8 alone keeps it', async () => {
    const [watched, alone] = await Promise.all([afterBurst({ release: true, waitMs: 7000 }), afterBurst({ release: false, waitMs: 7000 })]);
    expect(watched.grown).toBeGreaterThanOrEqual(16 * MiB);
    expect(watched.releasedAfterMs).not.toBeNull();
    expect(watched.releasedAfterMs!).toBeGreaterThan(5000);
    expect(watched.final).toBeLessThanOrEqual(2 * MiB);
    expect(watched.forced).toBeGreaterThanOrEqual(1);
    expect(watched.forced).toBeLessThanOrEqual(2);
    // It watched while new space was grown, and stopped once it was back: nothing wakes an idle server.
    expect(watched.started).toBeGreaterThanOrEqual(1);
    expect(watched.timers).toBe(0);
    expect(alone.grown).toBeGreaterThanOrEqual(16 * MiB);
    expect(alone.releasedAfterMs).toBeNull();
    expect(alone.forced).toBe(0);
    expect(alone.final).toBeGreaterThanOrEqual(16 * MiB);
  }, 60_000);

  it('gives new space back when it was grown already as watching started (the collector made on first use)', async () => {
    const late = await afterBurst({ release: true, late: true, waitMs: 7000 });
    expect(late.grown).toBeGreaterThanOrEqual(16 * MiB);
    expect(late.releasedAfterMs).not.toBeNull();
    expect(late.final).toBeLessThanOrEqual(2 * MiB);
  }, 60_000);

  it('runs no collection of its own while the process keeps allocating', async () => {
    const busy = await afterBurst({ release: true, busy: true, waitMs: 9000 });
    expect(busy.grown).toBeGreaterThanOrEqual(16 * MiB);
    expect(busy.forced).toBe(0);
    expect(busy.final).toBeGreaterThanOrEqual(16 * MiB);
  }, 60_000);
});
