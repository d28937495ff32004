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
//
// Once grown, new space shrinks only at a garbage collection that finds allocation slow (under
// ~1 MB/s over the last 5 s), and an idle server allocates too little to have one: V8's own
// memory reducer gets to it ~40 s after a login storm. releaseYoungGenerationWhenQuiet runs that
// collection itself, a few seconds after allocation stops.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

function newSpace(): { size: number; used: number } {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return { size: s?.space_size ?? 0, used: s?.space_used_size ?? 0 };
}

/** Bytes V8's new space holds now (both semi-spaces, as v8.getHeapSpaceStatistics reports them). */
export function youngGenerationBytes(): number {
  return newSpace().size;
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

/**
 * V8 shrinks new space at a collection only when allocation since the collections of the last
 * 5 s ran below 1,000 bytes per millisecond (Heap::ReduceNewSpaceSize, GCTracer's throughput
 * window). A collection sooner after the previous one still sees the burst and keeps the space.
 */
const V8_SHRINK_BELOW_BYTES_PER_MS = 1000;
const V8_THROUGHPUT_WINDOW_MS = 5000;
/** How long allocation must stay quiet after a collection before the one that shrinks. */
export const QUIET_BEFORE_RELEASE_MS = V8_THROUGHPUT_WINDOW_MS + 250;
/** Allocation below V8's threshold for this long counts as quiet. */
const QUIET_SAMPLE_MS = 500;
const CHECK_EVERY_MS = 250;
/** New space at or below this is not worth a collection (gc_young_generation_max is at least this). */
const SHRUNK_MAX_BYTES = 2 * 1024 * 1024;

/**
 * A function running one minor (young-generation) collection. V8 exposes one only to contexts
 * created after `--expose-gc` is set; the server's own context gets no `gc` global.
 */
function minorCollection(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;
  return () => gc({ type: 'minor' });
}

/**
 * Option `gc_release_when_idle`: gives a grown new space back once allocation has gone quiet.
 *
 * Checked four times a second while new space is larger than 2 MiB (or than V8 last shrank it
 * to), and not at all otherwise:
 * - allocation quiet for QUIET_BEFORE_RELEASE_MS since the last collection: one minor collection,
 *   at which V8 shrinks new space to its start size and unmaps the rest;
 * - allocation quiet for the last half second, but not since the last collection (it ran while the
 *   burst went on): one minor collection now, so that the quiet period starts clean and the one
 *   above follows ~5 s later. At most one of these per QUIET_BEFORE_RELEASE_MS.
 * While the server is busy its own collections come first and neither happens. A minor collection
 * of an idle heap takes a few milliseconds. Returns a function that stops watching.
 */
export function releaseYoungGenerationWhenQuiet(collectWith?: () => void): () => void {
  // Made at the first collection, not at start: a new vm context costs memory and a collection.
  let made: (() => void) | undefined = collectWith;
  const collect = (): void => (made ??= minorCollection())();
  // What V8 shrinks new space to (twice what survives, at least its start size): 1–2 MiB on an
  // idle server. New space may already be larger when watching starts (start-up can grow it).
  const shrunkBytes = Math.min(youngGenerationBytes(), SHRUNK_MAX_BYTES);
  let collectedAt = 0;
  let usedAfterCollection = 0;
  let sampleAt = 0;
  let usedAtSample = 0;
  let closedAt = -Infinity;
  const collected = (): void => {
    collectedAt = sampleAt = performance.now();
    usedAfterCollection = usedAtSample = newSpace().used;
  };
  const quiet = (bytes: number, ms: number): boolean => bytes / ms < V8_SHRINK_BELOW_BYTES_PER_MS;
  // Once V8 has given the space back, a second collection would give no more until it grows again.
  let floor = shrunkBytes;
  // Checked only while new space is above that: an idle server with its young generation given
  // back has no timer waking it.
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const { size, used } = newSpace();
    if (size <= floor) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    const now = performance.now();
    const sinceCollection = now - collectedAt;
    if (sinceCollection >= QUIET_BEFORE_RELEASE_MS && quiet(used - usedAfterCollection, sinceCollection)) {
      collect();
      collected();
      const after = youngGenerationBytes();
      if (after < size) floor = Math.max(shrunkBytes, after);
      return;
    }
    if (now - sampleAt < QUIET_SAMPLE_MS) return;
    const settled = quiet(used - usedAtSample, now - sampleAt);
    sampleAt = now;
    usedAtSample = used;
    if (settled && !quiet(used - usedAfterCollection, sinceCollection) && now - closedAt >= QUIET_BEFORE_RELEASE_MS) {
      closedAt = now;
      collect();
      collected();
    }
  };
  const watch = (): void => {
    if (timer !== undefined || youngGenerationBytes() <= floor) return;
    timer = setInterval(check, CHECK_EVERY_MS);
    timer.unref();
  };
  collected();
  // Collections before watching started are unknown: when new space is grown already, close the
  // burst first (as below), so V8's window starts clean before the collection that shrinks.
  usedAfterCollection = Number.NEGATIVE_INFINITY;
  watch();
  // New space grows only at a collection, so that is where watching starts again.
  const observer = new PerformanceObserver(() => {
    collected();
    watch();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    clearInterval(timer);
    observer.disconnect();
  };
}
