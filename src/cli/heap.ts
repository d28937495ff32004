// V8 heap settings of the server process: how large the young generation may grow.
//
// Why: V8 grows the young generation (new space, two semi-spaces) from 2 MiB to 32 MiB as soon
// as allocation gets busy (a login storm) and keeps it: ~30 MiB of RSS on a server that then holds
// idle sessions. Kept at 2 MiB, every minor GC is short but there are many of them, and logins and
// archived messages cost up to a third more CPU. `gc_young_generation_max` picks the size between.
//
// V8 fixes --max-semi-space-size when the heap is set up, before any JavaScript runs, so a size
// read from the config cannot go there. The growth factor is read each time new space would grow,
// so bin/clove.js sets it to 1 before anything loads, and after each garbage collection the
// watcher below lets new space double (factor 2) only while the doubled size stays within the
// limit. The watcher runs after the collection, not inside it: a burst that doubles new space
// twice between two event-loop turns can overshoot the limit by one doubling.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** V8's own semi-space growth factor (its default for --semi-space-growth-factor). */
const V8_DEFAULT_GROWTH = 2;

/** Bytes V8's new space holds now (both semi-spaces, as v8.getHeapSpaceStatistics reports them). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Let V8's new space grow, by doublings, up to `maxBytes` (option `gc_young_generation_max`)
 * and no further. Returns a function that stops watching (the growth factor then stays where it is).
 */
export function limitYoungGeneration(maxBytes: number): () => void {
  let factor = 0;
  const decide = (): void => {
    const want = youngGenerationBytes() * V8_DEFAULT_GROWTH <= maxBytes ? V8_DEFAULT_GROWTH : 1;
    if (want === factor) return;
    factor = want;
    setFlagsFromString(`--semi-space-growth-factor=${want}`);
  };
  decide();
  const observer = new PerformanceObserver(decide);
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
