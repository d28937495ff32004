// V8 heap settings of the server process.
//
// Why: V8 grows the young generation (new space) from 1 MiB to 16 MiB per semi-space as soon as
// allocation gets busy (loading Clove's code already takes it to 4 MiB, a login storm to 16), and
// keeps it: ~30 MiB of RSS on a server that then holds idle sessions, half of Prosody's whole
// footprint for 2,000 sessions. The growth factor is read each time new space would grow (not
// only when the heap is set up, unlike --max-semi-space-size), so bin/clove.js sets it to 1 before
// anything is loaded, and `clove start` puts V8's default back when the config asks for growth.
import { setFlagsFromString } from 'node:v8';

/** V8's own semi-space growth factor (its default for --semi-space-growth-factor). */
const V8_DEFAULT_GROWTH = 2;

/** Keep V8's new space at its initial size, or (`grow`: option `gc_grow_young_generation`) let it grow as V8 does by default. */
export function applyYoungGeneration(grow: boolean): void {
  setFlagsFromString(`--semi-space-growth-factor=${grow ? V8_DEFAULT_GROWTH : 1}`);
}
