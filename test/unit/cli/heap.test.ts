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
