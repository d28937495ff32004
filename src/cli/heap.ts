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
// watcher below sets it so that V8's next growth lands on the limit (or stays put at it). The
// watcher runs after the collection, not inside it: a burst that grows new space twice between
// two event-loop turns can overshoot the limit (V8's own maximum, 32 MiB, still holds).
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Bytes V8's new space holds now (both semi-spaces, as v8.getHeapSpaceStatistics reports them). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Let V8's new space grow, in one step, up to `maxBytes` (option `gc_young_generation_max`)
 * and no further. Returns a function that stops watching (the growth factor then stays where it is).
 */
export function limitYoungGeneration(maxBytes: number): () => void {
  let factor = 0;
  const decide = (): void => {
    // Straight to the limit at V8's next growth, not by doublings: the first burst of load grows
    // it to what later bursts would, so what a server holds after its first minutes (and a
    // measurement of memory per session taken after a warm-up) no longer depends on how many
    // bursts it has seen. V8 still gives the space back when the server goes idle.
    const want = Math.max(1, Math.floor(maxBytes / Math.max(1, youngGenerationBytes())));
    if (want === factor) return;
    factor = want;
    setFlagsFromString(`--semi-space-growth-factor=${want}`);
  };
  decide();
  const observer = new PerformanceObserver(decide);
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
